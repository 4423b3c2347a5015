"""chainrule: matrix calculus for deep learning: symbolic derivatives in matrix notation, checked numerically."""
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version

try:
    __version__ = _version("chainrule")     # the package metadata (pyproject.toml): the one source of truth
except PackageNotFoundError:                # a source tree that is not installed
    __version__ = "0+unknown"

from .api import LAYOUTS, check, derivative, hessian, parse
from .builder import (  # noqa: F401  (cr.sum and cr.abs on purpose, not in __all__)
    abs,
    call,
    cos,
    det,
    diag,
    exp,
    inv,
    log,
    logdet,
    logsumexp,
    matrix,
    maximum,
    minimum,
    norm1,
    norm2,
    relu,
    scalar,
    sigmoid,
    sign,
    sin,
    softmax,
    sqrt,
    sum,
    tan,
    tanh,
    tr,
    vector,
)
from .errors import ChainruleError, DerivativeError, EvaluationError, ParseError, ShapeError, UsageError
from .explain import Derivation, explain
from .expr import Expr
from .limits import LimitError, Limits, current_limits, limits
from .numeric.check import CheckResult
from .numeric.diagnose import NonFinite, diagnose
from .trace import trace
from .training import TrainingResult, train

# cr.sum and cr.abs exist too, but stay out of `import *`, which would shadow Python's own
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
    "cos",
    "current_limits",
    "derivative",
    "det",
    "diag",
    "diagnose",
    "exp",
    "explain",
    "hessian",
    "inv",
    "limits",
    "log",
    "logdet",
    "logsumexp",
    "matrix",
    "maximum",
    "minimum",
    "norm1",
    "norm2",
    "parse",
    "relu",
    "scalar",
    "sigmoid",
    "sign",
    "sin",
    "softmax",
    "sqrt",
    "tan",
    "tanh",
    "tr",
    "trace",
    "train",
    "vector",
]
