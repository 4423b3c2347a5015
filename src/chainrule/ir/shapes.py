"""One shape rule per primitive: which operands, parameters and shape a node of it may have.

`make` applies the rule of every new node (ir/intern.py), and `validate` (ir/validate.py) applies them again to a
whole graph. A rule returns the shape its node must have, given the operands and parameters; a node that breaks it
is an InternalError naming the primitive and the shapes, since the language's type rules reject what users write
before any node is built. Dimensions are ints or symbolic names; two dimensions agree when they are equal.

>>> from chainrule.simplify import build as b
>>> b.det(b.var("A", ("m", "n")))
Traceback (most recent call last):
    ...
chainrule.errors.InternalError: malformed det node: det needs a square matrix, not one of shape ('m', 'n') \
(operands of shapes [('m', 'n')], node shape ()); a bug of chainrule, please report it
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ..errors import InternalError
from .elementwise import ELEMENTWISE
from .ops import PARAMS, Op

if TYPE_CHECKING:
    from .node import Dim, Node, Shape


class _Malformed(Exception):
    """Why a node breaks its rule (turned into an InternalError that shows the node). The checks below build their
    message only when they fail: make runs them on every new node."""


def _operands(node: Node, count: int) -> None:
    if len(node.args) != count:
        raise _Malformed(f"{node.op} takes {count} operand(s), not {len(node.args)}")


def _square(node: Node) -> Shape:
    _operands(node, 1)
    shape = node.args[0].shape
    if len(shape) != 2 or shape[0] != shape[1]:
        raise _Malformed(f"{node.op} needs a square matrix, not one of shape {shape}")
    return shape


def _broadcast(node: Node) -> Shape:
    # element-wise operands have one shape, or are scalars that expand to it
    shape: Shape = ()
    for a in node.args:
        if a.shape != () and a.shape != shape:
            if shape != ():
                raise _Malformed(f"element-wise operands of shapes {shape} and {a.shape}")
            shape = a.shape
    return shape


# ---- leaves ----

def _var(node: Node) -> Shape:
    _operands(node, 0)
    if not isinstance(node.params.name, str):
        raise _Malformed("a variable's name is text")
    if node.params.symmetric and (node.rank != 2 or node.shape[0] != node.shape[1]):
        raise _Malformed("only a square matrix is symmetric")
    return node.shape


def _const(node: Node) -> Shape:
    _operands(node, 0)
    if not isinstance(node.params.value, float):
        raise _Malformed(f"a constant's value is a float, not {node.params.value!r}")
    return node.shape


def _delta(node: Node) -> Shape:
    _operands(node, 0)
    if node.rank != 2:
        raise _Malformed("the identity is a matrix")
    return (node.shape[0], node.shape[0])


def _basis(node: Node) -> Shape:
    _operands(node, 0)
    if node.rank != 1:
        raise _Malformed("a unit vector is a vector")
    k, n = node.params.k, node.shape[0]
    if not isinstance(k, int) or k < 0 or (isinstance(n, int) and k >= n):
        raise _Malformed(f"e_{k} of length {n}")
    return node.shape


# ---- element-wise ----

def _map(node: Node) -> Shape:
    _operands(node, 1)
    if node.params.fn not in ELEMENTWISE:
        raise _Malformed(f"no element-wise function {node.params.fn!r}")
    return node.args[0].shape


def _sum(node: Node) -> Shape:
    if len(node.args) < 2:
        raise _Malformed("a sum has two or more terms")
    return _broadcast(node)


def _binary(node: Node) -> Shape:
    _operands(node, 2)
    return _broadcast(node)


# ---- products ----

def _contract(node: Node) -> Shape:
    # every label has one size: the operands' dimensions it names, and the node's where the output carries it; an
    # output label no operand carries broadcasts and takes the node's size
    (specs, out), args = node.params, node.args
    if len(specs) != len(args):
        raise _Malformed(f"{len(specs)} index lists for {len(args)} operands")
    if len(out) != len(node.shape):
        raise _Malformed(f"{len(out)} output labels for a rank-{node.rank} result")
    sizes: dict[int, Dim] = {}
    for k, (arg, spec) in enumerate(zip(args, specs, strict=True)):
        shape = arg.shape
        if len(spec) != len(shape):
            raise _Malformed(f"operand {k} of shape {shape} has the labels {spec}")
        for label, dim in zip(spec, shape, strict=True):
            if type(label) is not int:
                raise _Malformed(f"label {label!r} is not an integer")
            if sizes.setdefault(label, dim) != dim:
                raise _Malformed(f"label {label} has sizes {sizes[label]} and {dim}")
    return tuple([sizes.setdefault(label, dim) for label, dim in zip(out, node.shape, strict=True)])


# ---- building and taking apart ----

def _stack(node: Node) -> Shape:
    # operands of the node's rank, equal but along the axis, where each has a size that is a number
    axis, args = node.params.axis, node.args
    if len(args) < 2 or not (type(axis) is int and 0 <= axis < node.rank):
        raise _Malformed(f"a stack joins two or more operands along one of its axes, not axis {axis!r}")
    first = args[0].shape
    for a in args:
        if not _equal_but_along(a.shape, first, axis):
            raise _Malformed(f"stacked operands of shapes {a.shape} and {first} along axis {axis}")
        if type(a.shape[axis]) is not int:
            raise _Malformed(f"a stacked operand of shape {a.shape} has no number of entries along axis {axis}")
    total = sum(int(a.shape[axis]) for a in args)     # each an int (checked above): int() only tells the type checker
    return first[:axis] + (total,) + first[axis + 1:]


def _equal_but_along(shape: Shape, other: Shape, axis: int) -> bool:
    """Whether two shapes have the same rank and the same sizes, except perhaps along `axis`."""
    return len(shape) == len(other) and all(
        d == e for k, (d, e) in enumerate(zip(shape, other, strict=True)) if k != axis)


def _index(node: Node) -> Shape:
    # per axis: an int k in range drops the axis; (start, stop) keeps a range; (0, None) the whole axis
    _operands(node, 1)
    shape, select = node.args[0].shape, node.params.select
    if len(select) != len(shape):
        raise _Malformed(f"{len(select)} selections for an operand of shape {shape}")
    kept: list = []
    for pick, dim in zip(select, shape, strict=True):
        if pick == (0, None):
            kept.append(dim)
        elif type(pick) is int and type(dim) is int and 0 <= pick < dim:
            continue
        elif (isinstance(pick, tuple) and len(pick) == 2 and type(dim) is int and all(type(p) is int for p in pick)
              and 0 <= pick[0] < pick[1] <= dim):
            kept.append(pick[1] - pick[0])
        else:
            raise _Malformed(f"the selection {pick!r} of an axis of size {dim}")
    return tuple(kept)


# ---- reductions ----

def _to_scalar(node: Node) -> Shape:
    _operands(node, 1)
    return ()


def _same(node: Node) -> Shape:
    _operands(node, 1)
    return node.args[0].shape


def _reduce(node: Node) -> Shape:
    # the operand's shape without the reduced axes (distinct, sorted, in range)
    axes, shape = node.params.axes, _marked(node)
    return tuple(d for k, d in enumerate(shape) if k not in axes)


def _marked(node: Node) -> Shape:
    # the operand's shape, its entries marked over some of its axes (distinct, sorted, in range)
    _operands(node, 1)
    axes, shape = node.params.axes, node.args[0].shape
    if list(axes) != sorted(set(axes)) or any(type(a) is not int or not 0 <= a < len(shape) for a in axes):
        raise _Malformed(f"the reduced axes {axes!r} are not distinct sorted axes of shape {shape}")
    return shape


# ---- linear algebra ----

def _square_to_scalar(node: Node) -> Shape:
    _square(node)
    return ()


def _cofactor(node: Node) -> Shape:
    order = node.params.order
    if not isinstance(order, int) or order < 1:
        raise _Malformed(f"the order of cofactor is a whole number >= 1, not {order!r}")
    return _square(node) * order


SHAPE_RULES: dict[Op, Callable[[Node], Shape]] = {
    Op.VAR: _var,
    Op.CONST: _const,
    Op.DELTA: _delta,
    Op.BASIS: _basis,
    Op.MAP: _map,
    Op.ADD: _sum,
    Op.POW: _binary,
    Op.MAX: _binary,
    Op.MIN: _binary,
    Op.CONTRACT: _contract,
    Op.STACK: _stack,
    Op.INDEX: _index,
    Op.LOGSUMEXP: _reduce,
    Op.AMAX: _reduce,
    Op.ISMAX: _marked,
    Op.NORM2: _to_scalar,
    Op.UNIT: _same,
    Op.INV: _square,
    Op.DET: _square_to_scalar,
    Op.LOGDET: _square_to_scalar,
    Op.COFACTOR: _cofactor,
}


def check(node: Node) -> None:
    """InternalError unless node has its primitive's parameters and the shape its rule gives."""
    rule = SHAPE_RULES.get(node.op)
    if rule is None:
        raise _error(node, f"there is no primitive {node.op!r}")
    kind = PARAMS[node.op]
    wrong = node.params != () if kind is None else type(node.params) is not kind
    if wrong:
        raise _error(node, f"the parameters of {node.op} are {kind.__name__ if kind else '()'}, not {node.params!r}")
    try:
        expected = rule(node)
    except _Malformed as why:
        raise _error(node, str(why)) from None
    if expected != node.shape:
        raise _error(node, f"its operands give shape {expected}")


def _error(node: Node, reason: str) -> InternalError:
    shapes = [a.shape for a in node.args]
    return InternalError(f"malformed {node.op} node: {reason} (operands of shapes {shapes}, node shape {node.shape}); "
                         "a bug of chainrule, please report it")
