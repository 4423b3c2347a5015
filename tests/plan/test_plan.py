"""The planner's rewrites checked against the unplanned form, at random sizes.

- Random generalized products (random labels, sizes, output order, repeated and broadcast output labels, Kronecker
  deltas, unit vectors, scalar constants, inverses, second derivatives of det, singular or not, often against a
  matrix): the planned execution (numeric's, and the generated NumPy text, which also solves inv(A)*b and takes
  cofactor(A, 2) against a matrix through the SVD) equals one plain dense einsum.
- Every product of the codegen corpus and of random expressions (tests/strategies.py), evaluated through its plan,
  equals the plain einsum of its operands' values.
- Distribution over sums (plan/rewrite.py) leaves every value of the corpus unchanged, at sizes where it applies.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from codegen.corpus import CORPUS, SECOND_ORDER
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from strategies import DECLARATIONS, expressions, random_values

import chainrule as cr
from chainrule.codegen.code import atom
from chainrule.codegen.contract import contract_code
from chainrule.codegen.targets import TARGETS, Writer
from chainrule.errors import InternalError
from chainrule.ir import Node, Op, make, topological
from chainrule.ir.linalg import det_derivative
from chainrule.ir.ops import ContractParams
from chainrule.numeric.bind import bind
from chainrule.numeric.evaluate import Plan
from chainrule.plan import distribute, product_flops
from chainrule.plan.contract import LETTERS, pairing
from chainrule.simplify import build as b

SETTINGS = {"deadline": None, "derandomize": True, "database": None, "max_examples": 300,
            "suppress_health_check": [HealthCheck.too_slow, HealthCheck.filter_too_much]}
DIMS = ("n", "m", "k")


# ---- the unplanned form: one dense einsum ----

def dense(node: Node, values: dict, sizes: dict) -> np.ndarray:
    """An operand's value as a full array: deltas as identities, unit vectors as rows of one."""
    if node.op is Op.DELTA:
        return np.eye(sizes.get(node.shape[0], node.shape[0]))
    if node.op is Op.BASIS:
        return np.eye(sizes.get(node.shape[0], node.shape[0]))[node.params.k]
    if node.op is Op.CONST:
        return np.full([sizes.get(d, d) for d in node.shape], node.params.value)
    if node.op is Op.CONTRACT and all(a.op is Op.CONST and not a.shape for a in node.args):
        # a number broadcast (vector(1, "m")): the plan takes it in as a coefficient, never reading it
        return np.full([sizes.get(d, d) for d in node.shape], math.prod(a.params.value for a in node.args))
    if node.op is Op.INV:
        return np.linalg.inv(values[node.args[0].params.name])
    if node.op is Op.COFACTOR:
        return det_derivative(values[node.args[0].params.name], node.params.order)
    return values[node.params.name]


def einsum_of(node: Node, operands: list[np.ndarray], sizes: dict) -> np.ndarray:
    """The product as one einsum over its operands, output labels that no operand carries multiplied in as ones, and
    repeated output labels placed on the diagonal of zeros."""
    specs, out = node.params.specs, node.params.out
    carried = {r for spec in specs for r in spec}
    dims = {r: sizes.get(d, d) for r, d in zip(out, node.shape, strict=True)}
    extra = [r for r in dict.fromkeys(out) if r not in carried]
    arrays = [*operands, *(np.ones(dims[r]) for r in extra)]
    all_specs = [*specs, *((r,) for r in extra)]
    unique = tuple(dict.fromkeys(out))
    letter = {r: LETTERS[k] for k, r in enumerate(dict.fromkeys(r for s in all_specs for r in s))}
    equation = ",".join("".join(letter[r] for r in s) for s in all_specs) + "->" + "".join(letter[r] for r in unique)
    value = np.einsum(equation, *arrays)
    if unique == out:
        return value
    full = np.zeros([dims[r] for r in out])
    grid = np.indices([dims[r] for r in unique]) if unique else np.zeros((0,), dtype=int)
    full[tuple(grid[unique.index(r)] for r in out)] = value
    return full


# ---- random products ----

def _second_det_derivative(draw, k: int, label_dim: list, labels_of: dict, args: list, specs: list,
                           kept: list) -> tuple:
    """D2det of a matrix on four labels of its own (appended to label_dim), often against a matrix on one pair (in
    either order; then D2det's spec is appended here and the matrix's returned) and with the other pair kept in the
    output (else it is summed first: against a matrix of ones). The planner takes both through the SVD instead of
    the n^4 entries."""
    d = draw(st.sampled_from(DIMS))
    spec = tuple(range(len(label_dim), len(label_dim) + 4))
    label_dim += [d] * 4
    labels_of[d] += spec
    args.append(b.cofactor(b.var(f"S{k}", (d, d)), 2))
    pair, rest = draw(st.sampled_from(((spec[:2], spec[2:]), (spec[2:], spec[:2]))))
    if draw(st.booleans()):
        specs.append(spec)
        args.append(b.var(f"E{k}", (d, d)))
        spec = draw(st.sampled_from((pair, pair[::-1])))
    if draw(st.booleans()):
        kept += rest
    return spec


@st.composite
def products(draw):
    """(a random contract node, its sizes, values of its variables)."""
    sizes = {d: draw(st.integers(1, 4)) for d in DIMS}
    n_labels = draw(st.integers(1, 5))
    label_dim = [draw(st.sampled_from(DIMS)) for _ in range(n_labels)]
    labels_of = {d: [r for r in range(n_labels) if label_dim[r] == d] for d in DIMS}
    args, specs, kept = [], [], []
    for k in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(("var", "var", "var", "delta", "basis", "scalar", "inv", "cofactor")))
        if kind == "cofactor":
            spec = _second_det_derivative(draw, k, label_dim, labels_of, args, specs, kept)
        elif kind == "var":
            spec = tuple(draw(st.lists(st.integers(0, n_labels - 1), max_size=3)))
            args.append(b.var(f"v{k}", tuple(label_dim[r] for r in spec)))
        elif kind == "scalar":
            spec = ()
            args.append(b.const(draw(st.sampled_from((2.0, -1.0, 0.5)))))
        else:
            r = draw(st.integers(0, n_labels - 1))
            d = label_dim[r]
            if kind == "basis":
                spec = (r,)
                args.append(b.basis(draw(st.integers(0, sizes[d] - 1)), d))
            else:
                spec = (r, draw(st.sampled_from(labels_of[d])))
                args.append(b.delta(d) if kind == "delta" else b.inv(b.var(f"M{k}", (d, d))))
        specs.append(spec)
    carried = sorted({r for s in specs for r in s})
    pool = carried + [len(label_dim)] * draw(st.integers(0, 1))      # a label no operand carries: broadcast
    label_dim.append(draw(st.sampled_from(DIMS)))
    out = tuple(draw(st.lists(st.sampled_from(pool), max_size=4))) if pool else ()
    out = out if draw(st.booleans()) else tuple(dict.fromkeys(out))                 # repeated labels: a diagonal
    out = tuple(kept) + out
    try:
        node = make(Op.CONTRACT, tuple(args), ContractParams(tuple(specs), out), tuple(label_dim[r] for r in out))
    except InternalError:
        assume(False)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    arrays = {}
    for arg in topological([node]):
        if arg.op is Op.VAR:
            shape = [sizes[d] for d in arg.shape]
            arrays[arg.params.name] = rng.standard_normal(shape) + (3 * np.eye(shape[0]) if arg.params.name[0] == "M"
                                                                    else 0)
            if arg.params.name[0] == "S" and shape[0] > 1 and rng.integers(2):     # singular: two equal rows
                arrays[arg.params.name][-1] = arrays[arg.params.name][0]
    return node, sizes, arrays


def _expected(node: Node, sizes: dict, arrays: dict) -> np.ndarray:
    return einsum_of(node, [dense(a, arrays, sizes) for a in node.args], sizes)


@settings(**SETTINGS)
@given(products())
def test_planned_evaluation_equals_the_plain_einsum(case):
    node, sizes, arrays = case
    expected = _expected(node, sizes, arrays)
    got = Plan(node, sizes).run(arrays)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)


def _generated_numpy(node: Node, sizes: dict, arrays: dict) -> np.ndarray:
    """The product's generated NumPy text (solve for inv(A)*b included), run."""
    namespace: dict = {"np": np, "size": sizes}
    for helper in ("_embed", "_cofactor_along"):
        exec(TARGETS["numpy"].helpers[helper], namespace)

    def ref(arg: Node):
        if arg.op is Op.VAR:
            namespace[arg.params.name] = arrays[arg.params.name]
            return atom(arg.params.name)
        # an inverse or D2det computed, where the planner did not solve with or go around it
        name = f"{arg.op.value}_{arg.args[0].params.name}"
        namespace[name] = dense(arg, arrays, sizes)
        return atom(name)
    writer = Writer(TARGETS["numpy"], dim=lambda d: repr(d) if isinstance(d, int) else f'size["{d}"]')
    code = contract_code(node, ref, writer, sizes)
    return np.asarray(eval(code.text, namespace), dtype=float)


@settings(**SETTINGS)
@given(products())
def test_generated_numpy_of_a_product_equals_the_plain_einsum(case):
    node, sizes, arrays = case
    expected = _expected(node, sizes, arrays)
    got = np.broadcast_to(_generated_numpy(node, sizes, arrays), expected.shape)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9)


def test_a_chain_is_multiplied_from_the_vector_side():
    A, B, x = b.var("A", ("n", "n")), b.var("B", ("n", "n")), b.var("x", ("n",))
    chain = make(Op.CONTRACT, (A, B, x), ContractParams(((0, 1), (1, 2), (2,)), (0,)), ("n",))
    assert pairing(chain, {"n": 100}) == (0, (1, 2))                 # A*(B*x): 2n^2 multiply-adds, not n^3 + n^2
    assert product_flops(chain, {"n": 100}) == 2 * 100**2
    # the other way round when the vector is on the left: (x'*A)*B
    left = make(Op.CONTRACT, (x, A, B), ContractParams(((0,), (0, 1), (1, 2)), (2,)), ("n",))
    assert pairing(left, {"n": 100}) == ((0, 1), 2)


# ---- every product of real expressions, against its operands' values ----

def _check_products(f: cr.Expr, values: dict) -> int:
    """Evaluate f through its plan, comparing every product step with the plain einsum of its operands."""
    sizes, arrays = bind(f.variables, values, set(f.variables))
    checked = []

    def visit(node, value, operands):
        if node.op is Op.CONTRACT:
            full = [dense(a, arrays, sizes) if v is None else v for a, v in zip(node.args, operands, strict=True)]
            np.testing.assert_allclose(value, einsum_of(node, full, sizes), rtol=1e-9, atol=1e-9,
                                       err_msg=str(node.params))
            checked.append(node)
    with np.errstate(all="ignore"):
        Plan(f.node, sizes).run(arrays, visit)
    return len(checked)


@pytest.mark.parametrize("row", CORPUS + SECOND_ORDER, ids=lambda row: f"{row[0]} by {','.join(row[1])}")
def test_every_product_of_the_corpus_equals_the_plain_einsum(row):
    text, wrt, decls = row
    f = cr.parse(text, **decls)
    rng = np.random.default_rng(len(text))
    sizes = {d: int(rng.integers(2, 6)) for info in f.variables.values() for d in info.shape if isinstance(d, str)}
    values = {}
    for name, info in f.variables.items():
        shape = [sizes.get(d, d) for d in info.shape]
        x = rng.uniform(0.5, 1.5, shape) + (3 * np.eye(shape[0]) if len(shape) == 2 and shape[0] == shape[1] else 0)
        values[name] = (x + x.T) / 2 if info.symmetric else x
    derivatives = [cr.derivative(f, w) for w in wrt]
    total = sum(_check_products(g, values) for g in [f, *derivatives])
    assert total > 0 or "contract" not in {n.op for g in derivatives for n in topological([g.node])}


@settings(deadline=None, derandomize=True, database=None, max_examples=60,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
@given(expressions(), st.integers(0, 2**32 - 1))
def test_every_product_of_random_expressions_equals_the_plain_einsum(e, seed):
    f = cr.parse(e.text, **DECLARATIONS)
    values = {name: value for name, value in random_values(seed).items() if name in f.variables}
    for g in [f, *(cr.derivative(f, name) for name in f.variables)]:
        _check_products(g, values)


# ---- distribution over sums ----

@pytest.mark.parametrize("row", CORPUS + SECOND_ORDER, ids=lambda row: f"{row[0]} by {','.join(row[1])}")
def test_distributed_derivatives_have_the_same_values(row):
    text, wrt, decls = row
    f = cr.parse(text, **decls)
    rng = np.random.default_rng(7)
    dims = sorted({d for info in f.variables.values() for d in info.shape if isinstance(d, str)})
    # thin factors (one small dimension) make distribution pay: the sizes the rewrite is chosen at
    plan_sizes = {d: (2 if k == len(dims) - 1 else 60) for k, d in enumerate(dims)}
    derivatives = [cr.derivative(f, w) for w in wrt]
    roots, applied = distribute([g.node for g in derivatives], plan_sizes)
    sizes = {d: int(rng.integers(2, 6)) for d in dims}
    values = {name: rng.uniform(0.5, 1.5, [sizes.get(d, d) for d in info.shape])
              + (3 * np.eye(sizes.get(info.shape[0], 0)) if len(info.shape) == 2 and info.shape[0] == info.shape[1]
                 else 0) for name, info in f.variables.items()}
    values = {n: (v + v.T) / 2 if f.variables[n].symmetric else v for n, v in values.items()}
    for g, root in zip(derivatives, roots, strict=True):
        rewritten = cr.Expr(root, g.orient, g.variables)
        np.testing.assert_allclose(rewritten.evaluate(values), g.evaluate(values), rtol=1e-9, atol=1e-9)
    if text == "norm2(T-U*V')^2" and wrt == ("U",):        # (by U and V, the sum is read twice: kept)
        assert applied                                 # the case the rewrite is for: (T-U*V')*V = T*V - U*(V'*V)
