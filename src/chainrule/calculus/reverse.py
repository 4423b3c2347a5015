"""Generalized Jacobians by reverse accumulation over the DAG."""
from __future__ import annotations

from ..errors import DerivativeError
from ..ir import Node, depends_on, topological
from ..simplify import build as b
from .rules import VJP


def jacobian(f: Node, x: Node) -> Node:
    """d f / d x as a tensor of shape f.shape + x.shape (output indices first)."""
    deps = depends_on(f, x)
    if id(f) not in deps:
        return b.zeros(f.shape + x.shape)
    n_f = f.rank
    cotangents: dict[int, list[Node]] = {id(f): [b.identity(f.shape)]}
    for node in reversed(topological([f])):
        parts = cotangents.pop(id(node), None)
        if parts is None:
            continue
        g = b.add(*parts)
        if node is x:
            return g
        rule = VJP.get(node.op)
        if rule is None:
            raise DerivativeError(f"no derivative rule for the primitive '{node.op}'")
        for k, arg in enumerate(node.args):
            if id(arg) in deps:
                cotangents.setdefault(id(arg), []).append(rule(g, node, k, n_f))
    return b.zeros(f.shape + x.shape)
