"""Normalising constructors: the only way nodes are built outside `ir`.

Each constructor applies the local algebra of its primitive (constant folding, identities, flattening) so that
derivatives come out compact and evaluation never meets the forms removed here.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..ir import Dim, Node, Op, Shape, make
from ..ir.elementwise import ELEMENTWISE
from ..ir.ops import BasisParams, CofactorParams, ConstParams, MapParams, VarParams
from . import stable as stable_forms
from .constructors import Constructors
from .contract import normal_form

__all__ = [
    "add",
    "apply",
    "basis",
    "broadcast_to",
    "cofactor",
    "const",
    "contract",
    "delta",
    "det",
    "div",
    "identity",
    "inv",
    "is_const",
    "logdet",
    "logsumexp",
    "maximum",
    "minimum",
    "mul",
    "neg",
    "norm2",
    "power",
    "scale",
    "sub",
    "sum_all",
    "transpose",
    "unit",
    "var",
    "zeros",
]


def var(name: str, shape: Shape, symmetric: bool = False) -> Node:
    return make(Op.VAR, (), VarParams(name, symmetric), tuple(shape))


def const(value: float, shape: Shape = ()) -> Node:
    return make(Op.CONST, (), ConstParams(float(value)), tuple(shape))


def zeros(shape: Shape) -> Node:
    return const(0.0, shape)


def delta(dim: Dim) -> Node:
    """The identity matrix (Kronecker delta) of size dim."""
    return make(Op.DELTA, (), (), (dim, dim))


def contract(operands: Sequence[tuple[Node, tuple]], out: Sequence, dims: dict | None = None) -> Node:
    """The tensor sum_{labels not in out} prod_k operands[k][labels_k] (one einsum), in the normal form of
    simplify/contract.py. An output label that no operand carries broadcasts (its size must be in `dims`)."""
    return normal_form(operands, out, dims, CONSTRUCTORS)


def identity(shape: Shape) -> Node:
    """The identity map on tensors of this shape, as a tensor of shape shape + shape."""
    r = len(shape)
    if r == 0:
        return const(1.0)
    return contract([(delta(d), (k, k + r)) for k, d in enumerate(shape)], range(2 * r))


def basis(k: int, n: int) -> Node:
    """The k-th unit vector of length n (used to stack scalars into a column)."""
    return make(Op.BASIS, (), BasisParams(k), (n,))


def is_const(node: Node, value: float | None = None) -> bool:
    return node.op is Op.CONST and (value is None or node.params.value == value)


def _labels(node: Node) -> tuple[int, ...]:
    return tuple(range(node.rank))


def _elementwise_shape(*args: Node) -> Shape:
    shapes = {a.shape for a in args if a.shape != ()}
    if len(shapes) > 1:
        raise ValueError(f"element-wise operands of shapes {sorted(shapes, key=str)}")
    return shapes.pop() if shapes else ()


def broadcast_to(node: Node, shape: Shape) -> Node:
    """A scalar repeated over shape (a view, never materialised by the evaluator)."""
    if node.shape == tuple(shape):
        return node
    labels = tuple(range(len(shape)))
    return contract([(node, ())], labels, dict(zip(labels, shape, strict=True)))


def apply(fn: str, x: Node) -> Node:
    if fn == "log" and _is_sum_of_exp(x):
        return logsumexp(x.args[0].args[0])   # log(sum(exp(z))) = logsumexp(z), computed without overflow
    stable = stable_forms.log_of(x, CONSTRUCTORS) if fn == "log" else None   # softplus, log-sigmoid
    if stable is not None:
        return stable
    if x.op == "const":
        with np.errstate(all="ignore"):
            return const(float(ELEMENTWISE[fn].numpy(np.float64(x.params.value))), x.shape)
    return make(Op.MAP, (x,), MapParams(fn), x.shape)


def _is_sum_of_exp(x: Node) -> bool:
    return (x.op is Op.CONTRACT and len(x.args) == 1 and x.params.out == () and x.args[0].op is Op.MAP
            and x.args[0].params.fn == "exp" and len(set(x.params.specs[0])) == x.args[0].rank)


def mul(a: Node, b: Node) -> Node:
    """Element-wise product, a scalar operand expanding to the other's shape."""
    shape = _elementwise_shape(a, b)
    labels = tuple(range(len(shape)))
    return contract([(a, labels if a.shape else ()), (b, labels if b.shape else ())], labels)


def scale(c: float, x: Node) -> Node:
    return x if c == 1.0 else mul(const(c), x)


def neg(x: Node) -> Node:
    return scale(-1.0, x)


def sub(a: Node, b: Node) -> Node:
    return add(a, neg(b))


def div(a: Node, b: Node) -> Node:
    return mul(a, power(b, const(-1.0)))


def sum_all(x: Node) -> Node:
    return contract([(x, _labels(x))], ())


def transpose(x: Node, perm: Sequence[int]) -> Node:
    return contract([(x, _labels(x))], tuple(perm))


def power(a: Node, b: Node) -> Node:
    shape = _elementwise_shape(a, b)
    if is_const(b, 1.0):
        return broadcast_to(a, shape)
    if is_const(b, 0.0):
        return const(1.0, shape)
    if a.op == "const" and b.op == "const":
        with np.errstate(all="ignore"):
            return const(float(np.power(a.params.value, b.params.value)), shape)
    if a.op is Op.POW and is_const(a.args[1]) and is_const(b) and float(b.params.value).is_integer():
        # (x^p)^n = x^(p*n) for an integer n
        return power(a.args[0], const(a.args[1].params.value * b.params.value))
    if a.op is Op.NORM2 and is_const(b) and float(b.params.value / 2).is_integer():
        # norm2(x)^(2m) = (x'x)^m: no square root, and the derivative of norm2(x)^2 stays 2x
        return power(sum_all(mul(a.args[0], a.args[0])), const(b.params.value / 2))
    stable = stable_forms.reciprocal_of(a, CONSTRUCTORS) if is_const(b, -1.0) else None   # 1/(1+exp(-x)) = sigmoid(x)
    if stable is not None:
        return broadcast_to(stable, shape)
    return make(Op.POW, (a, b), (), shape)


def _extremum(op: Op, a: Node, b: Node) -> Node:
    shape = _elementwise_shape(a, b)
    if a.op == "const" and b.op == "const":
        pick = max if op == "max" else min
        return const(pick(a.params.value, b.params.value), shape)
    if a is b:
        return broadcast_to(a, shape)
    return make(op, (a, b), (), shape)


def maximum(a: Node, b: Node) -> Node:
    return _extremum(Op.MAX, a, b)


def minimum(a: Node, b: Node) -> Node:
    return _extremum(Op.MIN, a, b)


def logsumexp(x: Node) -> Node:
    return make(Op.LOGSUMEXP, (x,), (), ())


def inv(a: Node) -> Node:
    if a.op == "inv":
        return a.args[0]
    return make(Op.INV, (a,), (), a.shape)


def det(a: Node) -> Node:
    return make(Op.DET, (a,), (), ())


def logdet(a: Node) -> Node:
    return make(Op.LOGDET, (a,), (), ())


def cofactor(a: Node, k: int = 1) -> Node:
    """The k-th derivative tensor of det(a), shape a.shape * k (k = 1: the cofactor matrix, the transposed adjugate)."""
    shape = a.shape * k
    if isinstance(a.shape[0], int) and k > a.shape[0]:
        return zeros(shape)   # det is a polynomial of degree n
    return make(Op.COFACTOR, (a,), CofactorParams(k), shape)


def norm2(x: Node) -> Node:
    """The 2-norm (Frobenius for a matrix), evaluated without overflow."""
    if is_const(x, 0.0):
        return const(0.0)
    return make(Op.NORM2, (x,), (), ())


def unit(x: Node) -> Node:
    """x/norm2(x), and 0 at x = 0: the gradient of norm2."""
    if is_const(x, 0.0):
        return x
    return make(Op.UNIT, (x,), (), x.shape)


# ---- sums ----------------------------------------------------------------------------------------------------------

def add(*terms: Node) -> Node:
    """n-ary sum with scalar expansion: flattened, like terms collected, constants folded, zeros dropped."""
    shape = _elementwise_shape(*terms)
    flat = _flatten(terms)
    constant = sum(t.params.value for t in flat if t.op is Op.CONST)
    collected = _collect(t for t in flat if t.op != "const")
    collected = _merge_products(collected)
    parts = [scale(c, core) for core, c in collected if c != 0.0]
    if constant != 0.0:
        parts.append(const(constant))
    parts = [p for p in parts if not is_const(p, 0.0)]
    if not parts:
        return zeros(shape)
    if len(parts) == 1:
        return broadcast_to(parts[0], shape)
    if all(p.shape == () for p in parts):
        # the terms of the node's shape cancelled (a + 1 + 0*x): a scalar sum, repeated over the shape
        return broadcast_to(make(Op.ADD, tuple(sorted(parts)), (), ()), shape)
    return make(Op.ADD, tuple(sorted(parts)), (), shape)


def _flatten(terms: Sequence[Node]) -> list[Node]:
    flat: list[Node] = []
    stack = list(reversed(terms))
    while stack:
        t = stack.pop()
        if t.op == "add":
            stack.extend(reversed(t.args))
        else:
            flat.append(t)
    return flat


def _split_coefficient(t: Node) -> tuple[float, Node]:
    if t.op == "contract":
        specs, out = t.params.specs, t.params.out
        for k, (arg, spec) in enumerate(zip(t.args, specs, strict=True)):
            if spec == () and arg.op == "const":
                rest = [(a, s) for j, (a, s) in enumerate(zip(t.args, specs, strict=True)) if j != k]
                return arg.params.value, contract(rest, out, dict(zip(out, t.shape, strict=True)))
    return 1.0, t


def _collect(terms) -> list[tuple[Node, float]]:
    coefficients: dict[int, list] = {}
    for t in terms:
        c, core = _split_coefficient(t)
        entry = coefficients.setdefault(id(core), [core, 0.0])
        entry[1] += c
    return [(core, c) for core, c in coefficients.values()]


def _merge_products(terms: list[tuple[Node, float]]) -> list[tuple[Node, float]]:
    # A*B*C + A*D*C = A*(B+D)*C: products that differ in one factor share the rest (keeps Hessians to one product).
    # Products are bucketed by everything but one factor; a whole bucket merges at once, and one pass merges every
    # bucket before the first that shares a term with a merged one: linear in the terms for independent groups.
    terms = list(terms)
    while True:
        groups = _disjoint_groups(_buckets(terms))
        if not groups:
            return terms
        merged = {i for _, members in groups for i in members}
        joined = [(_join([terms[i] for i in members], k), 1.0) for k, members in groups]
        terms = [t for i, t in enumerate(terms) if i not in merged] + joined


def _buckets(terms: list[tuple[Node, float]]) -> dict:
    buckets: dict = {}
    for index, (x, _) in enumerate(terms):
        if x.op == "contract":
            for k in range(len(x.args)):
                key = (x.params, k, x.args[k].shape, tuple(id(a) for j, a in enumerate(x.args) if j != k))
                buckets.setdefault(key, []).append(index)
    return buckets


def _disjoint_groups(buckets: dict) -> list[tuple[int, list[int]]]:
    groups: list[tuple[int, list[int]]] = []
    used: set[int] = set()
    for key, members in buckets.items():
        if len(members) < 2:
            continue
        if used.intersection(members):
            break        # merged in a later pass, after the terms it shares are joined
        groups.append((key[1], members))
        used.update(members)
    return groups


def _join(group: list[tuple[Node, float]], k: int) -> Node:
    first = group[0][0]
    specs, out = first.params.specs, first.params.out
    inner = add(*(scale(c, x.args[k]) for x, c in group))
    operands = [(inner if j == k else arg, spec) for j, (arg, spec) in enumerate(zip(first.args, specs, strict=True))]
    return contract(operands, out, dict(zip(out, first.shape, strict=True)))


# The constructors the rewrite rules of contract.py and stable.py build their results with (passed in: they cannot
# import this module, which calls them).
CONSTRUCTORS = Constructors(apply=apply, broadcast_to=broadcast_to, const=const, neg=neg, power=power)
