"""chainrule: matrix calculus for deep learning: symbolic derivatives in matrix notation, checked numerically.

Besides the names below, every function of the input language is `cr.<name>` (chainrule.builder.PYTHON_FUNCTIONS):
`cr.exp`, `cr.det`, `cr.einsum`, ... and `cr.maximum`, `cr.minimum` (NumPy's names for the language's max and min).

>>> import chainrule as cr
>>> x, A = cr.vector_var("x", "n"), cr.matrix_var("A", "n", "n")
>>> print(cr.derivative(cr.sum(cr.exp(A @ x)), x))
exp(A*x)'*A
"""
from collections.abc import Callable
from difflib import get_close_matches
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version

try:
    __version__ = _version("chainrule")     # the package metadata (pyproject.toml): the one source of truth
except PackageNotFoundError:                # a source tree that is not installed
    __version__ = "0+unknown"

from . import builder as _builder
from .api import LAYOUTS, check, codegen, compile, derivative, diagnose, hessian, parse
from .builder import call, hstack, matrix_var, scalar_var, vector_var, vstack
from .errors import ChainruleError, DerivativeError, EvaluationError, ParseError, ShapeError, UsageError
from .explain import Derivation, explain
from .expr import Expr
from .limits import LimitError, Limits, current_limits, limits
from .numeric.check import CheckResult
from .numeric.diagnose import NonFinite
from .trace import trace
from .training import TrainingResult, train

# and the language's functions, builder.EXPORTED (not sum, abs, max, min, which would shadow Python's own)
__all__ = [
    "LAYOUTS",
    "ChainruleError",
    "CheckResult",
    "Derivation",
    "DerivativeError",
    "EvaluationError",
    "Expr",
    "LimitError",
    "Limits",
    "NonFinite",
    "ParseError",
    "ShapeError",
    "TrainingResult",
    "UsageError",
    "call",
    "check",
    "codegen",
    "compile",
    "current_limits",
    "derivative",
    "diagnose",
    "explain",
    "hessian",
    "hstack",
    "limits",
    "matrix_var",
    "parse",
    "scalar_var",
    "trace",
    "train",
    "vector_var",
    "vstack",
]
__all__.extend(_builder.EXPORTED)


def __getattr__(name: str) -> Callable[..., Expr]:
    """cr.<name> for every function of the input language (module attributes looked up last, PEP 562)."""
    try:
        return _builder.PYTHON_FUNCTIONS[name]
    except KeyError:
        close = get_close_matches(name, __dir__(), n=1)     # cr.vector_var for the former cr.scalar, ...
        hint = f"; did you mean cr.{close[0]}?" if close else ""
        raise AttributeError(f"module 'chainrule' has no attribute {name!r}{hint}") from None


def __dir__() -> list[str]:
    return sorted({*globals(), *_builder.PYTHON_FUNCTIONS})
