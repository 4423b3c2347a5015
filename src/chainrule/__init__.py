"""chainrule: matrix calculus for deep learning: symbolic derivatives in matrix notation, checked numerically."""
from .api import LAYOUTS, check, derivative, hessian, parse
from .builder import (
    abs, call, cos, det, diag, exp, inv, log, logdet, logsumexp, matrix, maximum, minimum, norm1, norm2, relu, scalar,
    sigmoid, sign, sin, softmax, sqrt, sum, tan, tanh, tr, vector,
)
from .errors import ChainruleError, DerivativeError, EvaluationError, ParseError, ShapeError
from .explain import Derivation, explain
from .expr import Expr
from .numeric.check import CheckResult
from .trace import trace
from .training import TrainingResult, train

__all__ = [
    "LAYOUTS",
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
