"""The loss after every step equals PyTorch's plain SGD on the same model, data and initial weights (float64).

The torch models are written by hand with autograd, independently of chainrule's derivation: only the data, the
initial weights, the learning rate and the number of steps are shared.
"""
import numpy as np
import pytest
from training_helpers import torch_descent

import chainrule.training as tr

torch = pytest.importorskip("torch")

RTOL = 1e-9


def torch_sgd(model_loss, init, data, lr, steps):
    """Losses before the first and after every step of p <- p - lr * p.grad, and the final parameters."""
    params = {k: torch.tensor(np.asarray(v, dtype=float), dtype=torch.float64, requires_grad=True)
              for k, v in init.items()}
    tensors = {k: torch.tensor(np.asarray(v, dtype=float), dtype=torch.float64) for k, v in data.items()}
    return torch_descent(lambda p: model_loss(p, tensors), params, lr, steps)


def neuron_loss(p, d):
    # relu, not torch.maximum: at z == 0 both take derivative 0, as chainrule's step(z) does.
    return ((d["y"] - torch.relu(d["X"] @ p["w"] + p["b"])) ** 2).sum() / d["N"]


def mlp_loss(p, d):
    hidden = torch.tanh(d["X"] @ p["W1"].T + p["b1"])
    return ((d["y"] - (hidden @ p["w2"] + p["c"])) ** 2).sum() / d["N"]


def noisy_neuron_data(n=150, seed=3):
    # Noise keeps the minimum loss well above zero: near a zero loss the residuals are rounding noise, and a
    # relative comparison of two rounding noises says nothing.
    data = tr.relu_neuron_data(n, w=(0.8, -1.2, 0.4, 2.0), b=-0.2, seed=seed)
    noise = 0.1 * np.random.default_rng(seed + 1).standard_normal(n)
    return {**data, "y": data["y"] + noise}


def check_same_run(loss_text, model_loss, init, data, lr, steps):
    ours = tr.train(loss_text, init, data, lr=lr, steps=steps)
    theirs, final = torch_sgd(model_loss, init, data, lr, steps)
    np.testing.assert_allclose(ours.losses, theirs, rtol=RTOL, atol=0)
    for name, value in final.items():
        np.testing.assert_allclose(ours.params[name], value, rtol=RTOL, atol=1e-12)


@pytest.mark.parametrize("lr", [0.05, 0.3])
def test_neuron_matches_torch_every_step(lr):
    data = noisy_neuron_data()
    init = {"w": 0.1 * np.random.default_rng(0).standard_normal(4), "b": 0.5}
    check_same_run(tr.NEURON_LOSS, neuron_loss, init, data, lr, steps=150)


def test_neuron_matches_torch_with_inactive_samples():
    # A negative bias leaves many samples on the flat side of the ReLU from the start: their gradient is zero.
    data = noisy_neuron_data(seed=7)
    init = {"w": np.array([0.3, -0.2, 0.1, 0.5]), "b": -0.4}
    z = data["X"] @ init["w"] + init["b"]
    assert 0.2 < np.mean(z <= 0) < 0.8
    check_same_run(tr.NEURON_LOSS, neuron_loss, init, data, 0.2, steps=100)


def test_mlp_matches_torch_every_step():
    data = tr.wave_data(120, seed=5)
    check_same_run(tr.MLP_LOSS, mlp_loss, tr.mlp_init(2, 6, seed=2), data, 0.2, steps=200)
