"""Demos of training on symbolic gradients: the paper's single ReLU neuron and a one-hidden-layer tanh network, which
fit a mean squared error C = sum((y - model(X)).^2)/N with the N samples as the rows of X, and a three-class
classifier (softmax regression or one hidden layer) that minimises the mean cross-entropy of a row-wise softmax.
"""
from __future__ import annotations

import numbers
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np

from ..api import parse
from ..expr import Expr
from .loop import TrainingError, TrainingResult, derive, descend, descent, progress_printer
from .plot import save_loss_curve

# The neuron max(0, w'*x + b) applied to every row x' of X at once: X*w + b is the vector of the N affine values.
NEURON_LOSS = "sum((y - max(0, X*w+b)).^2)/N"
# Hidden layer: row i of X*W1' is W1*x_i, and + b1' adds the bias row to every row (broadcasting; its gradient sums
# over the samples). The output layer is h'*w2 + c for each sample.
MLP_LOSS = "sum((y - (tanh(X*W1' + b1')*w2 + c)).^2)/N"

# A classifier's scores (logits) for the classes, one row per sample (row i of X*W is W'*x_i; + b' adds b to every
# row). Its loss is the mean cross-entropy of the row-wise softmax with the one-hot rows of Y:
# C = -(1/N) sum_i sum_k Y_ik log softmax(z_i)_k, and logsoftmax(Z, 2) = Z - logsumexp(Z, 2) is stable for any logits.
CLASSIFIER_LOGITS = {
    "softmax": "X*W + b'",
    "mlp": "tanh(X*W1 + b1')*W2 + b2'",
}
CLASSIFIER_LOSSES = {
    "softmax": "-sum(Y.*logsoftmax(X*W + b', 2))/size(X, 1)",
    "mlp": "-sum(Y.*logsoftmax(tanh(X*W1 + b1')*W2 + b2', 2))/size(X, 1)",
}
CLASSES = 3
HIDDEN = 10

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


def blobs_data(n: int = 300, seed: int = 0, radius: float = 2.0, spread: float = 1.0) -> dict[str, np.ndarray]:
    """Three classes of 2-D points, normal around the corners of an equilateral triangle; Y holds one-hot rows.

    The n samples take the classes in turn (0, 1, 2, 0, ...), so each class has n/3 of them, up to one.

    >>> d = blobs_data(6)
    >>> d["X"].shape, d["Y"].tolist()[:4]
    ((6, 2), [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    """
    labels = np.arange(n) % CLASSES
    angles = np.pi / 2 + 2 * np.pi * np.arange(CLASSES) / CLASSES
    centres = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    X = centres[labels] + spread * np.random.default_rng(seed).standard_normal((n, 2))
    return {"X": X, "Y": np.eye(CLASSES)[labels]}


def classifier_init(model: str = "softmax", d: int = 2, hidden: int = HIDDEN, seed: int = 1) -> dict[str, np.ndarray]:
    """Every class score starts at zero, so training starts from the uniform guess (loss log 3): softmax regression
    from zero weights (its loss is convex), the network from a zero output layer over hidden weights scaled by
    1/sqrt(fan-in) (tanh out of saturation), which the output layer's first step makes matter."""
    if _model(model) == "softmax":
        return {"W": np.zeros((d, CLASSES)), "b": np.zeros(CLASSES)}
    W1 = np.random.default_rng(seed).standard_normal((d, hidden)) / np.sqrt(d)
    return {"W1": W1, "b1": np.zeros(hidden), "W2": np.zeros((hidden, CLASSES)), "b2": np.zeros(CLASSES)}


def accuracy(model: str, params: dict[str, np.ndarray], data: dict[str, np.ndarray]) -> float:
    """The fraction of the rows of X whose largest score, CLASSIFIER_LOGITS[model] evaluated by chainrule, is at the
    class that Y marks.

    >>> d = blobs_data(30)
    >>> accuracy("softmax", {"W": np.zeros((2, 3)), "b": np.array([0.0, 1.0, 0.0])}, d)   # always class 1
    0.3333333333333333
    """
    return _correct(model, params, data) / len(data["Y"])


def _correct(model: str, params: dict[str, np.ndarray], data: dict[str, np.ndarray]) -> int:
    values = {**params, "X": data["X"]}
    # Declared by their shapes, as derive declares them by their kinds.
    scores = parse(CLASSIFIER_LOGITS[_model(model)], {name: v.shape for name, v in values.items()}).evaluate(values)
    return int(np.sum(np.argmax(scores, axis=1) == np.argmax(data["Y"], axis=1)))


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


def classifier_demo(steps: int = 300, lr: float = 0.5, model: str = "softmax", hidden: int | None = None,
                    n: int = 300, seed: int = 0, plot: str | os.PathLike | bool = True,
                    out: TextIO | None = None) -> DemoResult:
    """Classify three Gaussian blobs by softmax regression (model="softmax") or one hidden tanh layer of `hidden`
    units (model="mlp", 10 by default), minimising the mean cross-entropy CLASSIFIER_LOSSES[model].

    >>> import io
    >>> r = classifier_demo(steps=30, plot=False, out=io.StringIO())
    >>> accuracy("softmax", r.training.params, r.data) > 0.8
    True
    """
    units = _hidden_units(_model(model), hidden)
    data = blobs_data(n, seed)
    shape = "2 inputs -> 3 classes" if units is None else f"2 inputs -> {units} hidden (tanh) -> 3 classes"
    _say(out, f"A classifier, {shape}, trained with softmax cross-entropy on {n} points of 3 Gaussian blobs")
    init = classifier_init(model, 2, units or HIDDEN, seed + 1)
    f, gradients = _derived(CLASSIFIER_LOSSES[model], init, data, lr, steps, out)
    result = _descend_showing_accuracy(model, f, gradients, init, data, lr, steps, out)
    right = _correct(model, result.params, data)
    _say(out, f"final accuracy {right / n:.1%} ({right} of {n} points); a constant guess gets {1 / CLASSES:.1%}")
    return DemoResult(result, data, None, _plot("classifier", result, plot, out))


def _descend_showing_accuracy(model: str, f: Expr, gradients: dict[str, Expr], init: dict, data: dict, lr: float,
                              steps: int, out: TextIO | None) -> TrainingResult:
    """`descend`, printing the accuracy beside the loss about ten times (progress_printer's steps)."""
    losses: list[float] = []
    params = init
    every, width = max(1, steps // 10), len(str(steps))
    for step, loss, params in descent(f, gradients, init, data, lr, steps):
        losses.append(loss)
        if step % every == 0 or step == steps:
            _say(out, f"step {step:>{width}}  loss {loss:.9e}  accuracy {accuracy(model, params, data):.1%}")
    return TrainingResult(f, params, losses, gradients)


def _model(model: str) -> str:
    if model not in CLASSIFIER_LOGITS:
        raise TrainingError(f"unknown classifier model {model!r}",
                            hint=f"Choose one of: {', '.join(CLASSIFIER_LOGITS)}.")
    return model


def _hidden_units(model: str, hidden: int | None) -> int | None:
    """The hidden layer's width: None for softmax regression, which has no hidden layer to size."""
    if model == "softmax":
        if hidden is not None:
            raise TrainingError("softmax regression has no hidden layer, so hidden units cannot be set",
                                hint="Choose model='mlp' for a hidden layer, or leave out hidden=.")
        return None
    if hidden is None:
        return HIDDEN
    if isinstance(hidden, bool) or not isinstance(hidden, numbers.Integral) or hidden < 1:
        raise TrainingError(f"the number of hidden units must be a whole number >= 1, not {hidden!r}")
    return int(hidden)


def _run(loss: str, init: dict, data: dict, lr: float, steps: int, out: TextIO | None) -> TrainingResult:
    f, gradients = _derived(loss, init, data, lr, steps, out)
    return descend(f, gradients, init, data, lr, steps, progress_printer(steps, out=out))


def _derived(loss: str, init: dict, data: dict, lr: float, steps: int,
             out: TextIO | None) -> tuple[Expr, dict[str, Expr]]:
    """The loss and its gradients, derived and printed before training."""
    f, gradients = derive(loss, init, data)
    _say(out, f"loss  C = {f.text()}")
    for param, grad in gradients.items():
        _say(out, f"dC/d{param} = {grad.text()}")
    _say(out, f"gradient descent on these gradients, learning rate {lr:g}, {steps} steps:")
    return f, gradients


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
