"""Overflow-free forms of the standard logistic expressions, recognised as nodes are built.

    log(1 + exp(u))   = softplus(u)          finite for every finite u (exp(1000) alone is inf)
    log(sigmoid(u))   = -softplus(-u)        log-sigmoid
    log(1 - sigmoid(u)) = -softplus(u)
    1/(1 + exp(v))    = sigmoid(-v)          (1+exp(-x)).^-1 = sigmoid(x)
    exp(u) .* sigmoid(-u) = sigmoid(u)       exp(u)./(1+exp(u)), inf*0 otherwise

Each recogniser returns the rewritten node, or None when the pattern does not match. The constructors of `build`
call them; `build` is imported inside the functions because it imports this module.
"""
from __future__ import annotations

from ..ir import Node


def log_of(x: Node) -> Node | None:
    """A stable form of log(x), or None."""
    from .build import apply, broadcast_to, neg
    rest = _one_plus(x)
    if rest is not None and _is_map(rest, "exp"):
        return broadcast_to(apply("softplus", rest.args[0]), x.shape)
    if _is_map(x, "sigmoid"):
        return neg(apply("softplus", neg(x.args[0])))
    negated = _negated(rest) if rest is not None else None
    if negated is not None and _is_map(negated, "sigmoid"):
        return broadcast_to(neg(apply("softplus", negated.args[0])), x.shape)
    return None


def reciprocal_of(x: Node) -> Node | None:
    """A stable form of x^-1, or None: (1 + exp(v))^-1 = sigmoid(-v)."""
    from .build import apply, broadcast_to, neg
    rest = _one_plus(x)
    if rest is not None and _is_map(rest, "exp"):
        return broadcast_to(apply("sigmoid", neg(rest.args[0])), x.shape)
    return None


def sigmoid_of_product(ops: list[tuple[Node, tuple]]) -> list[tuple[Node, tuple]]:
    """The factors of a product with exp(u) .* sigmoid(-u) replaced by sigmoid(u) (on the same indices)."""
    exps = {ix for node, ix in ops if _is_map(node, "exp")}
    if not exps:
        return ops
    from .build import apply, neg
    for k, (node, ix) in enumerate(ops):
        if not _is_map(node, "sigmoid") or ix not in exps:
            continue
        u = neg(node.args[0])
        partner = next((j for j, (other, jx) in enumerate(ops) if jx == ix and _is_map(other, "exp")
                        and other.args[0] is u), None)
        if partner is not None:
            rest = [op for j, op in enumerate(ops) if j not in (k, partner)]
            return [*rest, (apply("sigmoid", u), ix)]
    return ops


def _is_map(node: Node, fn: str) -> bool:
    return node.op == "map" and node.params == (fn,)


def _one_plus(x: Node) -> Node | None:
    """t when x = 1 + t (the constant 1 scalar or filled to x's shape)."""
    if x.op != "add" or len(x.args) != 2:
        return None
    ones = [a for a in x.args if a.op == "const" and a.params[0] == 1.0]
    others = [a for a in x.args if a not in ones]
    return others[0] if len(ones) == 1 and len(others) == 1 else None


def _negated(t: Node) -> Node | None:
    """w when t = -w (a product of the constant -1 and w on w's own indices)."""
    if t.op != "contract" or len(t.args) != 2:
        return None
    (specs, out), args = t.params, t.args
    for k in (0, 1):
        c, w = args[k], args[1 - k]
        if c.op == "const" and c.rank == 0 and c.params[0] == -1.0 and specs[1 - k] == out:
            return w
    return None
