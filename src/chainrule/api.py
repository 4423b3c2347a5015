"""The public functions: parse, derivative, hessian, check, diagnose."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from . import boundary
from . import codegen as generated
from .calculus.layout import LAYOUTS, arrange
from .calculus.reverse import jacobian
from .collector import fewer_collections
from .errors import DerivativeError, EvaluationError, ParseError, UsageError
from .expr import Expr
from .ir.intern import nodes_made
from .language import compile_text
from .limits import current_limits
from .numeric.bind import bind
from .numeric.check import CheckResult, directional_check
from .numeric.diagnose import NonFinite, nonfinite_origin
from .numeric.points import finite_points, valid_seed
from .simplify import build as b


def parse(text: str, declarations: Mapping[str, object] | None = None, /, **kinds: object) -> Expr:
    """Read an expression; declarations give kinds ("vector", "symmetric", ...) or dimension tuples, as a mapping,
    as keywords, or both (the mapping serves variables called `text`, `declarations`, ...).

    >>> parse("x'*A*x", A="symmetric").shape
    ()
    >>> parse("text+1", {"text": "vector"}).shape
    ('n',)

    Where each kind came from, and what a guess changed:

    >>> parse("sin(x^2) + A*y").origins       # x, a vector by its letter, must be a scalar in x^2
    {'x': 'use', 'A': 'name', 'y': 'name'}
    >>> parse("k*norm2(w)^2").notes  # doctest: +NORMALIZE_WHITESPACE
    ("the result is a col vector because 'k' was read as a vector from its name; declared a scalar,
      it gives a scalar result",)
    """
    if isinstance(text, Expr):
        raise ParseError("parse reads text; this is already an Expr", hint="Use the Expr itself.")
    if not isinstance(text, str):
        raise ParseError(f"an expression must be text, not {type(text).__name__}", hint="Write it as text: \"x'*A*x\".")
    with fewer_collections():
        compiled = compile_text(text, boundary.declarations(declarations, kinds))
        return Expr(compiled.node, compiled.stype.orient, compiled.variables, compiled.origins, compiled.notes)


def _as_expr(f: Expr | str, function: str = "derivative") -> Expr:
    """f as an Expr (text is parsed); anything else is a UsageError that says what was expected."""
    if isinstance(f, str):
        return parse(f)
    if isinstance(f, Expr):
        return f
    raise UsageError(f"{function} needs an expression (text such as \"x'*A*x\" or a chainrule Expr), "
                     f"not {type(f).__name__}")


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
    if not isinstance(layout, str) or layout not in LAYOUTS:
        raise DerivativeError(f"unknown layout '{layout}'", hint=f"Use one of {', '.join(LAYOUTS)}.")
    if isinstance(order, bool) or not isinstance(order, int) or order < 0:
        raise DerivativeError(f"the order must be a whole number >= 0, not {order!r}")
    current_limits().check("order", order, "the derivative order")
    x = _variable(f, wrt)
    node, start = f.node, nodes_made()
    with fewer_collections():
        for _ in range(order):
            node = jacobian(node, x, since=start)      # Limits.nodes bounds all k orders together
        node, orient = arrange(node, f.node.rank, x.rank, order, layout)
        return Expr(node, orient, f.variables, f.origins)


def hessian(f: Expr | str, wrt: str | Expr, layout: str = "numerator") -> Expr:
    """The second derivative, `derivative(f, wrt, order=2)`: shape f.shape + x.shape + x.shape.

    >>> print(hessian("x'*A*x", "x"))
    A+A'
    >>> hessian("sum(exp(x))", "x").evaluate(x=[0.0, 1.0])
    array([[1.        , 0.        ],
           [0.        , 2.71828183]])
    """
    return derivative(f, wrt, order=2, layout=layout)


def _variable(f: Expr, wrt: object):
    name = wrt if isinstance(wrt, str) else (wrt.node.params.name if isinstance(wrt, Expr) and wrt.node.op == "var"
                                             else None)
    if name is None or name not in f.variables:
        known = ", ".join(f.variables) or "none"
        raise DerivativeError(f"cannot differentiate by {wrt!r}: it is not a variable of the expression",
                              hint=f"Its variables are: {known}.")
    shape, symmetric = f.variables[name]
    return b.var(name, shape, symmetric)


def check(f: Expr | str, wrt: str, at: Mapping[str, object] | None = None, order: int = 1,
          seed: int = 0) -> CheckResult:
    """Compare the symbolic derivative of f by wrt (of the given order) with central finite differences at `at`.

    Without `at`, at random values: matrices general (not symmetric) unless declared symmetric, drawn again from
    new seeds where f or its derivative is not finite there; if none of 20 points (numeric.points.TRIES) is, an
    EvaluationError says so.

    >>> check("sum(exp(x))", "x", at={"x": [0.1, 0.2]}).ok
    True
    >>> check("n*log(s) + norm2(x-m)^2/(2*s^2)", "s").ok
    True
    """
    f = _as_expr(f, "check")
    if isinstance(order, bool) or not isinstance(order, int) or order < 1:
        raise DerivativeError(f"check compares a derivative of order 1 or more, not {order!r}")
    seed = valid_seed(seed)
    wrt = _variable(f, wrt).params.name
    lower = derivative(f, wrt, order - 1) if order > 1 else f
    upper = derivative(f, wrt, order)
    if at is None:
        return _check_at_random(f, wrt, lower, upper, seed)
    return _check_at(f, wrt, lower, upper, _check_values(f, wrt, at), seed)


def check_gradient(f: Expr, wrt: str, d: Expr, at: Mapping[str, object], seed: int = 0) -> CheckResult:
    """check(f, wrt, at, seed=seed) for a caller that holds d = derivative(f, wrt) already (trace: a deep
    expression's derivative is built once, not once per use)."""
    return _check_at(f, wrt, f, d, _check_values(f, wrt, at), valid_seed(seed))


def _check_values(f: Expr, wrt: str, at: object) -> dict:
    if not isinstance(at, Mapping):
        raise EvaluationError(f"check needs values as a mapping from names to numbers, not {type(at).__name__}",
                              hint=f"Write at={{'{wrt}': ...}}, or leave `at` out for random values.")
    if wrt not in at:
        raise DerivativeError(f"check needs a value for {wrt}, the variable it differentiates by",
                              hint=f"Add it: at={{'{wrt}': ...}}.")
    return bind(f.variables, at, set())[1]


def _check_at(f: Expr, wrt: str, lower: Expr, upper: Expr, values: dict, seed: int) -> CheckResult:
    def at_x(x):
        return lower.evaluate({**values, wrt: x})

    rng = np.random.default_rng(seed)
    symmetric = f.variables[wrt].symmetric
    with np.errstate(all="ignore"):  # a point outside the domain is reported by the result, not by warnings
        return directional_check(at_x, upper.evaluate(values), values[wrt], lower.node.rank, rng,
                                 symmetric=symmetric)


def _check_at_random(f: Expr, wrt: str, lower: Expr, upper: Expr, seed: int) -> CheckResult:
    """The check at the first random point where every number it compares is finite."""
    for values in finite_points(f.variables, (lower, upper), seed):  # the point itself first: probes cost more
        try:
            result = _check_at(f, wrt, lower, upper, values, seed)
        except EvaluationError:  # a probe around the point left the domain (inv of a singular matrix)
            continue
        if result.finite:
            return result
    raise AssertionError("finite_points ends by raising")  # pragma: no cover


def diagnose(f: Expr | str, values: Mapping[str, object]) -> NonFinite | None:
    """Evaluate f (an Expr or text) at `values`; when its value has NaN or infinite entries, the intermediate where
    they start (its operands all finite) and why; None when the value is finite. Works for derivatives too.

    An intermediate that is not finite only where a structural zero discards it (a Kronecker delta, a unit vector)
    does not make the value non-finite, and is not reported.

    >>> diagnose("exp(a)", {"a": 1.0}) is None
    True
    >>> diagnose("exp(a)", {"a": 1000.0}).reason
    'overflow in exp, exp(1000)'
    """
    expr = parse(f) if isinstance(f, str) else f
    if not isinstance(expr, Expr):
        raise EvaluationError(f"cannot diagnose a {type(f).__name__}", hint="Give an expression as text or an Expr.")
    given = boundary.mapping(values, "the values", "cr.diagnose(f, {'x': [1, 2]})")
    return nonfinite_origin(expr.node, expr.variables, given)


def codegen(f: Expr | str, wrt: str | Sequence[str], target: str = "numpy", name: str | None = None,
            hessian: bool = False, hvp: bool = False, sizes: Mapping[str, int] | None = None,
            jvp: bool = False) -> str:
    """The source of a Python module that computes the scalar f and its gradient by wrt, in NumPy, PyTorch or JAX
    (target "numpy", "torch" or "jax"). It needs only its library: save it and import it.

    Every module has `f`, `grad` and `value_and_grad`, taking the variables in order of first appearance (keywords
    work too); with "numpy" also `check_grad()`, and `hessian` / `hvp(..., v)` when asked. `sizes` (dimension name ->
    size, every other dimension 1000) is what the products are ordered for; `name` names the function (an alias of
    `f`, and the class name of the torch autograd function). `jvp=True` (torch only) adds a forward-mode `jvp` to the
    autograd function, at the cost of torch.compile(fullgraph=True) (see the README).

    >>> src = codegen("sum(log(1+exp(-y.*(X*w))))", "w")
    >>> "def value_and_grad(y, X, w):" in src and "import chainrule" not in src
    True
    """
    f = _as_expr(f, "codegen")
    names = [wrt] if isinstance(wrt, (str, Expr)) else list(wrt)
    if not names:
        raise UsageError("codegen needs at least one variable to differentiate by", hint="Give wrt=\"x\".")
    wrts = list(dict.fromkeys(_variable(f, w).params.name for w in names))
    for option, value in (("hessian", hessian), ("hvp", hvp), ("jvp", jvp)):
        if not isinstance(value, bool):
            raise UsageError(f"{option} must be True or False, not {value!r}")
    return generated.source(f, wrts, target, name, hessian, hvp, _sizes(sizes), jvp)


def compile(f: Expr | str, wrt: str | Sequence[str], target: str = "numpy", name: str | None = None,
            hessian: bool = False, hvp: bool = False, sizes: Mapping[str, int] | None = None, jvp: bool = False):
    """The module `codegen` writes, loaded: call its f, grad, value_and_grad (and hessian, hvp) directly.

    >>> m = compile("x'*A*x", "x")
    >>> m.grad([1.0, 2.0], [[1.0, 0.0], [0.0, 3.0]])
    array([ 2., 12.])
    """
    return generated.load(codegen(f, wrt, target, name, hessian, hvp, sizes, jvp), name or "chainrule_generated")


def _sizes(sizes: Mapping[str, int] | None) -> dict[str, int]:
    if sizes is None:
        return {}
    given = boundary.mapping(sizes, "sizes", "sizes={'n': 1000}")
    for key, value in given.items():
        if not isinstance(key, str) or isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise UsageError(f"sizes maps dimension names to whole numbers >= 1, not {key!r}: {value!r}",
                             hint="Write sizes={'n': 1000, 'r': 10}.")
    return dict(given)
