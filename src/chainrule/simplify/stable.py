"""Overflow-free forms of the standard logistic expressions, recognised as nodes are built.

build.apply tries LOG_RULES on the operand of every log, build.power tries RECIPROCAL_RULES on the base of every x^-1,
build.add tries SUM_RULES on every sum it makes; the first rule that matches gives the node built instead. Each rule
returns the rewritten node, or None when its pattern does not match, and builds with the constructors build.py passes
in (simplify/constructors.py), since build.py imports this module. The product form exp(u) .* sigmoid(-u) = sigmoid(u)
is a rule of simplify/contract.py.

REFLECTIONS write f(-u) through f(u) (sigmoid(-u) = 1 - sigmoid(u), softplus(-u) = softplus(u) - u, odd and even
functions); build.add uses them only where one sum holds both f(-u) and f(u), so that the two collect into one.
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


def sum_of(x: Node, build: Constructors) -> Node | None:
    """A stable form of the sum x, or None."""
    return _first_match(SUM_RULES, x, build)


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


def _complement_of_sigmoid(x: Node, build: Constructors) -> Node | None:
    # 1 - sigmoid(u) = sigmoid(-u): exact where 1 - sigmoid(u) rounds to 0 (u > 37), so that
    # sigmoid' = sigmoid(u).*sigmoid(-u) keeps its relative accuracy in both tails
    rest = _one_plus(x)
    negated = _negated(rest) if rest is not None else None
    if negated is None or not _is_map(negated, "sigmoid"):
        return None
    return build.broadcast_to(build.apply("sigmoid", build.neg(negated.args[0])), x.shape)


LOG_RULES: tuple[Recogniser, ...] = (_log_of_exp, _softplus, _log_sigmoid, _log_one_minus_sigmoid)
RECIPROCAL_RULES: tuple[Recogniser, ...] = (_sigmoid,)
SUM_RULES: tuple[Recogniser, ...] = (_complement_of_sigmoid,)


# ---- reflections: f(-u) through f(u) -------------------------------------------------------------------------------

# (x, u, build) -> terms whose sum is f(x), where x = -u. Every term is finite wherever f(x) and u are: f(u) is then
# finite too (each function below is finite on all finite numbers), so no rewrite brings an inf - inf or an inf * 0.
Reflection = Callable[[Node, Node, Constructors], tuple[Node, ...]]


def _reflect_sigmoid(x: Node, u: Node, build: Constructors) -> tuple[Node, ...]:
    # sigmoid(-u) = 1 - sigmoid(u): both lie in [0, 1]
    return build.const(1.0, x.shape), build.neg(build.apply("sigmoid", u))


def _reflect_softplus(x: Node, u: Node, build: Constructors) -> tuple[Node, ...]:
    # softplus(-u) = log(1 + e^-u) = log(e^-u (e^u + 1)) = softplus(u) - u, and -u is x itself
    return build.apply("softplus", u), x


def _reflect_odd(fn: str) -> Reflection:
    # f(-u) = -f(u), exact in floating point for these functions
    return lambda x, u, build: (build.neg(build.apply(fn, u)),)


def _reflect_even(fn: str) -> Reflection:
    # f(-u) = f(u), exact
    return lambda x, u, build: (build.apply(fn, u),)


REFLECTIONS: dict[str, Reflection] = {
    "sigmoid": _reflect_sigmoid,
    "softplus": _reflect_softplus,
    **{fn: _reflect_odd(fn) for fn in ("sin", "tanh", "arctan", "erf")},
    **{fn: _reflect_even(fn) for fn in ("cos", "abs")},
}


def reflected(x: Node, build: Constructors) -> tuple[Node, ...] | None:
    """f(-u), for a node x = f(-u) with f in REFLECTIONS, as terms in f(u); else None."""
    if x.op is not Op.MAP or x.params.fn not in REFLECTIONS or not is_negated(x.args[0]):
        return None
    return REFLECTIONS[x.params.fn](x.args[0], negation(x.args[0], build), build)


def negation(x: Node, build: Constructors) -> Node:
    """-x: w itself where x = -1 * w (nothing built), else built."""
    w = _negated(x)
    return w if w is not None else build.neg(x)


def is_negated(x: Node) -> bool:
    """Whether x = c*w with a negative constant c (-u, -2*w): a product with a negative scalar constant factor. Of u
    and -u at most one is negated (the normal form folds -1 * -1), which picks the side a reflection rewrites."""
    return x.op is Op.CONTRACT and any(a.op is Op.CONST and a.rank == 0 and a.params.value < 0 and not spec
                                       for a, spec in zip(x.args, x.params.specs, strict=True))


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
