"""Shared checks: every formula of a derivation is evaluated and compared with the engine and finite differences."""
from __future__ import annotations

import numpy as np

import chainrule as cr
from chainrule.expr import Expr

SIZES = {"n": 3, "m": 4, "p": 2, "q": 5}


def values_for(d, seed: int = 0, positive: bool = True) -> dict:
    """Random values (positive where asked, so that ln and ./ are defined) for every variable of the derivation."""
    rng = np.random.default_rng(seed)
    values = {}
    for name, (shape, symmetric) in d.steps.variables.items():
        dims = tuple(SIZES.get(s, 3) if isinstance(s, str) else s for s in shape)
        v = rng.uniform(0.5, 1.5, dims) if positive else rng.standard_normal(dims)
        values[name] = (v + v.T) / 2 if symmetric else v
    return values


def numeric_jacobian(d, u_name: str, operand: str, at: dict, h: float = 1e-6) -> np.ndarray:
    """Central differences of the intermediate's operation by one operand (its local Jacobian, numerator layout)."""
    local = next(u.expr for u in d.definitions if u.name == u_name)
    base = np.asarray(at[operand], dtype=float)
    columns = []
    for k in range(base.size):
        step = np.zeros(base.size)
        step[k] = h
        plus = local.evaluate({**at, operand: base + step.reshape(base.shape)})
        minus = local.evaluate({**at, operand: base - step.reshape(base.shape)})
        columns.append((plus - minus) / (2 * h))
    out = np.stack(columns, axis=-1) if columns else np.zeros(0)
    return out.reshape(np.shape(columns[0]) + base.shape)


def check_derivation(d, at: dict | None = None, rtol: float = 1e-6) -> np.ndarray:
    """Check every step numerically; returns the result's value."""
    at = at if at is not None else values_for(d)
    full = d.values(at)
    engine = cr.derivative(cr.parse(d.expression, **_declarations(d)), d.wrt, layout=d.layout)
    assert d.result.text() == engine.text()
    expected = engine.evaluate(at)
    assert np.allclose(d.substituted.evaluate(full), expected, rtol=rtol)
    assert np.allclose(d.total.evaluate(full), expected, rtol=rtol)
    if d.paths:
        assert np.allclose(sum(p.expr.evaluate(full) for p in d.paths), expected, rtol=rtol)
    if d.copies:
        assert np.allclose(sum(c.value.evaluate(at) for c in d.copies), expected, rtol=rtol)
    for e in d.locals:
        numerator = Expr(e.node, None, d.scope).evaluate(full)
        assert np.allclose(numerator, numeric_jacobian(d, e.of, e.by, full), atol=1e-5), (e.of, e.by)
    if d.order == "forward":
        _check_tangents(d, at, full)
    return expected


def _check_tangents(d, at: dict, full: dict) -> None:
    # each forward line ∂u_k/∂x must be the engine's derivative of u_k's subexpression by x
    by_name = {u.name: u for u in d.steps.intermediates}
    expanded = d.steps.expand()
    for a in d.accumulation:
        u = by_name[a.num]
        direct = cr.derivative(Expr(expanded[u.name], u.stype.orient, d.steps.variables), d.wrt, layout=d.layout)
        assert np.allclose(a.expr.evaluate(full), direct.evaluate(at)), a.num


def _declarations(d) -> dict:
    return {n: ("symmetric" if sym else shape) for n, (shape, sym) in d.steps.variables.items()}
