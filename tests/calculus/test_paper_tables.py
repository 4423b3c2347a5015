"""Golden tests: the reference tables of Parr & Howard, "The Matrix Calculus You Need for Deep Learning".

Each row is an expression, its declarations, the variable, and the paper's closed form as a NumPy function of the
values. Arrays use the numerator layout: shape f.shape + x.shape (a gradient has the shape of its variable).
"""

import numpy as np
import pytest
from roundtrip import assert_derivatives_reparse

import chainrule as cr

SIZES = {"n": 3, "m": 4}
AT = {"x": 0.7, "y": -1.3}


def row(expr, var, expected, at=None, **decls):
    where = f" at {at.__name__}" if callable(at) else ""
    return pytest.param(expr, decls, var, expected, at or {}, id=f"d({expr})/d{var}{where}")


def eye_like(v):
    return np.eye(len(v))


def positive_x(values):
    return {**values, "x": 0.5 + np.abs(values["x"])}


def neuron_at(z):
    def at(values):
        return {**values, "b": z - values["w"] @ values["x"]}

    at.__name__ = f"z={z:g}"
    return at


def away_from_kinks(values):
    X, w, b = values["X"], values["w"], values["b"]
    z = X @ w + b
    shift = np.where(np.abs(z) < 0.3, 0.6 * np.where(z < 0, -1.0, 1.0), 0.0)
    return {**values, "X": X + np.outer(shift, w) / (w @ w), "N": float(len(X))}


def mse_error(X, w, b, y, **_):
    z = X @ w + b
    return (z > 0) * (np.maximum(z, 0) - y)


SCALAR = {"x": "scalar"}
VEC = {"w": "vector", "x": "vector"}
EXPANSION = {"x": "vector", "z": "scalar"}
NEURON = {"w": "vector", "x": "vector", "b": "scalar"}
MSE = {"X": (6, 3), "w": (3,), "b": (), "y": (6,), "N": ()}

ROWS = [
    # scalar derivative rules
    row("x + 99", "x", lambda x, **_: 1.0, AT, **SCALAR),
    row("3*x", "x", lambda x, **_: 3.0, AT, **SCALAR),
    row("x^3", "x", lambda x, **_: 3 * x**2, AT, **SCALAR),
    row("x^2 + 3*x", "x", lambda x, **_: 2 * x + 3, AT, **SCALAR),
    row("x^2 - 3*x", "x", lambda x, **_: 2 * x - 3, AT, **SCALAR),
    row("x^2*x", "x", lambda x, **_: 3 * x**2, AT, **SCALAR),
    row("ln(x^2)", "x", lambda x, **_: 2 / x, AT, **SCALAR),
    row("9*(x + x^2)", "x", lambda x, **_: 9 + 18 * x, AT, **SCALAR),
    # partial derivatives and the Jacobian of two functions of two scalars
    row("3*x^2*y", "x", lambda x, y, **_: 6 * x * y, AT, x="scalar", y="scalar"),
    row("3*x^2*y", "y", lambda x, **_: 3 * x**2, AT, x="scalar", y="scalar"),
    row("[3*x^2*y; 2*x + y^8]", "x", lambda x, y, **_: [6 * x * y, 2], AT, x="scalar", y="scalar"),
    row("[3*x^2*y; 2*x + y^8]", "y", lambda x, y, **_: [3 * x**2, 8 * y**7], AT, x="scalar", y="scalar"),
    row("x", "x", lambda x, **_: eye_like(x), x="vector"),
    # element-wise binary operations on vectors
    row("w + x", "w", lambda w, **_: eye_like(w), **VEC),
    row("w + x", "x", lambda x, **_: eye_like(x), **VEC),
    row("w - x", "w", lambda w, **_: eye_like(w), **VEC),
    row("w - x", "x", lambda x, **_: -eye_like(x), **VEC),
    row("w .* x", "w", lambda x, **_: np.diag(x), **VEC),
    row("w .* x", "x", lambda w, **_: np.diag(w), **VEC),
    row("w ./ x", "w", lambda x, **_: np.diag(1 / x), positive_x, **VEC),
    row("w ./ x", "x", lambda w, x, **_: np.diag(-w / x**2), positive_x, **VEC),
    row("max(w, x)", "w", lambda w, x, **_: np.diag((w > x) * 1.0), **VEC),
    row("max(w, x)", "x", lambda w, x, **_: np.diag((x > w) * 1.0), **VEC),
    # scalar expansion
    row("x + z", "x", lambda x, **_: eye_like(x), **EXPANSION),
    row("x + z", "z", lambda x, **_: np.ones_like(x), **EXPANSION),
    row("x*z", "x", lambda x, z, **_: z * eye_like(x), **EXPANSION),
    row("x*z", "z", lambda x, **_: x, **EXPANSION),
    # vector sum reduction and the dot product
    row("sum(x)", "x", lambda x, **_: np.ones_like(x), x="vector"),
    row("sum(x*z)", "x", lambda x, z, **_: z * np.ones_like(x), **EXPANSION),
    row("sum(x*z)", "z", lambda x, **_: np.sum(x), **EXPANSION),
    row("sum(w .* x)", "w", lambda x, **_: x, **VEC),
    row("sum(w .* x)", "x", lambda w, **_: w, **VEC),
    row("w'*x", "w", lambda x, **_: x, **VEC),
    # the chain rules
    row("sin(x^2)", "x", lambda x, **_: 2 * x * np.cos(x**2), AT, **SCALAR),
    row("ln(sin(x^3)^2)", "x", lambda x, **_: 6 * x**2 * np.cos(x**3) / np.sin(x**3), AT, **SCALAR),
    row("x + x^2", "x", lambda x, **_: 1 + 2 * x, AT, **SCALAR),
    row("sin(x + x^2)", "x", lambda x, **_: np.cos(x + x**2) * (1 + 2 * x), AT, **SCALAR),
    row("x*x^2", "x", lambda x, **_: 3 * x**2, AT, **SCALAR),
    row("[ln(x^2); sin(3*x)]", "x", lambda x, **_: [2 / x, 3 * np.cos(3 * x)], AT, **SCALAR),
    row("sin(x .^ 2)", "x", lambda x, **_: np.diag(2 * x * np.cos(x**2)), x="vector"),
    # the neuron activation
    row("w'*x + b", "w", lambda x, **_: x, **NEURON),
    row("w'*x + b", "b", lambda **_: 1.0, **NEURON),
    row("max(0, w'*x + b)", "w", lambda x, **_: x, neuron_at(1.0), **NEURON),
    row("max(0, w'*x + b)", "w", lambda x, **_: 0 * x, neuron_at(-1.0), **NEURON),
    row("max(0, w'*x + b)", "b", lambda **_: 1.0, neuron_at(1.0), **NEURON),
    row("max(0, w'*x + b)", "b", lambda **_: 0.0, neuron_at(-1.0), **NEURON),
    # the loss of a neuron over N samples, the rows of X
    row("sum((y - max(0, X*w + b)).^2)/N", "w", lambda X, N, **v: 2 / N * X.T @ mse_error(X, **v), away_from_kinks,
        **MSE),
    row("sum((y - max(0, X*w + b)).^2)/N", "b", lambda X, N, **v: 2 / N * np.sum(mse_error(X, **v)), away_from_kinks,
        **MSE),
]


def shapes(f):
    return {name: info.shape for name, info in f.variables.items()}


def concrete_dims(variables):
    free = iter([5, 6, 7, 8, 9])
    names = sorted({d for shape in variables.values() for d in shape if isinstance(d, str)})
    return {d: SIZES.get(d) or next(free) for d in names}


def make_values(f, at, seed=0):
    rng = np.random.default_rng(seed)
    dims = concrete_dims(shapes(f))
    values = {}
    for name, shape in sorted(shapes(f).items()):
        value = rng.standard_normal(tuple(dims.get(d, d) for d in shape))
        values[name] = float(value) if np.ndim(value) == 0 else value
    return at(values) if callable(at) else {**values, **{k: v for k, v in at.items() if k in values}}


def setup(expr, decls, var, expected, at):
    f = cr.parse(expr, **decls)
    values = make_values(f, at)
    return f, values, np.asarray(expected(**values), dtype=float)


@pytest.mark.parametrize("expr, decls, var, expected, at", ROWS)
def test_derivative_matches_paper(expr, decls, var, expected, at):
    f, values, want = setup(expr, decls, var, expected, at)
    d = cr.derivative(f, var)
    assert tuple(d.shape) == tuple(f.shape) + tuple(f.variables[var].shape)
    got = np.asarray(d.evaluate(**values), dtype=float)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("expr, decls, var, expected, at", ROWS)
def test_printed_derivative_reparses_to_same_values(expr, decls, var, expected, at):
    f, values, want = setup(expr, decls, var, expected, at)
    d = cr.derivative(f, var)
    again = np.asarray(cr.parse(d.text(), **shapes(f)).evaluate(**values), dtype=float)
    assert again.shape == want.shape and np.allclose(again, want), d.text()
    assert_derivatives_reparse(f, values, var)   # the function, orders 1 and 2, every layout


@pytest.mark.parametrize("expr, decls, var, expected, at", ROWS)
def test_finite_differences_agree(expr, decls, var, expected, at):
    f, values, _ = setup(expr, decls, var, expected, at)
    result = cr.check(f, var, at=values)
    assert result.ok, (result.max_abs_error, result.max_rel_error)
