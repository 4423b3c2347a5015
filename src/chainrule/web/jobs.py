"""One request of the page as plain data: read its parameters, compute in a worker process, answer a JSON object.

The parameters are those of the page's address (`?expr=x'*A*x&wrt=x&var=A:symmetric&order=2&layout=denominator`),
so a shared link and an API call say the same thing. Only the expression language is ever evaluated.

>>> answer("derive", Params("x'*A*x", "x"))["result"]["text"]
"x'*(A+A')"
"""
from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .. import api
from ..arguments import declarations, random_values, values
from ..calculus.layout import LAYOUTS
from ..errors import ChainruleError, EvaluationError, UsageError
from ..explain import explain
from ..explain.html import derivation_html, derivation_svg
from ..explain.render import Math
from ..notation import index_form
from ..notation.mathml import to_mathml
from ..trace import trace
from ..trace.html import trace_html, trace_svg
from ..trace.render import array as array_text

KINDS = ("derive", "explain", "trace", "export")
MODES = ("reverse", "forward")
TARGETS = ("numpy", "torch", "jax")

# the examples offered on the page: the paper's worked examples, the README's results, batched models
EXAMPLES = (
    {"label": "Quadratic form x'Ax", "expr": "x'*A*x", "wrt": "x"},
    {"label": "Paper: ln(sin(x³)²)", "expr": "ln(sin(x^3)^2)", "wrt": "x", "var": ["x:scalar"]},
    {"label": "Paper: ReLU neuron", "expr": "max(0, w'*x+b)", "wrt": "w"},
    {"label": "Paper: MSE of a neuron", "expr": "sum((max(0, X*w+b*vector(1, \"N1\"))-y).^2)/N", "wrt": "w",
     "var": ["X:N1,n", "y:N1", "N:scalar", "b:scalar"]},
    {"label": "Least squares", "expr": "norm2(X*w-y)^2", "wrt": "w"},
    {"label": "Trace of X'AX", "expr": "tr(X'*A*X)", "wrt": "X"},
    {"label": "Logistic loss (Hessian)", "expr": "sum(log(1+exp(-y.*(X*w))))", "wrt": "w", "order": 2},
    {"label": "Log-sum-exp", "expr": "log(sum(exp(A*x)))", "wrt": "x"},
    {"label": "Low-rank factorisation", "expr": "norm2(T-U*V')^2", "wrt": "U"},
    {"label": "Softmax (Jacobian)", "expr": "softmax(x)", "wrt": "x"},
    {"label": "Matrix inverse (4 indices)", "expr": "inv(X)", "wrt": "X"},
    {"label": "A*X*B (4 indices)", "expr": "A*X*B", "wrt": "X"},
    {"label": "Batched linear layer", "expr": "sum(sum((X*W + vector(1)*b' - Y).^2))", "wrt": "W"},
    {"label": "Batched tanh layer", "expr": "sum(sum((tanh(X*W + vector(1)*b') - Y).^2))", "wrt": "b"},
)


@dataclass(frozen=True)
class Params:
    """What the page asks: the expression, the variable, declarations (`A:symmetric`, `X:m,n`), derivative order,
    layout, accumulation mode, values (`x:1,2,3`, `A:1,2;3,4`) and seed for the trace, the export target and whether
    the exported code computes the Hessian too."""
    expr: str
    wrt: str = ""
    var: tuple[str, ...] = ()
    order: int = 1
    layout: str = "numerator"
    mode: str = "reverse"
    at: tuple[str, ...] = ()
    seed: int = 0
    target: str = "numpy"
    hessian: bool = False


class RequestError(Exception):
    """A request the server refuses before any work: status and message."""

    def __init__(self, status: int, message: str, hint: str = ""):
        super().__init__(message)
        self.status, self.message, self.hint = status, message, hint


def read_params(query: Mapping[str, object], max_chars: int) -> Params:
    """Params from a query (name -> list of strings, as urllib.parse.parse_qs gives) or a JSON object."""
    def one(name: str, default: str = "") -> str:
        value = query.get(name, default)
        if isinstance(value, list):
            value = value[-1] if value else default
        return str(value)

    def many(name: str) -> tuple[str, ...]:
        value = query.get(name, [])
        items = [value] if isinstance(value, str) else list(value)  # type: ignore[call-overload]
        return tuple(_pair(str(v)) for v in items if str(v).strip())

    expr = one("expr").strip()
    if not expr:
        raise RequestError(400, "no expression", "Type one, for example x'*A*x.")
    if len(expr) > max_chars:
        raise RequestError(413, f"the expression has {len(expr):,} characters, more than this server's limit of "
                                f"{max_chars:,}", "Start the server with a larger --max-chars.")
    return Params(expr, one("wrt").strip(), many("var"), _int(one("order", "1"), "order", 1),
                  _choice(one("layout", "numerator"), LAYOUTS, "layout"),
                  _choice(one("mode", "reverse"), MODES, "mode"), many("at"), _int(one("seed", "0"), "seed", 0),
                  _choice(one("target", "numpy"), TARGETS, "target"), hessian=_flag(one("hessian", "0"), "hessian"))


def _pair(item: str) -> str:
    """`A:symmetric` (the address's form) or `A=symmetric` (the command line's) -> `A=symmetric`."""
    name, colon, rest = item.partition(":")
    return item if "=" in name or not colon else f"{name}={rest}"


def _int(text: str, name: str, minimum: int) -> int:
    try:
        number = int(text)
    except ValueError:
        raise RequestError(400, f"{name} must be a whole number, not {text[:40]!r}") from None
    if number < minimum or number > 10**9:
        raise RequestError(400, f"{name} must be between {minimum} and 10^9, not {number}")
    return number


def _flag(text: str, name: str) -> bool:
    """`1`/`0` as the address has it (also true/false, as a JSON object sends them)."""
    value = {"1": True, "true": True, "0": False, "false": False}.get(text.strip().lower())
    if value is None:
        raise RequestError(400, f"{name} must be 1 or 0, not {text[:40]!r}")
    return value


def _choice(text: str, choices: tuple, name: str) -> str:
    if text not in choices:
        raise RequestError(400, f"unknown {name} {text[:40]!r}", f"Use one of {', '.join(choices)}.")
    return text


# ---- the work, in a worker process ----

def answer(kind: str, p: Params) -> dict:
    """The JSON object answering one request; errors of the input are {"error": {...}} (never an exception)."""
    try:
        with np.errstate(all="ignore"):
            return JOBS[kind](p)
    except ChainruleError as error:
        return {"error": error_dict(error)}
    except Exception as error:
        message = f"internal error ({type(error).__name__}: {error}); please report it"
        return {"error": {"kind": "internal", "message": message, "text": None, "start": None, "end": None,
                          "hint": None, "rendered": message}}


def as_json(result: dict) -> str:
    """One line of JSON; a number JSON cannot hold (NaN, infinity) becomes null."""
    try:
        return json.dumps(result, allow_nan=False, ensure_ascii=False)
    except ValueError:
        return json.dumps(_finite(result), allow_nan=False, ensure_ascii=False)


def _finite(value: object) -> object:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def error_dict(error: ChainruleError) -> dict:
    """An error as the page shows it: the message, the expression with a caret under the place, the hint."""
    return {"kind": type(error).__name__, "message": error.message, "text": error.text, "start": error.start,
            "end": error.end, "hint": error.hint, "rendered": error.render()}


def _setup(p: Params) -> tuple[api.Expr, dict, str]:
    decls = declarations([item for item in p.var if not item.endswith("=")], p.expr)
    f = api.parse(p.expr, decls)
    if not f.variables:
        raise UsageError("the expression has no variables to differentiate by", hint="Use a variable, as in x'*A*x.")
    wrt = p.wrt or ("x" if "x" in f.variables else next(iter(f.variables)))
    return f, decls, wrt


def _formula(e) -> dict:
    return {"text": e.text(), "unicode": e.unicode(), "latex": e.latex(), "mathml": to_mathml(e.latex(), "block"),
            "shape": [str(s) for s in e.shape], "kind": e.stype.kind}


def derive(p: Params) -> dict:
    f, _, wrt = _setup(p)
    d = api.derivative(f, wrt, order=p.order, layout=p.layout)
    result = _formula(d)
    index = _index_latex(d)
    if index is not None:
        result["index"] = {"latex": index, "mathml": to_mathml(index, "block")}
    return {"expression": _formula(f), "variables": f.inferred(), "notes": list(f.notes), "wrt": wrt,
            "order": p.order, "layout": p.layout, "result": result, "check": _check(f, wrt, p)}


def _index_latex(d: api.Expr) -> str | None:
    """A 3- or 4-index result in index notation, J_{ijkl} = -Σ A_{ik} B_{lj}: a scalar factor written first."""
    form = index_form(d.node, "latex") if d.node.rank >= 3 else None
    if form is None:
        return None
    specs = d.node.params.specs
    scalars = [f for f, spec in zip(form.factors, specs, strict=True) if not spec]
    tensors = [f for f, spec in zip(form.factors, specs, strict=True) if spec]
    coefficient = "-" if scalars == ["-1"] else "".join(f"{s} " for s in scalars)
    return f"{form.entry('J')} = {coefficient}{form.style.summed(form.summed, ' '.join(tensors))}"


def _check(f: api.Expr, wrt: str, p: Params) -> dict:
    try:
        c = api.check(f, wrt, order=p.order, seed=p.seed)
    except EvaluationError as error:
        return {"ok": None, "message": error.message}
    return {"ok": c.ok, "max_abs_error": c.max_abs_error, "max_rel_error": c.max_rel_error,
            "directions": c.directions, "message": str(c).removeprefix("finite-difference check: ")}


def explain_job(p: Params) -> dict:
    _f, decls, wrt = _setup(p)
    d = explain(p.expr, wrt, layout=p.layout, order=p.mode, declarations=decls)
    m = Math(True)
    locals_by: dict[str, list] = {}
    for e in d.locals:
        assert e.jacobian is not None, "every Local of a Derivation has its Jacobian"
        eq = f"{m.deriv(e.of, e.copy or e.by)} = {m.expr(e.jacobian)}"
        locals_by.setdefault(e.of, []).append({"by": e.by, "shape": e.shape, "rule": e.rule, "text": e.jacobian.text(),
                                               "mathml": to_mathml(eq)})
    nodes = {u.name: {"formula": u.formula.text(), "source": u.source, "kind": u.kind, "on_path": u.on_path,
                      "mathml": to_mathml(f"{m.name(u.name)} = {m.expr(u.formula)}"),
                      "locals": locals_by.get(u.name, [])} for u in d.definitions}
    return {"wrt": wrt, "rule": d.rule, "html": derivation_html(d, graph=False), "svg": derivation_svg(d),
            "nodes": nodes, "result": _formula(d.result), "first_order_only": p.order > 1}


def trace_job(p: Params) -> dict:
    f, decls, wrt = _setup(p)
    given = values([a for a in p.at if not a.endswith("=")])
    at = {**random_values(f, seed=p.seed, wrt=[wrt]), **_fit(given, f)} if given else \
        random_values(f, seed=p.seed, wrt=[wrt])
    t = trace(p.expr, [wrt], at, p.mode, declarations=decls, seed=p.seed)
    shown = {n: _value_text(v) for n, v in t.values.items()}
    return {"wrt": wrt, "html": trace_html(t), "svg": trace_svg(t), "trace": t.to_dict(), "values": shown,
            "ok": t.ok}


def _fit(given: dict, f: api.Expr) -> dict:
    unknown = [n for n in given if n not in f.variables]
    if unknown:
        raise UsageError(f"a value is given for {unknown[0]}, which is not a variable of the expression")
    return {n: v.reshape(()) if not f.variables[n][0] and v.size == 1 else v for n, v in given.items()}


def _value_text(v: np.ndarray) -> str:
    """A value as the value boxes take it back: 1.5, 1,2,3 or 1,2;3,4 (full precision)."""
    v = np.asarray(v, dtype=float)
    if v.ndim == 0:
        return repr(float(v))
    if v.ndim == 1:
        return ",".join(repr(float(x)) for x in v)
    if v.ndim == 2:
        return ";".join(",".join(repr(float(x)) for x in row) for row in v)
    return array_text(v, full=True)


def export_job(p: Params) -> dict:
    f, _, wrt = _setup(p)
    d = api.derivative(f, wrt, order=p.order, layout=p.layout)
    generate = _codegen()
    answer_: dict = {"wrt": wrt, "text": d.text(), "latex": d.latex(), "target": p.target, "hessian": p.hessian,
                     "code": None, "codegen": generate is not None, "codegen_error": None}
    if generate is not None:
        try:
            answer_["code"] = str(generate(f, wrt, target=p.target, hessian=p.hessian))
        except Exception as error:
            answer_["codegen_error"] = f"{type(error).__name__}: {error}"
    return answer_


def _codegen():
    """cr.codegen(f, wrt, target=...) where this version of chainrule has it, else None."""
    found = getattr(api, "codegen", None)
    return found if callable(found) else None


JOBS = {"derive": derive, "explain": explain_job, "trace": trace_job, "export": export_job}


def examples() -> list[dict]:
    return [dict(e) for e in EXAMPLES]

