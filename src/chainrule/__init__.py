"""chainrule: matrix calculus for deep learning: symbolic derivatives in matrix notation, checked numerically."""
from .api import LAYOUTS, check, derivative, hessian, parse
from .builder import (  # noqa: F401  (cr.sum and cr.abs on purpose, not in __all__)
    abs, call, cos, det, diag, exp, inv, log, logdet, logsumexp, matrix, maximum, minimum, norm1, norm2, relu, scalar,
    sigmoid, sign, sin, softmax, sqrt, sum, tan, tanh, tr, vector,
)
from .errors import ChainruleError, DerivativeError, EvaluationError, ParseError, ShapeError
from .explain import Derivation, explain
from .expr import Expr
from .numeric.check import CheckResult
from .limits import LimitError, Limits, current_limits, limits
from .trace import trace
from .training import TrainingResult, train

# cr.sum and cr.abs exist too, but stay out of `import *`, which would shadow Python's own
__all__ = [
    "exp", "log", "sin", "cos", "tan", "tanh", "sqrt", "sigmoid", "relu", "sign", "norm1", "norm2", "tr",
    "det", "logdet", "inv", "diag", "softmax", "logsumexp", "maximum", "minimum",
    "LAYOUTS",
    "LimitError",
    "Limits",
    "current_limits",
    "limits",
    "ChainruleError",
    "CheckResult",
    "Derivation",
    "DerivativeError",
    "EvaluationError",
    "Expr",
    "ParseError",
    "ShapeError",
    "TrainingResult",
    "call",
    "check",
    "derivative",
    "explain",
    "hessian",
    "matrix",
    "parse",
    "scalar",
    "trace",
    "train",
    "vector",
]
