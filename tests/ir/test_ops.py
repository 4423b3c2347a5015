"""The primitive set is written down once (ir/ops.py Op), every per-primitive table covers it, and every node is
checked against its primitive's shape rule where it is built (make) and by the validity pass (validate)."""
import hashlib
import itertools

import numpy as np
import pytest

import chainrule as cr
from chainrule.calculus.rules import VJP
from chainrule.codegen.emit import EMIT, NAMED_AFTER, NUMBERED
from chainrule.errors import InternalError
from chainrule.ir import Node, Op, checking, make, topological, validate
from chainrule.ir.linalg import det_derivative
from chainrule.ir.ops import LEAVES, PARAMS, ContractParams, VarParams
from chainrule.ir.shapes import SHAPE_RULES
from chainrule.notation.from_ir import _CONVERT
from chainrule.numeric import diagnose
from chainrule.numeric.evaluate import STEPS
from chainrule.simplify import build as b
from chainrule.simplify.substitute import REBUILD

# Every table keyed by primitive, and the members it leaves out on purpose (with the reason).
TABLES = [
    ("ir/ops.py PARAMS", PARAMS, frozenset()),
    ("ir/shapes.py SHAPE_RULES", SHAPE_RULES, frozenset()),
    ("numeric/evaluate.py STEPS", STEPS, frozenset()),
    ("notation/from_ir.py _CONVERT", _CONVERT, frozenset()),
    ("calculus/rules.py VJP", VJP, LEAVES),                 # a leaf has no operand to pass a cotangent to
    ("simplify/substitute.py REBUILD", REBUILD, LEAVES),    # a leaf has no operands to replace
    ("numeric/diagnose.py _REASONS", diagnose._REASONS, diagnose.REASONLESS),   # "<op> gave NaN" serves them
    ("codegen/emit.py EMIT", EMIT, frozenset()),
    ("codegen/emit.py NAMED_AFTER", NAMED_AFTER, NUMBERED),     # their temporaries are numbered (t0, t1, ...)
]


@pytest.mark.parametrize("name, table, exempt", TABLES, ids=[t[0] for t in TABLES])
def test_every_primitive_has_an_entry_in_every_table(name, table, exempt):
    not_ops = [k for k in table if type(k) is not Op]
    assert not not_ops, f"{name} is keyed by {not_ops}, not by Op members"
    missing = sorted(set(Op) - exempt - set(table))
    assert not missing, f"{name} has no entry for {', '.join(f'Op.{op.name}' for op in missing)}"
    listed_anyway = sorted(exempt & set(table))
    assert not listed_anyway, f"{name} has entries for {listed_anyway}, which it lists as exempt"


def test_op_is_a_string_enum_that_prints_and_hashes_as_its_value():
    assert Op("contract") is Op.CONTRACT and Op.CONTRACT == "contract"
    assert f"{Op.LOGDET}" == str(Op.LOGDET) == "logdet"
    assert {Op.ADD: 1}["add"] == 1 and "add" in set(Op)


def test_nodes_carry_op_members_and_named_parameters():
    x, big_a = b.var("x", ("n",)), b.var("A", ("n", "n"), symmetric=True)
    f = cr.parse("x'*A*x", x=("n",), A=("n", "n")).node
    assert f.op is Op.CONTRACT and isinstance(f.params, ContractParams)
    assert big_a.params == VarParams("A", True) and big_a.params.symmetric
    assert b.apply("exp", x).params.fn == "exp" and b.cofactor(big_a, 2).params.order == 2
    assert b.const(2.0).params.value == 2.0 and b.basis(1, 3).params.k == 1
    assert all(type(n.op) is Op for n in topological([cr.derivative("sum(exp(A*x))", "x").node]))


def test_no_parameter_name_hides_a_tuple_method():
    # a field called index or count would be silently shadowed by tuple's method of that name
    for kind in filter(None, PARAMS.values()):
        assert not set(kind._fields) & set(dir(tuple)), kind


def test_a_plain_string_and_tuple_make_the_same_interned_node():
    x = b.var("x", ("n",))
    assert make("map", (x,), ("exp",), ("n",)) is b.apply("exp", x)


def test_the_digest_is_that_of_the_plain_fields():
    # the canonical order of operands follows digests: they must not depend on Op's or the NamedTuples' repr
    x = b.var("x", ("n",))
    expected = hashlib.blake2b(repr(("var", ("x", False), ("n",))).encode(), digest_size=8).digest()
    assert x.digest == expected
    e = hashlib.blake2b(repr(("map", ("exp",), ("n",))).encode(), digest_size=8)
    e.update(expected)
    assert b.apply("exp", x).digest == e.digest()


def _var(name, *shape):
    return b.var(name, shape)


x, y, A, R = _var("x", "n"), _var("y", "m"), _var("A", "n", "n"), _var("R", "m", "n")

# (primitive, operands, params, shape): nodes that break their primitive's rule
MALFORMED = [
    ("det", (R,), (), ()),
    ("logdet", (x,), (), ()),
    ("inv", (R,), (), ("m", "n")),
    ("inv", (A,), (), ()),
    ("cofactor", (A,), (2,), ("n", "n")),
    ("cofactor", (R,), (1,), ("m", "n")),
    ("cofactor", (A,), (0,), ()),
    ("logsumexp", (x,), ((0,),), ("n",)),
    ("logsumexp", (A,), ((1,),), ()),
    ("amax", (A,), ((1, 0),), ("n",)),                               # axes unsorted
    ("amax", (x,), ((1,),), ()),                                     # no axis 1
    ("norm2", (A,), (), ("n",)),
    ("unit", (x,), (), ()),
    ("map", (x,), ("cosh",), ("n",)),
    ("map", (x, x), ("exp",), ("n",)),
    ("map", (x,), ("exp",), ()),
    ("add", (x, y), (), ("n",)),
    ("add", (x,), (), ("n",)),
    ("add", (x, b.const(1.0)), (), ()),
    ("pow", (x, y), (), ("n",)),
    ("max", (x,), (), ("n",)),
    ("min", (x, x, x), (), ("n",)),
    ("contract", (A, x), (((0, 1), (1,)), (0,)), ("m",)),            # label 0 is n in A
    ("contract", (A, y), (((0, 1), (1,)), (0,)), ("n",)),            # label 1 is n in A, m in y
    ("contract", (A,), (((0,),), (0,)), ("n",)),                     # one label for a matrix
    ("contract", (A, x), (((0, 1),), (0,)), ("n",)),                 # one index list for two operands
    ("contract", (x,), (((0,),), (0, 1)), ("n",)),                   # two output labels, rank 1
    ("contract", (x,), ((("i",),), ("i",)), ("n",)),                 # labels are integers
    ("delta", (), (), ("n", "m")),
    ("delta", (), (), ("n",)),
    ("basis", (), (3,), (3,)),
    ("basis", (), (-1,), ("n",)),
    ("var", (), ("S", True), ("n",)),
    ("var", (), ("S", True), ("n", "m")),
    ("const", (), ("one",), ()),
    ("const", (x,), (1.0,), ("n",)),
]
# controls: the rules do not over-reject
WELL_FORMED = [
    ("contract", (R, x), (((0, 1), (1,)), (0,)), ("m",)),            # R*x
    ("contract", (x,), (((0,),), (0, 0)), ("n", "n")),               # diag(x): a repeated output label
    ("contract", (b.const(2.0),), (((),), (0,)), ("k",)),            # a scalar broadcast over a new label
    ("add", (x, b.const(1.0)), (), ("n",)),
    ("cofactor", (A,), (2,), ("n", "n", "n", "n")),
]


@pytest.mark.parametrize("op, args, params, shape", MALFORMED, ids=[f"{m[0]}-{k}" for k, m in enumerate(MALFORMED)])
def test_make_rejects_a_node_that_breaks_its_shape_rule(op, args, params, shape):
    with pytest.raises(InternalError, match=rf"malformed {op} node: .*shapes \[.*node shape"):
        make(op, args, params, shape)


@pytest.mark.parametrize("op, args, params, shape", WELL_FORMED, ids=[w[0] for w in WELL_FORMED])
def test_make_accepts_a_well_formed_node(op, args, params, shape):
    assert make(op, args, params, shape).shape == shape


def test_make_names_an_unknown_primitive_and_wrong_parameters():
    with pytest.raises(InternalError, match="there is no primitive 'transpose'"):
        make("transpose", (A,), (), ("n", "n"))
    with pytest.raises(InternalError, match=r"parameters of var are VarParams\('name', 'symmetric'\)"):
        make("var", (), ("x",), ("n",))
    with pytest.raises(InternalError, match=r"the parameters of det are \(\), not \(1,\)"):
        make("det", (A,), (1,), ())


def _forged(op, args, params, shape):
    """A node built around make (as a buggy rewrite could), without its check."""
    node = object.__new__(Node)
    for name, value in {"op": op, "args": args, "params": params, "shape": shape, "digest": b"forged!!"}.items():
        object.__setattr__(node, name, value)
    return node


def test_validate_rejects_a_node_that_bypassed_make_anywhere_in_the_graph():
    bad = _forged(Op.DET, (R,), (), ())              # det of an m x n matrix
    inside = make(Op.MAP, (bad,), ("exp",), ())    # make checks only the new node, whose operand is a scalar
    outer = b.add(inside, b.const(1.0))
    with pytest.raises(InternalError, match=r"malformed det node: det needs a square matrix.*\('m', 'n'\)"):
        validate(outer)
    validate(b.det(A))


def test_validate_rejects_a_forged_unknown_primitive_and_plain_parameters():
    with pytest.raises(InternalError, match="there is no primitive 'svd'"):
        validate(_forged("svd", (A,), (), ()))
    with pytest.raises(InternalError, match=r"the parameters of cofactor are CofactorParams, not \(1,\)"):
        validate(_forged(Op.COFACTOR, (A,), (1,), ("n", "n")))


def test_in_checking_mode_every_expr_is_validated():
    bad = _forged(Op.INV, (R,), (), ("m", "n"))
    with pytest.raises(InternalError, match="malformed inv node"):
        cr.Expr(bad)
    with checking(False):
        assert cr.Expr(bad).shape == ("m", "n")


@pytest.mark.parametrize("text, wrt", [
    ("x'*A*x", "x"), ("logdet(A)+det(A)", "A"), ("sum(cofactor(A, 2))", "A"), ("norm2(A*x)+sum(unit(x))", "x"),
    ("logsumexp(A*x)", "x"), ("sum(max(x, 0).^2) + min(x'*x, 1)", "x"), ("[x'*x; sum(exp(x))]", "x"),
    ("sum(softmax(A*x + x', 2)) + max(A*x) - min(x) + max(A, [], 1)*x + sum(logsoftmax(A, 1)*x)", "x"),
])
def test_functions_and_their_derivatives_pass_the_validity_pass(text, wrt):
    f = cr.parse(text, x=("n",), A=("n", "n"))
    for e in (f, cr.derivative(f, wrt), cr.hessian(f, wrt)):
        validate(e.node)


def test_derivatives_of_det_are_symmetric_in_their_pairs_of_axes():
    # what simplify/contract.py relies on when it lists the pairs of cofactor(A, k) sorted: at a general and a
    # singular matrix, every permutation of the pairs leaves D^k det unchanged (and swapping within a pair does not)
    rng = np.random.default_rng(0)
    general = rng.standard_normal((4, 4))
    singular = general.copy()
    singular[3] = singular[0]
    for a in (general, singular):
        for k in (2, 3):
            tensor = det_derivative(a, k)
            for order in itertools.permutations(range(k)):
                axes = [axis for pair in order for axis in (2 * pair, 2 * pair + 1)]
                np.testing.assert_allclose(np.transpose(tensor, axes), tensor, atol=1e-12)
        assert not np.allclose(np.transpose(det_derivative(a, 2), (1, 0, 2, 3)), det_derivative(a, 2))
