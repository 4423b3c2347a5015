"""Reverse-mode derivative rules (vector-Jacobian products), one per primitive.

A rule receives the cotangent `g` of a node, shaped F + node.shape (F: the shape of the function being
differentiated), and returns the contribution to the cotangent of operand `k`, shaped F + operand.shape.
Every rule is written with the IR's own constructors, so derivatives are expressions like any other.
"""
from __future__ import annotations

from collections.abc import Callable

from ..ir import Node, Op
from ..ir.elementwise import ELEMENTWISE
from ..ir.ops import CONSTANT_LEAVES
from ..simplify import build as b

Rule = Callable[[Node, Node, int, int], Node]


def _f(n_f: int) -> tuple:
    return tuple(("f", k) for k in range(n_f))


def _s(node: Node) -> tuple:
    return tuple(("s", k) for k in range(node.rank))


def _times(g: Node, factor: Node, node: Node, n_f: int) -> Node:
    """g (F + S) times an element-wise factor of shape S or ()."""
    f, s = _f(n_f), _s(node)
    return b.contract([(g, f + s), (factor, s if factor.shape else ())], f + s)


def _unbroadcast(g: Node, operand: Node, node: Node, n_f: int) -> Node:
    """Sum a cotangent over the indices a scalar operand was expanded along (scalar expansion)."""
    if operand.shape == node.shape:
        return g
    f = _f(n_f)
    return b.contract([(g, f + _s(node))], f)


def _elementwise(factor: Callable[[Node, int], Node]) -> Rule:
    return lambda g, node, k, n_f: _unbroadcast(_times(g, factor(node, k), node, n_f), node.args[k], node, n_f)


def _map_factor(node: Node, k: int) -> Node:
    return ELEMENTWISE[node.params.fn].derivative(b, node.args[0], node)


def _pow_factor(node: Node, k: int) -> Node:
    x, p = node.args
    if k == 0:  # d(x^p)/dx = p * x^(p-1)
        return b.mul(p, b.power(x, b.add(p, b.const(-1.0))))
    return b.mul(b.apply("log", x), node)  # d(x^p)/dp = log(x) * x^p


def _extremum_factor(node: Node, k: int) -> Node:
    # d max(x, y)/dx = 1 where x > y, 0 where x < y; min swaps the roles. At a tie the weight of x is
    #   step(x - c) = 0 against a constant c (the paper's and relu's convention: max(0, z) has slope 0 at z = 0);
    #   (1 + sign(x - y))/2 = 1/2 between two non-constant operands (as PyTorch's maximum).
    # Both are right wherever max is differentiable: where x = y on an open set, dx = dy there, so weights summing to
    # 1 give d max = dx; against a constant, dx = dc = 0 there, so any weight does. A step on each side (weights
    # summing to 0) gave 0 for max(a, relu(a)) at every a > 0.
    x, y = node.args
    this, other = (x, y) if k == 0 else (y, x)
    lead = b.sub(this, other) if node.op is Op.MAX else b.sub(other, this)   # > 0 where this operand is chosen
    if other.op in CONSTANT_LEAVES:   # a constant tensor (a number, eye, a unit vector)
        return b.apply("step", lead)
    # one difference for both operands, (1 + sign(d))/2 and (1 - sign(d))/2: the two weights sum to exactly 1 in
    # floating point too (x - y and y - x of sums rounded apart gave 1 + 1/2 at a tie)
    first = b.sub(x, y) if node.op is Op.MAX else b.sub(y, x)     # > 0 where x is chosen
    return b.mul(b.const(0.5), b.add(b.const(1.0), b.scale(1.0 if k == 0 else -1.0, b.apply("sign", first))))


def _contract(g: Node, node: Node, k: int, n_f: int) -> Node:
    # d/dA_k of sum prod_j A_j[ix_j]: the same product with A_k left out, g in the place of the output.
    specs, out = node.params.specs, node.params.out
    f = _f(n_f)
    operands = [(g, f + out)] + [(a, s) for j, (a, s) in enumerate(zip(node.args, specs, strict=True)) if j != k]
    target, deltas = _distinct(specs[k], node.args[k])
    dims = dict(zip(f + out, g.shape, strict=True))
    dims.update(zip(specs[k], node.args[k].shape, strict=True))
    return b.contract(operands + deltas, f + target, dims)


def _distinct(spec: tuple, operand: Node) -> tuple[tuple, list]:
    """Give repeated indices (a diagonal, as in a trace) fresh names tied back by Kronecker deltas."""
    seen, target, deltas = set(), [], []
    for pos, label in enumerate(spec):
        placed = label
        if label in seen:
            placed = ("r", pos)
            deltas.append((b.delta(operand.shape[pos]), (label, placed)))
        seen.add(placed)
        target.append(placed)
    return tuple(target), deltas


def _kept(node: Node) -> tuple:
    """The labels of a reduction's result: the operand's labels (_s) of the axes it keeps."""
    return tuple(("s", k) for k in range(node.args[0].rank) if k not in node.params.axes)


def _spread(node: Node, value: Node) -> Node:
    """A value shaped like the reduction's result, repeated along the reduced axes (shaped like the operand)."""
    x = node.args[0]
    if value.rank == 0:
        return value      # a scalar expands by itself in element-wise constructors
    return b.broadcast(value, x.shape, [k for k in range(x.rank) if k not in node.params.axes])


def _along(g: Node, node: Node, weights: Node, n_f: int) -> Node:
    """g (F + result shape) times weights (operand shape), each result entry's g spread over the entries it reduces."""
    f, s = _f(n_f), _s(node.args[0])
    return b.contract([(g, f + _kept(node)), (weights, s)], f + s)


def _logsumexp(g: Node, node: Node, k: int, n_f: int) -> Node:
    # d logsumexp(x) = softmax(x) = exp(x - logsumexp(x)), along the reduced axes
    x = node.args[0]
    return _along(g, node, b.apply("exp", b.sub(x, _spread(node, node))), n_f)


def _amax(g: Node, node: Node, k: int, n_f: int) -> Node:
    # d max(x) = sum_i w_i dx_i with w = [x = max(x)] / #{i : x_i = max(x)}: the derivative is split equally among
    # tied largest entries (JAX's and PyTorch's amax convention), so the weights sum to 1 and a single largest entry
    # takes it all. [x = m] is ismax(x), which compares x with m exactly: at least one entry of each slice is marked.
    x = node.args[0]
    tied = b.ismax(x, node.params.axes)
    count = b.contract([(tied, _s(x))], _kept(node))
    return _along(g, node, b.div(tied, _spread(node, count)), n_f)


def _piecewise_constant(g: Node, node: Node, k: int, n_f: int) -> Node:
    # ismax(x) is constant wherever it is differentiable (it jumps where a tie forms or breaks)
    return b.zeros(g.shape[:n_f] + node.args[0].shape)


def _inverse(g: Node, node: Node, k: int, n_f: int) -> Node:
    # d inv(A) = -inv(A) dA inv(A)
    f = _f(n_f)
    return b.contract([(b.const(-1.0), ()), (g, f + ("i", "j")), (node, ("i", "a")), (node, ("b", "j"))],
                      f + ("a", "b"))


def _det(g: Node, node: Node, k: int, n_f: int) -> Node:
    # d det(A) = <cofactor(A), dA>; cofactor(A) = det(A) inv(A)' where A is invertible, and exists where it is not
    f = _f(n_f)
    return b.contract([(g, f), (b.cofactor(node.args[0]), ("a", "b"))], f + ("a", "b"))


def _cofactor(g: Node, node: Node, k: int, n_f: int) -> Node:
    # D^m det is the m-th derivative tensor of det, symmetric in its m index pairs: d D^m det = D^(m+1) det [., dA]
    f, order = _f(n_f), node.params.order
    pairs = tuple(("p", j) for j in range(2 * order))
    higher = b.cofactor(node.args[0], order + 1)
    return b.contract([(g, f + pairs), (higher, pairs + ("a", "b"))], f + ("a", "b"))


def _norm2(g: Node, node: Node, k: int, n_f: int) -> Node:
    # d norm2(x) = <unit(x), dx>, unit(x) = x/norm2(x); at x = 0, unit(0) = 0 (the minimum-norm subgradient)
    f, s = _f(n_f), _s(node.args[0])
    return b.contract([(g, f), (b.unit(node.args[0]), s)], f + s)


def _unit(g: Node, node: Node, k: int, n_f: int) -> Node:
    # d unit(x) = (dx - u <u, dx>)/norm2(x) with u = unit(x): the projection orthogonal to u, over the norm
    x = node.args[0]
    f, s = _f(n_f), _s(x)
    along = b.contract([(g, f + s), (node, s)], f)
    projected = b.sub(g, b.contract([(along, f), (node, s)], f + s))
    return b.contract([(projected, f + s), (b.power(b.norm2(x), b.const(-1.0)), ())], f + s)


def _logdet(g: Node, node: Node, k: int, n_f: int) -> Node:
    # d logdet(A) = tr(inv(A) dA)
    f = _f(n_f)
    return b.contract([(g, f), (b.inv(node.args[0]), ("b", "a"))], f + ("a", "b"))


# One rule per primitive with operands; the leaves (ir/ops.py LEAVES) have none to pass a cotangent to.
def _stack(g: Node, node: Node, k: int, n_f: int) -> Node:
    # d[x1; x2; ...]/dx_k picks the rows of x_k: the cotangent of x_k is g's block at x_k's place
    axis = node.params.axis
    offset = sum(a.shape[axis] for a in node.args[:k])
    block = (offset, offset + node.args[k].shape[axis])
    return b.index(g, (b.FULL,) * (n_f + axis) + (block,) + (b.FULL,) * (node.rank - axis - 1))


def _index(g: Node, node: Node, k: int, n_f: int) -> Node:
    # x(s) takes entries of x; its cotangent puts g back at their places, zeros around: the adjoint of taking is
    # placing. A dropped axis (entry k) returns as the unit vector e_k, a range as a stack with zeros before and after.
    x, select = node.args[0], node.params.select
    f = _f(n_f)
    every = tuple(("x", q) for q in range(x.rank))
    kept = tuple(label for label, pick in zip(every, select, strict=True) if type(pick) is not int)
    units = [(b.basis(pick, _size(x, q)), (every[q],)) for q, pick in enumerate(select) if type(pick) is int]
    placed = b.contract([(g, f + kept), *units], f + every)
    for q, pick in enumerate(select):
        if pick == b.FULL or type(pick) is int:
            continue
        start, stop = pick
        parts = [_zeros_along(placed, n_f + q, start), placed, _zeros_along(placed, n_f + q, _size(x, q) - stop)]
        placed = b.stack([p for p in parts if p is not None], n_f + q)
    return placed


def _size(x: Node, axis: int) -> int:
    n = x.shape[axis]
    assert isinstance(n, int), "an axis that is indexed has a number of entries (ir/shapes.py)"
    return n


def _zeros_along(like: Node, axis: int, count: int) -> Node | None:
    shape = like.shape[:axis] + (count,) + like.shape[axis + 1:]
    return b.zeros(shape) if count > 0 else None


VJP: dict[Op, Rule] = {
    Op.MAP: _elementwise(_map_factor),
    Op.ADD: lambda g, node, k, n_f: _unbroadcast(g, node.args[k], node, n_f),
    Op.POW: _elementwise(_pow_factor),
    Op.MAX: _elementwise(_extremum_factor),
    Op.MIN: _elementwise(_extremum_factor),
    Op.CONTRACT: _contract,
    Op.STACK: _stack,
    Op.INDEX: _index,
    Op.LOGSUMEXP: _logsumexp,
    Op.AMAX: _amax,
    Op.ISMAX: _piecewise_constant,
    Op.NORM2: _norm2,
    Op.UNIT: _unit,
    Op.INV: _inverse,
    Op.DET: _det,
    Op.LOGDET: _logdet,
    Op.COFACTOR: _cofactor,
}
