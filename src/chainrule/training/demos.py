"""Two demos of training on symbolic gradients: the paper's single ReLU neuron, and a one-hidden-layer tanh network.

Both fit a mean squared error C = sum((y - model(X)).^2)/N, with the N samples as the rows of X.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np

from .loop import TrainingResult, derive, descend, progress_printer
from .plot import save_loss_curve

# The neuron max(0, w'*x + b) applied to every row x' of X at once: X*w + b is the vector of the N affine values.
NEURON_LOSS = "sum((y - max(0, X*w+b)).^2)/N"
# Hidden layer: row i of X*W1' is W1*x_i, and + b1' adds the bias row to every row (broadcasting; its gradient sums
# over the samples). The output layer is h'*w2 + c for each sample.
MLP_LOSS = "sum((y - (tanh(X*W1' + b1')*w2 + c)).^2)/N"

NEURON_W = (1.5, -2.0, 0.5)
NEURON_B = 0.3


@dataclass(frozen=True)
class DemoResult:
    """A demo's training run, its data, the parameters that produced the data (if known) and the plot written."""

    training: TrainingResult
    data: dict[str, np.ndarray]
    truth: dict[str, np.ndarray] | None
    plot: Path | None


def relu_neuron_data(n: int = 200, w=NEURON_W, b: float = NEURON_B, seed: int = 0) -> dict[str, np.ndarray]:
    """N samples x ~ normal, labelled without noise by the neuron max(0, w'*x + b): the X, y, N of NEURON_LOSS."""
    X = np.random.default_rng(seed).standard_normal((n, len(w)))
    return {"X": X, "y": np.maximum(0.0, X @ np.asarray(w, dtype=float) + b), "N": np.asarray(float(n))}


def neuron_init(d: int = len(NEURON_W), seed: int = 1) -> dict[str, np.ndarray]:
    """Small random weights and a positive bias, so that most samples start on the active side of the ReLU."""
    return {"w": 0.1 * np.random.default_rng(seed).standard_normal(d), "b": np.asarray(0.5)}


def wave_data(n: int = 200, seed: int = 0) -> dict[str, np.ndarray]:
    """A smooth regression target y = sin(x1) cos(x2) on the square [-2, 2]^2."""
    X = np.random.default_rng(seed).uniform(-2.0, 2.0, (n, 2))
    return {"X": X, "y": np.sin(X[:, 0]) * np.cos(X[:, 1]), "N": np.asarray(float(n))}


def mlp_init(d: int = 2, hidden: int = 8, seed: int = 1) -> dict[str, np.ndarray]:
    """Weights scaled by 1/sqrt(fan-in) (tanh stays out of saturation), zero biases."""
    rng = np.random.default_rng(seed)
    return {"W1": rng.standard_normal((hidden, d)) / np.sqrt(d), "b1": np.zeros(hidden),
            "w2": rng.standard_normal(hidden) / np.sqrt(hidden), "c": np.float64(0.0)}


def neuron_demo(steps: int = 200, lr: float = 0.5, n: int = 200, seed: int = 0,
                plot: str | os.PathLike | bool = True, out: TextIO | None = None) -> DemoResult:
    """Recover a known ReLU neuron from its noise-free outputs (the paper's section 5-6 example).

    >>> import io
    >>> r = neuron_demo(steps=100, plot=False, out=io.StringIO())
    >>> bool(np.allclose(r.training.params["w"], NEURON_W, atol=1e-4))
    True
    """
    data = relu_neuron_data(n, seed=seed)
    truth = {"w": np.array(NEURON_W), "b": np.asarray(float(NEURON_B))}
    _say(out, f"A ReLU neuron max(0, w'*x+b) fit to {n} noise-free samples of w = {truth['w']}, b = {NEURON_B:g}")
    result = _run(NEURON_LOSS, neuron_init(seed=seed + 1), data, lr, steps, out)
    for name, value in result.params.items():
        error = np.max(np.abs(value - truth[name]))
        _say(out, f"learned {name} = {_fmt(value)}   true {_fmt(truth[name])}   max error {error:.1e}")
    return DemoResult(result, data, truth, _plot("neuron", result, plot, out))


def mlp_demo(steps: int = 1000, lr: float = 0.2, n: int = 200, hidden: int = 8, seed: int = 0,
             plot: str | os.PathLike | bool = True, out: TextIO | None = None) -> DemoResult:
    """Fit y = sin(x1) cos(x2) with one hidden tanh layer of `hidden` units.

    >>> import io
    >>> r = mlp_demo(steps=20, plot=False, out=io.StringIO())
    >>> r.training.losses[-1] < r.training.losses[0]
    True
    """
    data = wave_data(n, seed)
    _say(out, f"A tanh network, 2 inputs -> {hidden} hidden -> 1 output, fit to y = sin(x1)*cos(x2) at {n} points")
    result = _run(MLP_LOSS, mlp_init(2, hidden, seed + 1), data, lr, steps, out)
    variance = float(np.var(data["y"]))
    # The loss of the best constant prediction is the variance of y: the baseline the network must beat.
    _say(out, f"final loss {result.losses[-1]:.4e}; predicting the mean of y would give {variance:.4e}")
    return DemoResult(result, data, None, _plot("mlp", result, plot, out))


def _run(loss: str, init: dict, data: dict, lr: float, steps: int, out: TextIO | None) -> TrainingResult:
    f, gradients = derive(loss, init, data)
    _say(out, f"loss  C = {f.text()}")
    for param, grad in gradients.items():
        _say(out, f"dC/d{param} = {grad.text()}")
    _say(out, f"gradient descent on these gradients, learning rate {lr:g}, {steps} steps:")
    return descend(f, gradients, init, data, lr, steps, progress_printer(steps, out=out))


def _plot(name: str, result: TrainingResult, plot: str | os.PathLike | bool, out: TextIO | None) -> Path | None:
    if plot is False:
        return None
    # plot=True: a new private temporary file (save_loss_curve), never a fixed name in the shared temporary folder
    path = None if plot is True else Path(plot)
    written = save_loss_curve(result.losses, path, title=f"chainrule demo {name}: loss")
    _say(out, f"loss curve saved to {written}" if written else "matplotlib is not installed: no loss curve saved")
    return written


def _fmt(value: np.ndarray) -> str:
    return np.array2string(np.asarray(value), precision=6, suppress_small=True)


def _say(out: TextIO | None, line: str) -> None:
    print(line, file=out or sys.stdout)
