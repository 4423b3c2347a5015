"""Property-based tests: random well-typed expressions (see strategies.py), over variables of fixed shapes.

For every generated expression and every variable it uses:
- its value agrees with the NumPy meaning of the same random tree (the parser and evaluator read it as meant);
- the first derivative (and, for a subset, the second) agrees with central finite differences (`cr.check`);
- the printed derivative parses back to the same numbers, in every layout; unicode() and latex() do not raise;
- the derivatives agree with JAX's (`jax.grad` / `jax.jacfwd` of the same tree written in jax.numpy), when installed.
Arrays follow the generalized-Jacobian convention: shape f.shape + x.shape, as jax.jacfwd.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from roundtrip import assert_reparses
from strategies import (
    DECLARATIONS,
    Gen,
    S,
    determinants,
    expressions,
    jax_namespace,
    kinks_ok,
    random_values,
    reference,
)

import chainrule as cr

SETTINGS = {"deadline": None, "derandomize": True, "database": None,
            "suppress_health_check": [HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large]}
SEEDS = st.integers(0, 2**32 - 1)
LARGEST = 1e4  # points where an intermediate value is larger make finite differences meaningless: skipped


def _prepare(e: Gen, seed: int) -> tuple[cr.Expr, dict]:
    """Parse the text, check its value against the tree's NumPy meaning, skip points near kinks or huge values."""
    values = random_values(seed)
    expected, largest = reference(e, values)
    assume(largest < LARGEST and kinks_ok(e, values))
    f = cr.parse(e.text, **DECLARATIONS)
    assert f.shape == e.ty.shape, f"{e.text!r}: shape {f.shape}, expected {e.ty.shape}"
    _assert_close(f.evaluate(values), expected, f"value of {e.text!r}")
    return f, values


def _assert_close(got, expected, what: str, rtol: float = 1e-9) -> None:
    got, expected = np.asarray(got, dtype=float), np.asarray(expected, dtype=float)
    assert got.shape == expected.shape, f"{what}: shape {got.shape}, expected {expected.shape}"
    scale = max(1.0, float(np.max(np.abs(expected))) if expected.size else 0.0)
    error = float(np.max(np.abs(got - expected))) if got.size else 0.0
    assert error <= rtol * scale, \
        f"{what}: max abs error {error:.3e} (scale {scale:.3e})\ngot\n{got}\nexpected\n{expected}"


def _assert_reparses(d: cr.Expr, values: dict, what: str) -> None:
    """The printed text parses back, with the declarations of d's variables, to the same shape and numbers (a zero
    tensor too: it prints with its size); the other renderings do not raise."""
    assert_reparses(d, values, what)


@settings(max_examples=500, **SETTINGS)
@given(e=expressions(), seed=SEEDS)
def test_first_derivatives_match_finite_differences_and_reparse(e: Gen, seed: int):
    f, values = _prepare(e, seed)
    _assert_reparses(f, values, f"expression {e.text!r}")
    for var in sorted(e.variables):
        what = f"d({e.text})/d{var} (seed {seed})"
        d = cr.derivative(f, var)
        assert d.shape == f.shape + DECLARATIONS[var], f"{what}: shape {d.shape}"
        result = cr.check(f, var, at=values, seed=seed)
        assert result.ok, f"{what} = {d.text()}: {result}"
        _assert_reparses(d, values, what)
        numerator = d.evaluate(values)
        n_f = len(f.shape)
        x_first = np.moveaxis(numerator, tuple(range(n_f)), tuple(range(numerator.ndim - n_f, numerator.ndim)))
        for layout, expected in (("denominator", x_first), ("mixed", numerator)):
            dl = cr.derivative(f, var, layout=layout)
            _assert_close(dl.evaluate(values), expected, f"{what} in the {layout} layout")
            _assert_reparses(dl, values, f"{what} in the {layout} layout")


@settings(max_examples=250, **SETTINGS)
@given(e=expressions(max_depth=3), seed=SEEDS)
def test_second_derivatives_match_finite_differences_and_reparse(e: Gen, seed: int):
    f, values = _prepare(e, seed)
    for var in sorted(e.variables):
        what = f"d²({e.text})/d{var}² (seed {seed})"
        h = cr.derivative(f, var, order=2)
        assert h.shape == f.shape + 2 * DECLARATIONS[var], f"{what}: shape {h.shape}"
        result = cr.check(f, var, at=values, order=2, seed=seed)
        assert result.ok, f"{what} = {h.text()}: {result}"
        _assert_reparses(h, values, what)


@settings(max_examples=60, **SETTINGS)
@given(e=determinants(), seed=SEEDS)
def test_determinants_at_and_near_singular_matrices(e: Gen, seed: int):
    """det inside random expressions, at values where A (and always C*B) is singular or nearly so: first and second
    derivatives match finite differences and print back."""
    f, values = _prepare(e, seed)
    for var in sorted(e.variables):
        for order in (1, 2):
            what = f"d{order}({e.text})/d{var} (seed {seed})"
            result = cr.check(f, var, at=values, order=order, seed=seed)
            assert result.ok, f"{what} = {cr.derivative(f, var, order=order).text()}: {result}"
            _assert_reparses(cr.derivative(f, var, order=order), values, what)


def _jax_derivative(e: Gen, var: str, values: dict, order: int) -> np.ndarray:
    """jax.grad (scalar f) or jax.jacfwd of the tree's jax.numpy meaning, `order` times, compiled once with jit
    (eager JAX compiles a kernel per primitive and shape, several times slower on this many different trees)."""
    import jax

    ns = jax_namespace()
    fixed = {k: jax.numpy.asarray(v) for k, v in values.items()}

    def f(v):
        return e(ns, {**fixed, var: v})

    derivative = jax.grad(f) if e.ty == S else jax.jacfwd(f)
    for _ in range(order - 1):
        derivative = jax.jacfwd(derivative)
    return np.asarray(jax.jit(derivative)(fixed[var]))


def test_derivatives_match_jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    _derivatives_match_jax()


@settings(max_examples=100, **SETTINGS)
@given(e=expressions(), seed=SEEDS, second=st.integers(0, 3))
def _derivatives_match_jax(e: Gen, seed: int, second: int):
    f, values = _prepare(e, seed)
    orders = (1, 2) if second == 0 else (1,)
    for var in sorted(e.variables):
        for order in orders:
            what = f"d{order}({e.text})/d{var} (seed {seed}) against JAX"
            d = cr.derivative(f, var, order=order)
            expected = _jax_derivative(e, var, values, order)
            _assert_close(d.evaluate(values), expected, f"{what}: chainrule {d.text()}", rtol=1e-8)
