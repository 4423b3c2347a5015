"""Building expressions in Python (x.T @ A @ x) with the same rules as the input language."""
from __future__ import annotations

import numbers

from .errors import ShapeError
from .expr import Expr
from .language.rules import FUNCTIONS, OPERATORS, Ctx, Rule, TypeFailure
from .language.surface import Syntax
from .language.types import Unifier
from .simplify import build as b

_SWAPPED = {"rmul": "mul", "radd": "add", "rsub": "sub", "remul": "emul", "rediv": "ediv"}


def scalar(name: str) -> Expr:
    return Expr(b.var(name, ()))


def vector(name: str, dim: object = "n") -> Expr:
    return Expr(b.var(name, (dim,)), "col")


def matrix(name: str, rows: object = "n", cols: object | None = None, symmetric: bool = False) -> Expr:
    return Expr(b.var(name, (rows, rows if cols is None else cols), symmetric))


def _as_expr(value: object) -> Expr:
    if isinstance(value, Expr):
        return value
    if isinstance(value, numbers.Real):
        return Expr(b.const(float(value)))
    raise ShapeError(f"cannot combine a chainrule expression with {type(value).__name__}")


def apply(op: str, first: Expr, *others: object) -> Expr:
    operands = [first, *map(_as_expr, others)]
    if op in _SWAPPED:
        op, operands = _SWAPPED[op], operands[::-1]
    return _run(OPERATORS[op], op, operands)


def call(name: str, *operands: object) -> Expr:
    return _run(FUNCTIONS[name], name, [_as_expr(o) for o in operands])


def _function(name: str):
    def apply_function(*operands: object) -> Expr:
        return call(name, *operands)
    apply_function.__name__ = apply_function.__qualname__ = name
    apply_function.__doc__ = f"{name}(...) as in the input language, e.g. cr.{name}(x)."
    return apply_function


# the input language's functions, for expressions built in Python: cr.sum(cr.log(1 + cr.exp(-y * (X @ w))))
exp, log, sin, cos, tan, tanh, sqrt, sigmoid, relu, abs, sign = map(
    _function, ("exp", "log", "sin", "cos", "tan", "tanh", "sqrt", "sigmoid", "relu", "abs", "sign"))
sum, norm1, norm2, tr, det, logdet, inv, diag, softmax, logsumexp = map(
    _function, ("sum", "norm1", "norm2", "tr", "det", "logdet", "inv", "diag", "softmax", "logsumexp"))
maximum, minimum = _function("max"), _function("min")


def _run(rule: Rule, op: str, operands: list[Expr]) -> Expr:
    placeholders = tuple(Syntax("name", (), 0, 0, f"operand {k + 1}") for k in range(len(operands)))
    node = Syntax("call" if op in FUNCTIONS else op, placeholders, 0, 0, op)
    ctx = Ctx(Unifier())
    try:
        result = rule.check(ctx, node, [o.stype for o in operands])
    except TypeFailure as failure:
        raise ShapeError(failure.message.replace("''", "an operand"), hint=failure.hint) from None
    result = ctx.unifier.resolve(result)
    variables = {}
    for o in operands:
        variables.update(o.variables)
    lowered = rule.lower([(o.node, o.stype) for o in operands], result)
    return Expr(lowered, result.orient, variables)
