"""Building expressions in Python: variables, and every function of the input language as `cr.<name>`.

Variables are made by `scalar_var`, `vector_var` and `matrix_var` (the language's `vector(c)` and `matrix(c)` are
tensors filled with c, and so are `cr.vector` and `cr.matrix`). The functions are derived from the language's own
table (language/rules.py FUNCTIONS), so they cannot drift from it: `cr.exp`, `cr.arctan`, `cr.det`, `cr.eye(3)`,
`cr.einsum("ij,j->i", A, x)`, ... Each applies the language's type rule and lowering (expr.apply_function), so
`cr.tr(A.T @ A)` is the same IR node as `parse("tr(A'*A)")` with the same declarations. A dimension is an operand or
`dim=` (from 1, as in MATLAB): `cr.sum(X, dim=2)` is `sum(X, 2)`, and `cr.max(X, dim=2)` and `cr.max(X, None, 2)` are
`max(X, [], 2)`.
"""
from __future__ import annotations

import builtins
import difflib
import numbers
from collections.abc import Callable, Mapping
from types import MappingProxyType

from . import boundary
from .errors import ParseError, ShapeError, UsageError
from .expr import Expr, apply_function, apply_operator
from .ir import Dim
from .language.rules import FUNCTIONS
from .simplify import build as b


def scalar_var(name: str) -> Expr:
    """A scalar variable.

    >>> import chainrule as cr
    >>> a = cr.scalar_var("a")
    >>> (a ** 2 / 2).evaluate(a=3.0)
    array(4.5)
    >>> print(cr.derivative(a ** 2 / 2, a))
    a
    """
    return Expr(b.var(boundary.name(name, "a variable's name"), ()))


def vector_var(name: str, dim: object = None) -> Expr:
    """A (column) vector variable of dimension `dim`: a size, a dimension's name, or by default its own dimension
    `n_<name>`. Variables that must agree in size share a dimension: give it, or take it from another's `.shape`.

    >>> import chainrule as cr
    >>> x = cr.vector_var("x")
    >>> x.shape
    ('n_x',)
    >>> y = cr.vector_var("y", x.shape[0])
    >>> print(cr.derivative(x.T @ y, x))
    y'
    >>> cr.vector_var("z", 3).shape
    (3,)
    """
    name = boundary.name(name, "a variable's name")
    return Expr(b.var(name, (_dim(f"n_{name}" if dim is None else dim),)), "col")


def matrix_var(name: str, rows: object = None, cols: object = None, symmetric: bool = False) -> Expr:
    """A matrix variable, rows×cols; square when only `rows` is given. Without sizes it has its own dimensions,
    `m_<name>`×`n_<name>` (`n_<name>`×`n_<name>` when symmetric). A symmetric matrix is differentiated as one.

    >>> import chainrule as cr
    >>> W = cr.matrix_var("W")
    >>> W.shape
    ('m_W', 'n_W')
    >>> x = cr.vector_var("x", W.shape[1])
    >>> print(cr.derivative(cr.sum(W @ x), x))
    sum(W, 1)
    >>> A = cr.matrix_var("A", "n", symmetric=True)
    >>> x = cr.vector_var("x", "n")
    >>> print(cr.derivative(x.T @ A @ x, x))
    2*x'*A
    """
    name = boundary.name(name, "a variable's name")
    if not isinstance(symmetric, bool):
        raise UsageError(f"symmetric must be True or False, not {symmetric!r}")
    if rows is None:
        rows, cols = (f"n_{name}", None) if symmetric else (f"m_{name}", f"n_{name}")
    rows, cols = _dim(rows), _dim(rows if cols is None else cols)
    if symmetric and rows != cols:
        raise ShapeError(f"a symmetric matrix is square, but {name} is declared {rows}x{cols}")
    return Expr(b.var(name, (rows, cols), symmetric))


def _dim(dim: object) -> Dim:
    """A dimension: a size (a whole number >= 1) or a name such as "n"."""
    if isinstance(dim, numbers.Integral) and not isinstance(dim, bool) and int(dim) >= 1:
        return int(dim)
    if isinstance(dim, str) and boundary.is_name(dim):
        return dim
    raise UsageError(f"a dimension is a whole number >= 1 or a name such as 'n', not {dim!r}")


def call(name: str, *operands: object) -> Expr:
    """The function `name` of the input language applied to expressions, numbers and, where the language takes quoted
    text, strings (sizes and einsum specs): the same as `cr.<name>(...)`.

    >>> import chainrule as cr
    >>> x = cr.vector_var("x")
    >>> print(cr.call("softmax", x))
    softmax(x)
    >>> cr.call("max", 0, x) == cr.maximum(0, x)
    True
    """
    if not isinstance(name, str) or name not in FUNCTIONS:
        close = difflib.get_close_matches(name, list(FUNCTIONS), n=1) if isinstance(name, str) else []
        raise ParseError(f"unknown function {name!r}", hint=f"Did you mean '{close[0]}'?" if close
                         else f"Known functions: {', '.join(sorted(FUNCTIONS))}.")
    return apply_function(name, *_language_operands(name, operands, {}))


def vstack(*parts: object) -> Expr:
    """[a; b; ...]: the parts one above the other (MATLAB's vertical concatenation).

    >>> import chainrule as cr
    >>> print(vstack(cr.vector_var("w", 3), cr.scalar_var("b")))
    [w; b]
    """
    return apply_operator("stack", *parts)


def hstack(*parts: object) -> Expr:
    """[a, b, ...]: the parts side by side (MATLAB's horizontal concatenation).

    >>> import chainrule as cr
    >>> print(hstack(cr.matrix_var("X", 4, 2), cr.vector(1, 4)))
    [X, vector(1, 4)]
    """
    return apply_operator("row", *parts)


# ---- cr.<name> for every function of the language ---------------------------------------------------------------

# Example arguments of each function, in text that is both Python and the input language (x and y vectors, A a
# square matrix); a function not listed takes one vector. tests/test_builder.py runs every example.
_EXAMPLE_ARGUMENTS = {
    "max": "x, y", "min": "x, y", "tr": "A", "det": "A", "logdet": "A", "inv": "A", "cofactor": "A, 2",
    "vector": '2, "n"', "matrix": '0.5, "n", "n"', "eye": "3", "einsum": '"ij,j->i", A, x',
    "size": "A, 2", "softmax": "A, 2", "logsoftmax": "A, 2", "logsumexp": "A, 1", "mean": "A, 2",
}
# NumPy's names of the element-wise max and min (the language's max(a, b) and min(a, b))
_ALIASES = {"maximum": "max", "minimum": "min"}


def _docstring(name: str) -> str:
    arguments = _EXAMPLE_ARGUMENTS.get(name, "x")
    return f"""{name}(...) of the input language, applied to Python expressions (see cr.call).

    >>> import chainrule as cr
    >>> x, y, A = cr.vector_var("x", "n"), cr.vector_var("y", "n"), cr.matrix_var("A", "n", "n")
    >>> cr.{name}({arguments}) == cr.parse('{name}({arguments})', x=("n",), y=("n",), A=("n", "n"))
    True
    """


def _function(name: str) -> Callable[..., Expr]:
    def function(*operands: object, **keywords: object) -> Expr:
        return apply_function(name, *_language_operands(name, operands, keywords))
    function.__name__ = function.__qualname__ = name
    function.__doc__ = _docstring(name)
    return function


# ---- dimensions: cr.sum(X, 2) or cr.sum(X, dim=2); cr.max(X, None, 2) (MATLAB's max(X, [], 2)) or cr.max(X, dim=2)

# the functions whose second operand may be a dimension (MATLAB's: 1 down the columns, 2 along each row)
_ALONG_DIMENSION = frozenset({"sum", "mean", "logsumexp", "softmax", "logsoftmax", "size"})
_EXTREMA = frozenset({"max", "min"})     # max(X, [], d): the dimension is the third operand


def _language_operands(name: str, operands: tuple, keywords: dict) -> tuple:
    """The operands as the language takes them: `dim=d` placed where the language writes d, and MATLAB's [] (None,
    or an empty list) only as the middle operand of max and min."""
    along = name in _EXTREMA and len(operands) == 3
    if along and isinstance(operands[1], (list, tuple)) and not operands[1]:
        operands = (operands[0], None, operands[2])
    if any(o is None and not (along and k == 1) for k, o in enumerate(operands)):
        raise UsageError(f"None stands for MATLAB's [] and is only the middle operand of max and min along a "
                         f"dimension, not an operand of cr.{name}",
                         hint="Write cr.max(X, None, 2) or cr.max(X, dim=2) for each row's largest entry.")
    if not keywords:
        return operands
    return operands + _dimension_operands(name, operands, keywords)


def _dimension_operands(name: str, operands: tuple, keywords: dict) -> tuple:
    """What follows the expression for `dim=d`: (d,), or (None, d) for max and min."""
    takes_dimension = name in _ALONG_DIMENSION | _EXTREMA
    for keyword in keywords:
        if keyword != "dim" or not takes_dimension:
            raise UsageError(f"cr.{name} takes no keyword argument {keyword!r}",
                             hint=f"A dimension is dim=, counted from 1 as in MATLAB: cr.{name}(X, dim=2) works along "
                                  "each row, dim=1 down the columns (not NumPy's axis=, counted from 0)."
                             if takes_dimension else None)
    if len(operands) != 1:
        raise UsageError(f"cr.{name}(..., dim=d) takes one expression and the dimension, but {len(operands)} "
                         "operands are given", hint=f"Write cr.{name}(X, dim=2).")
    return (None, keywords["dim"]) if name in _EXTREMA else (keywords["dim"],)


# name -> the function; chainrule/__init__.py serves them as cr.<name>
_BY_NAME = {name: _function(name) for name in FUNCTIONS}
PYTHON_FUNCTIONS: Mapping[str, Callable[..., Expr]] = MappingProxyType(
    {**_BY_NAME, **{alias: _BY_NAME[name] for alias, name in _ALIASES.items()}})
# the names `from chainrule import *` brings: not cr.sum, cr.abs, cr.max, cr.min, which would shadow Python's own
EXPORTED = tuple(name for name in PYTHON_FUNCTIONS if not hasattr(builtins, name))
