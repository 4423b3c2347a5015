"""chainrule: matrix calculus for deep learning: symbolic derivatives in matrix notation, checked numerically."""
from .api import LAYOUTS, check, derivative, hessian, parse
from .builder import call, matrix, scalar, vector
from .errors import ChainruleError, DerivativeError, EvaluationError, ParseError, ShapeError
from .expr import Expr
from .numeric.check import CheckResult

__all__ = [
    "parse", "derivative", "hessian", "check", "LAYOUTS", "Expr", "CheckResult",
    "scalar", "vector", "matrix", "call",
    "ChainruleError", "ParseError", "ShapeError", "EvaluationError", "DerivativeError",
]
