"""Worked batched models (issue 9, item 6, the part that broadcasting and reductions along a dimension enable): a
dense layer with bias, a two-layer ReLU MLP with biases, softmax regression with mean cross-entropy, single-head
attention. Each: value and gradient against JAX, gradient against finite differences, printed form (recorded here)
parsed back to the same function.
"""
from __future__ import annotations

import numpy as np
import pytest
from roundtrip import assert_derivatives_reparse

import chainrule as cr

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
jnp = jax.numpy

SIZES = {"m": 5, "n": 3, "k": 4, "h": 6, "d": 3, "t": 4, "v": 2}


def _dense(v):
    return jnp.sum((v["X"] @ v["W"] + v["b"][None, :] - v["Y"]) ** 2)


def _mlp(v):
    hidden = jax.nn.relu(v["X"] @ v["W1"] + v["b1"][None, :])
    return jnp.sum((hidden @ v["W2"] + v["b2"][None, :] - v["Y"]) ** 2)


def _softmax_regression(v):
    logp = jax.nn.log_softmax(v["X"] @ v["W"] + v["b"][None, :], axis=1)
    return -jnp.sum(v["Y"] * logp) / v["X"].shape[0]


def _attention(v):
    scores = v["Q"] @ v["K"].T / jnp.sqrt(v["K"].shape[1])
    return jax.nn.softmax(scores, axis=1) @ v["V"]


# (name, text, declarations, JAX meaning, variables to differentiate by, the printed derivatives by them)
MODELS = [
    ("dense layer with bias", "sum((X*W + b' - Y).^2)",
     {"X": ("m", "n"), "W": ("n", "k"), "b": ("k",), "Y": ("m", "k")}, _dense,
     {"W": "2*X'*(X*W+b'-Y)", "b": "2*vector(1, \"m\")'*(X*W+b'-Y)"}),
    ("two-layer ReLU MLP with biases", "sum((relu(X*W1 + b1')*W2 + b2' - Y).^2)",
     {"X": ("m", "n"), "W1": ("n", "h"), "b1": ("h",), "W2": ("h", "k"), "b2": ("k",), "Y": ("m", "k")}, _mlp,
     {"W1": None, "b1": None, "W2": "2*relu(X*W1+b1')'*(relu(X*W1+b1')*W2+b2'-Y)",
      "b2": "2*vector(1, \"m\")'*(b2'+relu(X*W1+b1')*W2-Y)"}),
    ("softmax regression, mean cross-entropy", "-sum(sum(Y.*logsoftmax(X*W + b', 2)))/size(X, 1)",
     {"X": ("m", "n"), "W": ("n", "k"), "b": ("k",), "Y": ("m", "k")}, _softmax_regression,
     {"W": "X'*(diag(Y*vector(1, \"k\"))*exp(X*W+b'-logsumexp(X*W+b', 2))/size(Y, 1)-Y/size(Y, 1))",
      "b": "vector(1, \"m\")'*(diag(Y*vector(1, \"k\"))*exp(X*W+b'-logsumexp(X*W+b', 2))/size(Y, 1)-Y/size(Y, 1))"}),
    ("single-head attention", "softmax(Q*K'/sqrt(size(K, 2)), 2)*V",
     {"Q": ("m", "d"), "K": ("t", "d"), "V": ("t", "v")}, _attention, {"Q": None, "K": None, "V": None}),
]
PRINTED_FUNCTIONS = {
    "dense layer with bias": "sum((X*W+b'-Y).^2)",
    "two-layer ReLU MLP with biases": "sum((relu(X*W1+b1')*W2+b2'-Y).^2)",
    "softmax regression, mean cross-entropy": "-sum(Y.*(X*W+b'-logsumexp(X*W+b', 2)))/size(Y, 1)",
    "single-head attention": "exp(Q*K'/sqrt(size(K, 2))-logsumexp(Q*K'/sqrt(size(K, 2)), 2))*V",
}


def _values(decls: dict, seed: int = 0, one_hot: bool = False) -> dict:
    rng = np.random.default_rng(seed)
    values = {name: rng.normal(size=tuple(SIZES[d] for d in dims)) for name, dims in decls.items()}
    if one_hot:
        values["Y"] = np.eye(SIZES["k"])[rng.integers(0, SIZES["k"], SIZES["m"])]    # one label per row
    return values


def _jax_jacobian(meaning, values: dict, var: str) -> np.ndarray:
    fixed = {k: jnp.asarray(v) for k, v in values.items()}
    return np.asarray(jax.jacrev(lambda x: meaning({**fixed, var: x}))(fixed[var]))


@pytest.mark.parametrize("name, text, decls, meaning, printed", MODELS, ids=[m[0] for m in MODELS])
def test_worked_model(name, text, decls, meaning, printed):
    values = _values(decls, one_hot="logsoftmax" in text)
    f = cr.parse(text, **decls)
    assert f.text() == PRINTED_FUNCTIONS[name]
    fixed = {k: jnp.asarray(v) for k, v in values.items()}
    np.testing.assert_allclose(f.evaluate(values), np.asarray(meaning(fixed)), rtol=1e-12, atol=1e-12)
    for var, form in printed.items():
        d = cr.derivative(f, var)
        if form is not None:
            assert d.text() == form
        np.testing.assert_allclose(d.evaluate(values), _jax_jacobian(meaning, values, var), rtol=1e-9, atol=1e-11,
                                   err_msg=f"d/d{var} = {d.text()}")
        assert cr.check(f, var, at=values, seed=2).ok, (name, var)
    assert_derivatives_reparse(f, values, list(printed), max_order=1)


def test_softmax_regression_gradient_is_the_textbook_one():
    # X'*(P - Y)/N with P the row-wise softmax, as each row of Y sums to one (one-hot labels)
    decls = MODELS[2][2]
    values = _values(decls, seed=5, one_hot=True)
    f = cr.parse(MODELS[2][1], **decls)
    X, W, b, Y = (values[k] for k in "XWbY")
    Z = X @ W + b
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(cr.derivative(f, "W").evaluate(values), X.T @ (P - Y) / len(X), rtol=1e-12)
    np.testing.assert_allclose(cr.derivative(f, "b").evaluate(values), (P - Y).sum(axis=0) / len(X), rtol=1e-12)


def test_dense_layer_hessian_by_the_bias_matches_jax():
    decls = MODELS[0][2]
    values = _values(decls, seed=1)
    f = cr.parse(MODELS[0][1], **decls)
    fixed = {k: jnp.asarray(v) for k, v in values.items()}
    expected = jax.hessian(lambda b: _dense({**fixed, "b": b}))(fixed["b"])
    np.testing.assert_allclose(cr.derivative(f, "b", order=2).evaluate(values), np.asarray(expected), rtol=1e-12)
    assert cr.check(f, "b", at=values, order=2, seed=3).ok


def test_attention_is_finite_at_large_scores():
    decls = MODELS[3][2]
    values = {k: 300.0 * v for k, v in _values(decls, seed=4).items()}
    f = cr.parse("sum(sum(" + MODELS[3][1] + "))", **decls)
    assert np.isfinite(f.evaluate(values))
    for var in "QKV":
        assert np.all(np.isfinite(cr.derivative(f, var).evaluate(values))), var
