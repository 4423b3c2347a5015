"""The numbers of one backpropagation (or forward-mode) pass over the intermediates u1, u2, ... of an expression.

Nothing here differentiates by hand: every local Jacobian is `jacobian(u.local, a)` (the engine's own derivative of
the operation applied to fresh variables) evaluated at the operands' values, and the final gradients are compared with
`derivative` and with finite differences.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .. import boundary
from ..api import check_gradient, derivative, diagnose, parse
from ..calculus import jacobian
from ..errors import DerivativeError, EvaluationError
from ..expr import Expr
from ..language.steps import Intermediate, Steps, check_names, intermediates, source
from ..limits import current_limits
from ..notation.formula import formula
from ..numeric.bind import as_real_array, bind
from ..numeric.diagnose import first_nonfinite
from . import html, render, schema
from .model import BackwardStep, Directional, Edge, Gradient, Local, Step, Sum, TangentStep, TraceData

MODES = ("reverse", "forward")


class Trace(TraceData):
    """Every number of one chain-rule computation; print it with .text(), .markdown(), or serialise with .to_json()."""

    def text(self, full: bool = False) -> str:
        return render.text(self, full)

    def markdown(self, full: bool = False) -> str:
        return render.markdown(self, full)

    def _repr_markdown_(self) -> str:   # Jupyter shows the Markdown tables
        return self.markdown()

    def _repr_html_(self) -> str:
        """Jupyter: the tables as HTML (no script)."""
        return html.trace_html(self)

    def to_dict(self) -> dict:
        return schema.to_dict(self)

    def to_json(self, indent: int | None = 2) -> str:
        return schema.to_json(self, indent)

    def __str__(self) -> str:
        return self.text()


def trace(f: Expr | str, wrt: str | Sequence[str], at: Mapping[str, object], mode: str = "reverse",
          direction: Mapping[str, object] | object | None = None, *,
          declarations: Mapping[str, object] | None = None, seed: int = 0) -> Trace:
    """Evaluate f at `at` and record every step of the chain rule by the variables `wrt`.

    Reverse mode records, for each intermediate in reverse order, the upstream gradient, the local Jacobian by each
    operand and the downstream gradient; forward mode records the tangent of each intermediate along `direction`
    (a value per wrt variable; ones by default). Both end with a table of gradients checked against `derivative`
    and finite differences.

    >>> t = trace("max(0, w'*x+b)", ["w", "b"], at={"w": [1, 2], "x": [3, 4], "b": 0.5})
    >>> t.gradients[0].backprop.tolist(), t.ok
    ([3.0, 4.0], True)
    """
    if not isinstance(mode, str) or mode not in MODES:
        raise DerivativeError(f"unknown mode '{mode}'", hint="Use mode='reverse' or mode='forward'.")
    with np.errstate(all="ignore"):    # non-finite numbers are reported (Trace.not_finite), not warned about
        return _trace(f, wrt, at, mode, direction, declarations, seed)


def _trace(f, wrt, at, mode: str, direction, declarations, seed: int) -> Trace:
    text, decls = source(f, boundary.declarations(declarations, {}), "trace")
    steps = intermediates(text, decls)
    check_names(steps)
    expr = parse(text, **decls)
    wrt = _wrt(wrt, steps.variables)
    values = _values(at, steps.variables)
    forward = _forward(steps, values)
    env = {**values, **{s.name: s.value for s in forward}}
    value = np.asarray(env[steps.output] if steps.output in env else expr.evaluate(values), dtype=float)
    locals_ = _locals(steps, env, _needed(steps, wrt))
    derivatives = {w: derivative(expr, w) for w in wrt}     # each built once: the check and the tables share it
    common = {"expression": text, "mode": mode, "wrt": wrt, "values": values, "output": steps.output,
              "forward": forward, "value": value, "variables": {n: s for n, (s, _) in steps.variables.items()},
              "name": steps.free_name("f"), "limit": current_limits().explain_steps,
              "not_finite": _not_finite(steps, env, derivatives, values)}
    if mode == "reverse":
        backward, sums, grads = _backward(steps, locals_, env, value.shape, wrt)
        return Trace(**common, gradients=_gradients(expr, derivatives, values, grads, seed), backward=backward,
                     sums=sums)
    v = _direction(direction, wrt, values)
    tangents, out = _tangents(steps, locals_, v, value.shape)
    return Trace(**common, gradients=_gradients(expr, derivatives, values, None, seed), direction=v,
                 tangents=tangents, directional=_directional(expr, derivatives, values, v, out))


# ---- inputs ----

def _wrt(wrt: str | Sequence[str], variables: Mapping) -> tuple[str, ...]:
    names = (wrt,) if isinstance(wrt, str) else tuple(wrt) if isinstance(wrt, (list, tuple)) else (wrt,)
    for name in names:
        boundary.name(name, "a variable to trace the derivative by")
        if name not in variables:
            raise DerivativeError(f"cannot trace the derivative by '{name}': it is not a variable of the expression",
                                  hint=f"Its variables are: {', '.join(variables) or 'none'}.")
    if not names:
        raise DerivativeError("trace needs at least one variable to differentiate by", hint="Give wrt=['x'].")
    return tuple(dict.fromkeys(names))


def _values(at: Mapping[str, object] | None, variables: Mapping) -> dict:
    if at is None:
        raise EvaluationError("trace needs a value for every variable",
                              hint=f"Give at={{...}} with values for {', '.join(variables) or 'none'}.")
    _, arrays = bind(variables, boundary.mapping(at, "trace's values", "at={'x': [1, 2]}"), set(variables))
    return {n: arrays[n] for n in variables}


def _direction(direction, wrt: tuple[str, ...], values: dict) -> dict:
    if direction is None:
        return {w: np.ones_like(values[w]) for w in wrt}
    if not isinstance(direction, Mapping):
        if len(wrt) != 1:
            raise DerivativeError("a direction without names needs exactly one wrt variable",
                                  hint="Give direction={'w': ..., 'b': ...}.")
        direction = {wrt[0]: direction}
    unknown = sorted(set(direction) - set(wrt))
    if unknown:
        raise DerivativeError(f"the direction names {unknown[0]}, which is not a wrt variable",
                              hint=f"Give a direction for {', '.join(wrt)}.")
    return {w: _tangent_of(w, direction.get(w), values[w]) for w in wrt}


def _tangent_of(name: str, given: object, value: np.ndarray) -> np.ndarray:
    if given is None:
        return np.zeros_like(value)
    array = as_real_array(f"the direction for {name}", given)
    if array.size == value.size and array.shape != value.shape and array.ndim <= 1:
        array = array.reshape(value.shape)    # b=0.5 read as [0.5]
    if array.shape != value.shape:
        raise EvaluationError(f"the direction for {name} has shape {array.shape} but {name} has shape {value.shape}")
    return array


# ---- the passes ----

def _forward(steps: Steps, values: dict) -> tuple[Step, ...]:
    rows, env = [], dict(values)
    for u in steps.intermediates:
        env[u.name] = value = _value_of(u, env, steps)
        rows.append(Step(u.name, u.op, formula(u).text(), u.source, u.operands, tuple(u.stype.dims), value))
    return tuple(rows)


def _value_of(u: Intermediate, env: dict, steps: Steps) -> np.ndarray:
    """u's operation on its operands' values: linear work in the number of steps, whatever their nesting."""
    local = Expr(u.local)
    try:
        return np.asarray(local.evaluate({n: env[n] for n in local.variables}), dtype=float)
    except EvaluationError:   # a size that none of its operands fixes (vector(c, "n")): the variables give it
        scope = {**steps.variables, **{n: (np.shape(env[n]), False) for n in local.variables}}
        return np.asarray(Expr(u.local, None, scope).evaluate({n: env[n] for n in scope}), dtype=float)


def _not_finite(steps: Steps, env: dict, derivatives: dict[str, Expr], values: dict) -> str | None:
    """Where NaN or infinity first appears: the first intermediate whose value is not finite (diagnosed from its
    operands' values), else the first derivative by a wrt variable that is not; None when all are finite."""
    for u in steps.intermediates:
        if not np.all(np.isfinite(env[u.name])):
            local = Expr(u.local)
            report = diagnose(local, {n: env[n] for n in local.variables})
            return f"{u.name} = {report}" if report is not None else None
    report = first_nonfinite(list(derivatives.values()), values)
    return None if report is None else f"in the derivative, {report}"


def _needed(steps: Steps, wrt: tuple[str, ...]) -> set[str]:
    """The names whose value depends on a wrt variable: only they carry gradients (as in any backprop framework)."""
    needed = set(wrt)
    for u in steps.intermediates:
        if any(a in needed for a in u.operands):
            needed.add(u.name)
    return needed


def _locals(steps: Steps, env: dict, needed: set[str]) -> dict[str, tuple[Local, ...]]:
    return {u.name: _locals_of(u, env, needed) for u in steps.intermediates if u.name in needed}


def _locals_of(u: Intermediate, env: dict, needed: set[str]) -> tuple[Local, ...]:
    fresh = {v.params.name: v for v in u.operand_vars if v is not None}
    declared = {n: (v.shape, v.params.symmetric) for n, v in fresh.items()}
    at = {n: env[n] for n in fresh}
    counts = {n: u.operands.count(n) for n in fresh}
    found = []
    for name, var in fresh.items():       # one per distinct operand: x.*x has one fresh x, its local counts both
        if name in needed:
            d = jacobian(u.local, var)
            e = Expr(d, _orient(u.local.rank, var.rank), declared)
            found.append(Local(u.name, name, e, np.asarray(e.evaluate(at), dtype=float), counts[name]))
    return tuple(found)


def _orient(n_u: int, n_a: int) -> str | None:
    # Numerator layout, as `derivative`: a 1-index Jacobian is a row (a gradient) when the index comes from a.
    if n_u + n_a != 1:
        return None
    return "row" if n_a == 1 else "col"


def _identity(shape: tuple) -> np.ndarray:
    size = int(np.prod(shape)) if shape else 1
    return np.eye(size).reshape(shape + shape)


def _backward(steps: Steps, locals_: dict, env: dict, out_shape: tuple, wrt: tuple[str, ...]):
    """Reverse accumulation; returns (backward steps, sums, gradient by wrt variable)."""
    incoming: dict[str, list[tuple[str, np.ndarray]]] = {steps.output: [("output", _identity(out_shape))]}
    rows, sums = [], []
    for u in reversed(steps.intermediates):
        parts = incoming.pop(u.name, None)
        if parts is None or u.name not in locals_:
            continue
        upstream = _add(parts)
        if len(parts) > 1:
            sums.append(Sum(u.name, tuple(parts), upstream))
        edges = tuple(Edge(loc, np.tensordot(upstream, loc.value, axes=u.local.rank)) for loc in locals_[u.name])
        for edge in edges:
            incoming.setdefault(edge.local.operand, []).append((u.name, edge.downstream))
        rows.append(BackwardStep(u.name, upstream, edges))
    grads = {w: _add(incoming.get(w, []), out_shape + env[w].shape) for w in wrt}
    sums += [Sum(w, tuple(incoming.get(w, [])), grads[w]) for w in wrt]
    return tuple(rows), tuple(sums), grads


def _add(parts: list, shape: tuple = ()) -> np.ndarray:
    if not parts:
        return np.zeros(shape)
    return np.sum([p for _, p in parts], axis=0)


def _tangents(steps: Steps, locals_: dict, direction: dict, out_shape: tuple):
    """Forward accumulation along one direction; returns (tangent steps, the output's tangent)."""
    tangent = dict(direction)
    rows = []
    for u in steps.intermediates:
        if u.name not in locals_:
            continue
        # du = Σ_a (du/da) · da, contracting a's indices
        terms = tuple((loc.operand, np.tensordot(loc.value, tangent[loc.operand], axes=tangent[loc.operand].ndim))
                      for loc in locals_[u.name])
        tangent[u.name] = _add(list(terms), tuple(np.shape(terms[0][1])) if terms else ())
        rows.append(TangentStep(u.name, terms, locals_[u.name], tangent[u.name]))
    return tuple(rows), tangent.get(steps.output, np.zeros(out_shape))


# ---- the checks ----

def _gradients(f: Expr, derivatives: dict[str, Expr], values: dict, grads: dict | None,
               seed: int) -> tuple[Gradient, ...]:
    rows = []
    for w, d in derivatives.items():
        symbolic = np.asarray(d.evaluate(values), dtype=float)
        mine = None if grads is None else grads[w]
        diff = None if mine is None else _max_abs(mine - symbolic)
        rows.append(Gradient(w, d.text(), symbolic, mine, diff, check_gradient(f, w, d, values, seed)))
    return tuple(rows)


def _directional(f: Expr, derivatives: dict[str, Expr], values: dict, v: dict, tangent: np.ndarray) -> Directional:
    # J·v = Σ_w (df/dw) · v_w, contracting w's indices
    wrt = tuple(derivatives)
    symbolic = sum(np.tensordot(np.asarray(d.evaluate(values)), v[w], axes=v[w].ndim) for w, d in derivatives.items())
    h = 1e-6 * max(1.0, *(float(np.max(np.abs(values[w]), initial=0.0)) for w in wrt))
    plus = f.evaluate({**values, **{w: values[w] + h * v[w] for w in wrt}})
    minus = f.evaluate({**values, **{w: values[w] - h * v[w] for w in wrt}})
    fd = (np.asarray(plus) - np.asarray(minus)) / (2 * h)
    symbolic = np.asarray(symbolic, dtype=float)
    return Directional(np.asarray(tangent, dtype=float), symbolic, fd, _max_abs(tangent - symbolic),
                       _max_abs(tangent - fd))


def _max_abs(array: np.ndarray) -> float:
    array = np.asarray(array)
    return float(np.max(np.abs(array))) if array.size else 0.0
