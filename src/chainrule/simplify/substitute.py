"""Substitution: replace variables by expressions and rebuild through the normalising constructors."""
from __future__ import annotations

from collections.abc import Callable

from ..errors import DerivativeError
from ..ir import Node, topological
from . import build as b


def _contract(node: Node, args: list[Node]) -> Node:
    specs, out = node.params
    return b.contract(list(zip(args, specs, strict=True)), out, dict(zip(out, node.shape, strict=True)))


# How to build each primitive again from new operands (leaves are never rebuilt).
REBUILD: dict[str, Callable[[Node, list[Node]], Node]] = {
    "map": lambda n, a: b.apply(n.params[0], a[0]),
    "add": lambda n, a: b.add(*a),
    "pow": lambda n, a: b.power(a[0], a[1]),
    "max": lambda n, a: b.maximum(a[0], a[1]),
    "min": lambda n, a: b.minimum(a[0], a[1]),
    "contract": _contract,
    "logsumexp": lambda n, a: b.logsumexp(a[0]),
    "inv": lambda n, a: b.inv(a[0]),
    "det": lambda n, a: b.det(a[0]),
    "logdet": lambda n, a: b.logdet(a[0]),
    "cofactor": lambda n, a: b.cofactor(a[0], n.params[0]),
    "norm2": lambda n, a: b.norm2(a[0]),
    "unit": lambda n, a: b.unit(a[0]),
}


def substitute(node: Node, mapping: dict[str, Node]) -> Node:
    """Replace the variables named in `mapping` by nodes, simplifying with the engine's constructors (iteratively)."""
    new: dict[int, Node] = {}
    for n in topological([node]):
        if n.op == "var" and n.params[0] in mapping:
            new[id(n)] = mapping[n.params[0]]
        elif not n.args:
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
