"""Overflow-free forms of the standard logistic expressions, recognised as nodes are built.

build.apply tries LOG_RULES on the operand of every log, build.power tries RECIPROCAL_RULES on the base of every x^-1;
the first rule that matches gives the node built instead. Each rule returns the rewritten node, or None when its
pattern does not match, and builds with the constructors build.py passes in (simplify/constructors.py), since build.py
imports this module. The product form exp(u) .* sigmoid(-u) = sigmoid(u) is a rule of simplify/contract.py.
"""
from __future__ import annotations

from collections.abc import Callable

from ..ir import Node, Op
from .constructors import Constructors

Recogniser = Callable[[Node, Constructors], Node | None]


def log_of(x: Node, build: Constructors) -> Node | None:
    """A stable form of log(x), or None."""
    return _first_match(LOG_RULES, x, build)


def reciprocal_of(x: Node, build: Constructors) -> Node | None:
    """A stable form of x^-1, or None."""
    return _first_match(RECIPROCAL_RULES, x, build)


def _first_match(rules: tuple[Recogniser, ...], x: Node, build: Constructors) -> Node | None:
    for rule in rules:
        rewritten = rule(x, build)
        if rewritten is not None:
            return rewritten
    return None


def _softplus(x: Node, build: Constructors) -> Node | None:
    # log(1 + exp(u)) = softplus(u): finite for every finite u (exp(1000) alone is inf)
    rest = _one_plus(x)
    if rest is None or not _is_map(rest, "exp"):
        return None
    return build.broadcast_to(build.apply("softplus", rest.args[0]), x.shape)


def _log_sigmoid(x: Node, build: Constructors) -> Node | None:
    # log(sigmoid(u)) = -softplus(-u)
    if not _is_map(x, "sigmoid"):
        return None
    return build.neg(build.apply("softplus", build.neg(x.args[0])))


def _log_one_minus_sigmoid(x: Node, build: Constructors) -> Node | None:
    # log(1 - sigmoid(u)) = -softplus(u)
    rest = _one_plus(x)
    negated = _negated(rest) if rest is not None else None
    if negated is None or not _is_map(negated, "sigmoid"):
        return None
    return build.broadcast_to(build.neg(build.apply("softplus", negated.args[0])), x.shape)


def _sigmoid(x: Node, build: Constructors) -> Node | None:
    # (1 + exp(v))^-1 = sigmoid(-v), so (1+exp(-x)).^-1 = sigmoid(x)
    rest = _one_plus(x)
    if rest is None or not _is_map(rest, "exp"):
        return None
    return build.broadcast_to(build.apply("sigmoid", build.neg(rest.args[0])), x.shape)


def _log_of_exp(x: Node, build: Constructors) -> Node | None:
    # log(exp(u)) = u: exact, where exp(u) alone overflows (log(softmax(z)) = z - logsumexp(z) = logsoftmax(z))
    return x.args[0] if _is_map(x, "exp") else None


LOG_RULES: tuple[Recogniser, ...] = (_log_of_exp, _softplus, _log_sigmoid, _log_one_minus_sigmoid)
RECIPROCAL_RULES: tuple[Recogniser, ...] = (_sigmoid,)


def _is_map(node: Node, fn: str) -> bool:
    return node.op is Op.MAP and node.params.fn == fn


def _one_plus(x: Node) -> Node | None:
    """t when x = 1 + t (the constant 1 scalar or filled to x's shape)."""
    if x.op is not Op.ADD or len(x.args) != 2:
        return None
    ones = [a for a in x.args if a.op is Op.CONST and a.params.value == 1.0]
    others = [a for a in x.args if a not in ones]
    return others[0] if len(ones) == 1 and len(others) == 1 else None


def _negated(t: Node) -> Node | None:
    """w when t = -w (a product of the constant -1 and w on w's own indices)."""
    if t.op is not Op.CONTRACT or len(t.args) != 2:
        return None
    specs, out, args = t.params.specs, t.params.out, t.args
    for k in (0, 1):
        c, w = args[k], args[1 - k]
        if c.op is Op.CONST and c.rank == 0 and c.params.value == -1.0 and specs[1 - k] == out:
            return w
    return None
