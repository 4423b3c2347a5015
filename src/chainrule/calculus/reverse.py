"""Generalized Jacobians by reverse accumulation over the DAG."""
from __future__ import annotations

from ..errors import DerivativeError
from ..ir import Node, depends_on, topological
from ..ir.intern import nodes_made
from ..limits import current_limits
from ..simplify import build as b
from .rules import VJP


def jacobian(f: Node, x: Node, since: int | None = None) -> Node:
    """d f / d x as a tensor of shape f.shape + x.shape (output indices first).

    The nodes built since `nodes_made()` was `since` (by default: since this call began) are bounded by
    `Limits.nodes`: a derivative that grows too large stops with a LimitError instead of running for minutes.
    """
    order = topological([f])
    deps = depends_on(f, x, order)
    if id(f) not in deps:
        return b.zeros(f.shape + x.shape)
    limits = current_limits()
    start = nodes_made() if since is None else since
    n_f = f.rank
    cotangents: dict[int, list[Node]] = {id(f): [b.identity(f.shape)]}
    for node in reversed(order):
        parts = cotangents.pop(id(node), None)
        if parts is None:
            continue
        if nodes_made() - start > limits.nodes:
            raise limits.exceeded("nodes", nodes_made() - start,
                                  "expression nodes built for this derivative (each counted with its operands)")
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
