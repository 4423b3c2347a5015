"""Building expressions in Python (x.T @ A @ x) with the same rules as the input language."""
from __future__ import annotations

import difflib
import numbers

from . import boundary
from .errors import ParseError, ShapeError, UsageError
from .expr import Expr
from .language.rules import FUNCTIONS, OPERATORS, Ctx, Rule, TypeFailure
from .language.surface import Syntax
from .language.types import Unifier
from .simplify import build as b

# functions whose arguments are sizes or einsum specs, written only in the text
_TEXT_ONLY = ("eye", "vector", "matrix", "einsum")
_SWAPPED = {"rmul": "mul", "radd": "add", "rsub": "sub", "remul": "emul", "rediv": "ediv"}


def scalar(name: str) -> Expr:
    """A scalar variable: `cr.scalar("a")`."""
    return Expr(b.var(boundary.name(name, "a variable's name"), ()))


def vector(name: str, dim: object = "n") -> Expr:
    """A (column) vector variable of dimension `dim`, a size or a name: `cr.vector("x", 3)`, `cr.vector("x", "n")`."""
    return Expr(b.var(boundary.name(name, "a variable's name"), (_dim(dim),)), "col")


def matrix(name: str, rows: object = "n", cols: object | None = None, symmetric: bool = False) -> Expr:
    """A matrix variable, rows x cols (square when cols is left out): `cr.matrix("A", "m", "n")`."""
    rows, cols = _dim(rows), _dim(rows if cols is None else cols)
    if not isinstance(symmetric, bool):
        raise UsageError(f"symmetric must be True or False, not {symmetric!r}")
    if symmetric and rows != cols:
        raise ShapeError(f"a symmetric matrix is square, but {name} is declared {rows}x{cols}")
    return Expr(b.var(boundary.name(name, "a variable's name"), (rows, cols), symmetric))


def _dim(dim: object) -> object:
    """A dimension: a size (a whole number >= 1) or a name such as "n"."""
    if isinstance(dim, numbers.Integral) and not isinstance(dim, bool) and dim >= 1:
        return int(dim)
    if boundary.is_name(dim):
        return dim
    raise UsageError(f"a dimension is a whole number >= 1 or a name such as 'n', not {dim!r}")


def _as_expr(value: object) -> Expr:
    if isinstance(value, Expr):
        return value
    if isinstance(value, numbers.Real):
        try:
            return Expr(b.const(float(value)))
        except OverflowError:     # a Python int beyond the largest float
            digits = int(int(value).bit_length() * 0.30103)    # log10(2): no str() of a huge int
            raise UsageError(f"a number of about 10^{digits} is too large for a float") from None
    raise ShapeError(f"cannot combine a chainrule expression with {type(value).__name__}")


def apply(op: str, first: Expr, *others: object) -> Expr:
    operands = [first, *map(_as_expr, others)]
    if op in _SWAPPED:
        op, operands = _SWAPPED[op], operands[::-1]
    return _run(OPERATORS[op], op, operands)


def call(name: str, *operands: object) -> Expr:
    """A function of the input language applied to expressions: `cr.call("softmax", x)`."""
    return _run(_function_rule(name, len(operands)), name, [_as_expr(o) for o in operands])


def _function_rule(name: object, count: int) -> Rule:
    if not isinstance(name, str) or name not in FUNCTIONS:
        close = difflib.get_close_matches(name, list(FUNCTIONS), n=1) if isinstance(name, str) else []
        raise ParseError(f"unknown function {name!r}", hint=f"Did you mean '{close[0]}'?" if close
                         else f"Known functions: {', '.join(sorted(FUNCTIONS))}.")
    if name in _TEXT_ONLY:
        raise ShapeError(f"{name}(...) takes sizes or a quoted spec, which only the text can give",
                         hint=f"Write it in an expression, e.g. cr.parse(\"{name}(...)\").")
    rule = FUNCTIONS[name]
    if rule.arity is not None and count != rule.arity:
        raise ShapeError(f"{name} takes {rule.arity} argument(s), but {count} are given")
    return rule


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
