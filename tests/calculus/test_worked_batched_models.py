"""Worked batched models (issue 9, item 6): a dense layer with bias, two-layer ReLU and tanh MLPs with biases, softmax
regression with mean cross-entropy, single-head attention, binary cross-entropy (logistic regression), a GELU layer,
L2 weight decay, layer norm and RMS norm over each row with gain and bias. Each is written as a user writes it and
compared with two independent references, JAX and PyTorch (float64, CPU; each model in each library's own words:
torch's cross_entropy, layer_norm, rms_norm, scaled_dot_product_attention, ...): the value, the gradient (Jacobian)
by every parameter, the Hessian by the small parameters, and finite differences of first and second order. The
printed derivatives parse back to the same function; where a derivative prints in matrix form (no einsum) that is
checked too. The exact printed forms of these models are being reworked (issue 9, item 5), so they are not pinned.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from roundtrip import assert_derivatives_reparse

import chainrule as cr

jax = pytest.importorskip("jax")
torch = pytest.importorskip("torch")
jax.config.update("jax_enable_x64", True)
jnp = jax.numpy
F = torch.nn.functional
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")

SIZES = {"m": 5, "n": 3, "k": 4, "h": 6, "d": 3, "t": 4, "v": 2}


@dataclass(frozen=True)
class Model:
    name: str
    text: str
    decls: dict
    jax: Callable[[dict], Any]           # the model in JAX, of a dict of arrays
    torch: Callable[[dict], Any]         # the model in PyTorch, of a dict of tensors
    wrt: tuple[str, ...]                 # the parameters it is differentiated by
    hessian_wrt: tuple[str, ...] = ()    # the (small) parameters its Hessian is taken by
    matrix_form: tuple[str, ...] = ()    # parameters whose gradient prints without einsum
    scalars: dict = field(default_factory=dict)   # values of scalars that must be in range (eps > 0, ...)
    labels: str = ""                     # "one-hot": each row of Y one label; "probabilities": y in [0, 1]


def _jax_layer_norm(v):
    centred = v["X"] - jnp.mean(v["X"], axis=1, keepdims=True)
    return centred / jnp.sqrt(jnp.mean(centred ** 2, axis=1, keepdims=True) + v["eps"]) * v["g"] + v["b"]


def _jax_rms_norm(v):
    return v["X"] / jnp.sqrt(jnp.mean(v["X"] ** 2, axis=1, keepdims=True) + v["eps"]) * v["g"] + v["b"]


def _jax_mlp(activation):
    def meaning(v):
        hidden = activation(v["X"] @ v["W1"] + v["b1"])
        return jnp.sum((hidden @ v["W2"] + v["b2"] - v["Y"]) ** 2)
    return meaning


def _torch_mlp(activation):
    def meaning(v):
        hidden = activation(F.linear(v["X"], v["W1"].T, v["b1"]))
        return F.mse_loss(F.linear(hidden, v["W2"].T, v["b2"]), v["Y"], reduction="sum")
    return meaning


MLP = {"X": ("m", "n"), "W1": ("n", "h"), "b1": ("h",), "W2": ("h", "k"), "b2": ("k",), "Y": ("m", "k")}
DENSE = {"X": ("m", "n"), "W": ("n", "k"), "b": ("k",), "Y": ("m", "k")}
NORM = {"X": ("m", "k"), "g": ("k",), "b": ("k",), "Y": ("m", "k")}

MODELS = [
    Model("dense layer with bias", "sum((X*W + b' - Y).^2)", DENSE,
          lambda v: jnp.sum((v["X"] @ v["W"] + v["b"] - v["Y"]) ** 2),
          lambda v: F.mse_loss(F.linear(v["X"], v["W"].T, v["b"]), v["Y"], reduction="sum"),
          ("W", "b"), hessian_wrt=("W", "b"), matrix_form=("W", "b")),
    Model("two-layer ReLU MLP with biases", "sum((relu(X*W1 + b1')*W2 + b2' - Y).^2)", MLP,
          _jax_mlp(jax.nn.relu), _torch_mlp(torch.relu), ("W1", "b1", "W2", "b2"), hessian_wrt=("b2",),
          matrix_form=("W1", "b1", "W2", "b2")),
    Model("two-layer tanh MLP with biases", "sum((tanh(X*W1 + b1')*W2 + b2' - Y).^2)", MLP,
          _jax_mlp(jnp.tanh), _torch_mlp(torch.tanh), ("W1", "b1", "W2", "b2"), hessian_wrt=("b1", "b2"),
          matrix_form=("W1", "b1", "W2", "b2")),
    Model("softmax regression, mean cross-entropy", "-sum(sum(Y.*logsoftmax(X*W + b', 2)))/size(X, 1)", DENSE,
          lambda v: -jnp.sum(v["Y"] * jax.nn.log_softmax(v["X"] @ v["W"] + v["b"], axis=1)) / v["X"].shape[0],
          lambda v: F.cross_entropy(F.linear(v["X"], v["W"].T, v["b"]), v["Y"]),
          ("W", "b"), hessian_wrt=("W", "b"), matrix_form=("W", "b"), labels="one-hot"),
    Model("single-head attention", "softmax(Q*K'/sqrt(size(K, 2)), 2)*V",
          {"Q": ("m", "d"), "K": ("t", "d"), "V": ("t", "v")},
          lambda v: jax.nn.softmax(v["Q"] @ v["K"].T / math.sqrt(v["K"].shape[1]), axis=1) @ v["V"],
          lambda v: F.scaled_dot_product_attention(v["Q"], v["K"], v["V"]), ("Q", "K", "V")),
    Model("binary cross-entropy, textbook spelling",
          "-sum(y.*log(sigmoid(X*w + c)) + (1-y).*log(1-sigmoid(X*w + c)))/size(X, 1)", {"X": ("m", "n")},
          lambda v: -jnp.mean(v["y"] * jax.nn.log_sigmoid(v["X"] @ v["w"] + v["c"])
                              + (1 - v["y"]) * jax.nn.log_sigmoid(-(v["X"] @ v["w"] + v["c"]))),
          lambda v: F.binary_cross_entropy_with_logits(v["X"] @ v["w"] + v["c"], v["y"]),
          ("w", "c"), hessian_wrt=("w", "c"), matrix_form=("w", "c"), labels="probabilities"),
    Model("exact GELU layer", "sum(0.5*(X*W + b').*(1 + erf((X*W + b')/sqrt(2))))", DENSE,
          lambda v: jnp.sum(jax.nn.gelu(v["X"] @ v["W"] + v["b"], approximate=False)),
          lambda v: torch.sum(F.gelu(F.linear(v["X"], v["W"].T, v["b"]))),
          ("W", "b"), hessian_wrt=("b",), matrix_form=("W", "b")),
    Model("L2 weight decay", "sum((X*W + b' - Y).^2)/size(X, 1) + lambda*norm2(W)^2", DENSE,
          lambda v: jnp.mean(jnp.sum((v["X"] @ v["W"] + v["b"] - v["Y"]) ** 2, axis=1))
          + v["lambda"] * jnp.sum(v["W"] ** 2),
          lambda v: F.mse_loss(F.linear(v["X"], v["W"].T, v["b"]), v["Y"], reduction="sum") / v["X"].shape[0]
          + v["lambda"] * torch.linalg.matrix_norm(v["W"]) ** 2,
          ("W", "b", "lambda"), hessian_wrt=("W", "b"), matrix_form=("W", "b", "lambda"), scalars={"lambda": 0.1}),
    Model("layer norm over each row, gain and bias",
          "sum(((X - mean(X, 2))./sqrt(mean((X - mean(X, 2)).^2, 2) + eps).*g' + b' - Y).^2)", NORM,
          lambda v: jnp.sum((_jax_layer_norm(v) - v["Y"]) ** 2),
          lambda v: F.mse_loss(F.layer_norm(v["X"], v["X"].shape[1:], v["g"], v["b"], float(v["eps"])), v["Y"],
                               reduction="sum"),
          ("X", "g", "b"), hessian_wrt=("X", "g", "b"), matrix_form=("g", "b"), scalars={"eps": 1e-3}),
    Model("RMS norm over each row, gain and bias", "sum((X./sqrt(mean(X.^2, 2) + eps).*g' + b' - Y).^2)", NORM,
          lambda v: jnp.sum((_jax_rms_norm(v) - v["Y"]) ** 2),
          lambda v: F.mse_loss(F.rms_norm(v["X"], v["X"].shape[1:], v["g"], float(v["eps"])) + v["b"], v["Y"],
                               reduction="sum"),
          ("X", "g", "b"), hessian_wrt=("X", "g", "b"), matrix_form=("g", "b"), scalars={"eps": 1e-3}),
]
BY_NAME = {model.name: model for model in MODELS}
IDS = [model.name for model in MODELS]


def _parsed(model: Model) -> cr.Expr:
    return cr.parse(model.text, **model.decls)


def _values(model: Model, f: cr.Expr, seed: int = 0) -> dict:
    """Random values of every variable of f (the undeclared ones at the shapes chainrule inferred), scalars in range
    and labels as the model wants them."""
    rng = np.random.default_rng(seed)
    values = {name: rng.normal(size=tuple(SIZES[d] for d in info.shape)) for name, info in f.variables.items()}
    values.update(model.scalars)
    if model.labels == "one-hot":
        values["Y"] = np.eye(SIZES["k"])[rng.integers(0, SIZES["k"], SIZES["m"])]    # one label per row
    if model.labels == "probabilities":
        values["y"] = rng.uniform(size=values["y"].shape)
    return values


def _as(library: str, values: dict) -> dict:
    if library == "jax":
        return {k: jnp.asarray(v, dtype=jnp.float64) for k, v in values.items()}
    return {k: torch.as_tensor(v, dtype=torch.float64) for k, v in values.items()}


def _reference(model: Model, library: str, values: dict, var: str | None = None, order: int = 0) -> np.ndarray:
    """The model's value (order 0), Jacobian (1) or Hessian (2) by `var`, computed by JAX or by PyTorch."""
    fixed = _as(library, values)
    meaning = model.jax if library == "jax" else model.torch
    if order == 0:
        result = meaning(fixed)
    else:
        def of(x):
            return meaning({**fixed, var: x})
        if library == "jax":
            result = (jax.jacrev if order == 1 else jax.hessian)(of)(fixed[var])
        else:
            result = (torch.func.jacrev if order == 1 else torch.func.hessian)(of)(fixed[var])
    return np.asarray(result.detach().numpy() if library == "torch" else result)


@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_value_and_derivatives_match_jax_and_pytorch(model):
    f = _parsed(model)
    values = _values(model, f)
    value = f.evaluate(values)
    for library in ("jax", "torch"):
        np.testing.assert_allclose(value, _reference(model, library, values), rtol=1e-12, atol=1e-12,
                                   err_msg=library)
    for var in model.wrt:
        d = cr.derivative(f, var)
        got = d.evaluate(values)
        for library in ("jax", "torch"):
            np.testing.assert_allclose(got, _reference(model, library, values, var, 1), rtol=1e-9, atol=1e-11,
                                       err_msg=f"{library}: d/d{var} = {d.text()}")


@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_derivatives_pass_finite_differences_and_print_parseable(model):
    f = _parsed(model)
    values = _values(model, f, seed=1)
    assert "einsum" not in f.text()
    for var in model.wrt:
        assert cr.check(f, var, at=values, seed=2).ok, var
        if var in model.matrix_form:
            assert "einsum" not in cr.derivative(f, var).text(), var
    assert_derivatives_reparse(f, values, list(model.wrt), max_order=1)


HESSIANS = [(model, var) for model in MODELS for var in model.hessian_wrt]


@pytest.mark.parametrize("model, var", HESSIANS, ids=[f"{m.name} by {v}" for m, v in HESSIANS])
def test_hessians_match_jax_pytorch_and_finite_differences(model, var):
    f = _parsed(model)
    values = _values(model, f, seed=3)
    h = cr.derivative(f, var, order=2)
    got = h.evaluate(values)
    for library in ("jax", "torch"):
        np.testing.assert_allclose(got, _reference(model, library, values, var, 2), rtol=1e-8, atol=1e-10,
                                   err_msg=f"{library}: d2/d{var}2 = {h.text()}")
    assert cr.check(f, var, at=values, order=2, seed=4).ok


def test_the_tanh_mlp_gradients_are_the_hand_derived_ones():
    # backprop by hand: R = H*W2 + b2' - Y with H = tanh(X*W1 + b1'); dW2 = 2H'R, db2 = 2*sum(R, 1)',
    # G = 2(R*W2').*(1 - H.^2); dW1 = X'G, db1 = sum(G, 1)'
    model = BY_NAME["two-layer tanh MLP with biases"]
    f = _parsed(model)
    values = _values(model, f, seed=6)
    X, W1, b1, W2, b2, Y = (values[k] for k in ("X", "W1", "b1", "W2", "b2", "Y"))
    H = np.tanh(X @ W1 + b1)
    R = H @ W2 + b2 - Y
    G = 2 * (R @ W2.T) * (1 - H ** 2)
    expected = {"W2": 2 * H.T @ R, "b2": 2 * R.sum(axis=0), "W1": X.T @ G, "b1": G.sum(axis=0)}
    for var, gradient in expected.items():
        np.testing.assert_allclose(cr.derivative(f, var).evaluate(values), gradient, rtol=1e-12, err_msg=var)


def test_softmax_regression_gradient_is_the_textbook_one():
    # X'*(P - Y)/N with P the row-wise softmax, as each row of Y sums to one (one-hot labels)
    model = BY_NAME["softmax regression, mean cross-entropy"]
    f = _parsed(model)
    values = _values(model, f, seed=5)
    X, W, b, Y = (values[k] for k in "XWbY")
    Z = X @ W + b
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(cr.derivative(f, "W").evaluate(values), X.T @ (P - Y) / len(X), rtol=1e-12)
    np.testing.assert_allclose(cr.derivative(f, "b").evaluate(values), (P - Y).sum(axis=0) / len(X), rtol=1e-12)


def test_the_norms_of_each_row_are_normalised_rows():
    # with g = 1 and b = 0 each row of the layer norm has mean 0 and mean square 1/(1 + eps/var): the reading is
    # per row, not over the whole batch
    f = cr.parse("(X - mean(X, 2))./sqrt(mean((X - mean(X, 2)).^2, 2) + eps)", X=("m", "k"))
    X = np.random.default_rng(7).normal(size=(5, 4)) * [1.0, 2.0, 3.0, 4.0]
    rows = f.evaluate(X=X, eps=0.0)
    np.testing.assert_allclose(rows.mean(axis=1), 0.0, atol=1e-12)
    np.testing.assert_allclose((rows ** 2).mean(axis=1), 1.0, rtol=1e-12)


# logits of several hundred: the stable forms keep every value and derivative finite and equal to the references'
LARGE = [("softmax regression, mean cross-entropy", {"X": 40.0, "W": 10.0}),
         ("binary cross-entropy, textbook spelling", {"X": 60.0, "w": 10.0}),
         ("single-head attention", {"Q": 300.0, "K": 300.0, "V": 1.0})]


@pytest.mark.parametrize("name, scales", LARGE, ids=[name for name, _ in LARGE])
def test_large_logits_stay_finite_and_match_jax_and_pytorch(name, scales):
    model = BY_NAME[name]
    f = _parsed(model)
    values = _values(model, f, seed=4)
    values.update({k: scale * values[k] for k, scale in scales.items()})
    references = [_reference(model, library, values) for library in ("jax", "torch")]
    for reference in references:
        np.testing.assert_allclose(f.evaluate(values), reference, rtol=1e-12, atol=1e-12)
    for var in model.wrt:
        got = cr.derivative(f, var).evaluate(values)
        assert np.all(np.isfinite(got)), var
        for library in ("jax", "torch"):
            expected = _reference(model, library, values, var, 1)
            np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9 * max(1.0, np.abs(expected).max()),
                                       err_msg=f"{library}: d/d{var}")
