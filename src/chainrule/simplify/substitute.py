"""Substitution: replace variables by expressions and rebuild through the normalising constructors."""
from __future__ import annotations

from collections.abc import Callable

from ..errors import DerivativeError
from ..ir import Node, Op, topological
from ..ir.ops import LEAVES
from . import build as b


def _contract(node: Node, args: list[Node]) -> Node:
    specs, out = node.params.specs, node.params.out
    return b.contract(list(zip(args, specs, strict=True)), out, dict(zip(out, node.shape, strict=True)))


# How to build each primitive again from new operands, through its normalising constructor (the leaves, ir/ops.py
# LEAVES, have no operands and are never rebuilt).
REBUILD: dict[Op, Callable[[Node, list[Node]], Node]] = {
    Op.MAP: lambda n, a: b.apply(n.params.fn, a[0]),
    Op.ADD: lambda n, a: b.add(*a),
    Op.POW: lambda n, a: b.power(a[0], a[1]),
    Op.MAX: lambda n, a: b.maximum(a[0], a[1]),
    Op.MIN: lambda n, a: b.minimum(a[0], a[1]),
    Op.CONTRACT: _contract,
    Op.STACK: lambda n, a: b.stack(a, n.params.axis),
    Op.INDEX: lambda n, a: b.index(a[0], n.params.select),
    Op.LOGSUMEXP: lambda n, a: b.logsumexp(a[0], n.params.axes),
    Op.AMAX: lambda n, a: b.amax(a[0], n.params.axes),
    Op.ISMAX: lambda n, a: b.ismax(a[0], n.params.axes),
    Op.NORM2: lambda n, a: b.norm2(a[0]),
    Op.UNIT: lambda n, a: b.unit(a[0]),
    Op.INV: lambda n, a: b.inv(a[0]),
    Op.DET: lambda n, a: b.det(a[0]),
    Op.LOGDET: lambda n, a: b.logdet(a[0]),
    Op.COFACTOR: lambda n, a: b.cofactor(a[0], n.params.order),
}


def substitute(node: Node, mapping: dict[str, Node]) -> Node:
    """Replace the variables named in `mapping` by nodes, simplifying with the engine's constructors (iteratively)."""
    new: dict[int, Node] = {}
    for n in topological([node]):
        if n.op is Op.VAR and n.params.name in mapping:
            new[id(n)] = mapping[n.params.name]
        elif n.op in LEAVES:
            new[id(n)] = n
        else:
            new[id(n)] = _rebuilt(n, [new[id(a)] for a in n.args])
    return new[id(node)]


def _rebuilt(n: Node, args: list[Node]) -> Node:
    if all(x is y for x, y in zip(args, n.args, strict=True)):
        return n
    rule = REBUILD.get(n.op)
    if rule is None:
        raise DerivativeError(f"cannot substitute into the primitive '{n.op}'")
    return rule(n, args)
