"""The public functions: parse, derivative, hessian, check."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .calculus.layout import LAYOUTS, arrange
from .calculus.reverse import jacobian
from .errors import DerivativeError
from .expr import Expr
from .language import compile_text
from .numeric.check import CheckResult, directional_check
from .simplify import build as b



def parse(text: str, **declarations: object) -> Expr:
    """Read an expression; declarations give kinds ("vector", "symmetric", ...) or dimension tuples.

    >>> parse("x'*A*x", A="symmetric").shape
    ()
    """
    compiled = compile_text(text, declarations)
    return Expr(compiled.node, compiled.stype.orient, compiled.variables)


def _as_expr(f: Expr | str) -> Expr:
    return parse(f) if isinstance(f, str) else f


def derivative(f: Expr | str, wrt: str | Expr | Sequence, order: int = 1, layout: str = "numerator"):
    """The generalized Jacobian of f by the variable wrt: shape f.shape + x.shape (numerator layout).

    `order=k` differentiates k times; `layout="denominator"` puts x's indices first; a list of variables gives a
    tuple of derivatives, one per variable.

    >>> str(derivative("x'*A*x", "x"))
    "x'*(A+A')"
    """
    f = _as_expr(f)
    if isinstance(wrt, (list, tuple)):
        return tuple(derivative(f, w, order, layout) for w in wrt)
    if layout not in LAYOUTS:
        raise DerivativeError(f"unknown layout '{layout}'", hint=f"Use one of {', '.join(LAYOUTS)}.")
    if not isinstance(order, int) or order < 0:
        raise DerivativeError(f"the order must be a whole number >= 0, not {order!r}")
    x = _variable(f, wrt)
    node = f.node
    for _ in range(order):
        node = jacobian(node, x)
    node, orient = arrange(node, f.node.rank, x.rank, order, layout)
    return Expr(node, orient, f.variables)


def hessian(f: Expr | str, wrt: str | Expr, layout: str = "numerator") -> Expr:
    """The second derivative: shape f.shape + x.shape + x.shape."""
    return derivative(f, wrt, order=2, layout=layout)


def _variable(f: Expr, wrt: str | Expr):
    name = wrt if isinstance(wrt, str) else (wrt.node.params[0] if isinstance(wrt, Expr) and wrt.node.op == "var"
                                             else None)
    if name is None or name not in f.variables:
        known = ", ".join(f.variables) or "none"
        raise DerivativeError(f"cannot differentiate by {wrt!r}: it is not a variable of the expression",
                              hint=f"Its variables are: {known}.")
    shape, symmetric = f.variables[name]
    return b.var(name, shape, symmetric)


def check(f: Expr | str, wrt: str, at: Mapping[str, object], order: int = 1, seed: int = 0) -> CheckResult:
    """Compare the symbolic derivative of f by wrt (of the given order) with central finite differences at `at`.

    >>> check("sum(exp(x))", "x", at={"x": [0.1, 0.2]}).ok
    True
    """
    f = _as_expr(f)
    if not isinstance(order, int) or order < 1:
        raise DerivativeError(f"check compares a derivative of order 1 or more, not {order!r}")
    if wrt not in at:
        raise DerivativeError(f"check needs a value for {wrt}, the variable it differentiates by",
                              hint=f"Add it: at={{'{wrt}': ...}}.")
    lower = derivative(f, wrt, order - 1) if order > 1 else f
    upper = derivative(f, wrt, order)
    values = {k: np.asarray(v, dtype=float) for k, v in at.items()}
    x0 = values[wrt]
    rng = np.random.default_rng(seed)

    def at_x(x):
        return lower.evaluate({**values, wrt: x})

    symmetric = f.variables[wrt].symmetric
    return directional_check(at_x, upper.evaluate(values), x0, lower.node.rank, rng, symmetric=symmetric)
