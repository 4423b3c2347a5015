"""Plain gradient descent on a loss written in the chainrule language, with gradients derived symbolically once."""
from __future__ import annotations

import math
import numbers
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TextIO

import numpy as np

from .. import boundary
from ..api import derivative, parse
from ..errors import ChainruleError
from ..expr import Expr
from ..numeric.bind import as_real_array

Callback = Callable[[int, float], None]


class TrainingError(ChainruleError):
    """A training run that cannot start or cannot go on (bad names, a non-scalar loss, a diverging loss)."""


@dataclass(frozen=True)
class TrainingResult:
    """The outcome of `train`: final parameters, the loss before the first and after every step, the gradients used.

    `losses[k]` is the loss after k steps, so `len(losses) == steps + 1`; `gradients[p]` is the expression
    `derivative(loss, p)` that every step evaluated.
    """

    loss: Expr
    params: dict[str, np.ndarray]
    losses: list[float]
    gradients: dict[str, Expr]


def train(loss: str | Expr, params: Mapping[str, object], data: Mapping[str, object], lr: float = 0.1,
          steps: int = 100, declarations: Mapping[str, object] | None = None,
          callback: Callback | None = None) -> TrainingResult:
    """Minimise `loss` over `params` by gradient descent, p <- p - lr * dloss/dp, with data held fixed.

    Every name of the loss gets its value from `params` (the starting point, not modified) or `data`. Declarations
    default to the kind of each value (0-d scalar, 1-d vector, 2-d matrix); `callback(step, loss)` sees each loss.
    The same as `descend(*derive(loss, params, data, declarations), params, data, lr, steps, callback)`.

    >>> r = train("(a - 3)^2", params={"a": 0.0}, data={}, lr=0.25, steps=30)
    >>> round(float(r.params["a"]), 6), r.losses[:3]
    (3.0, [9.0, 2.25, 0.5625])
    """
    f, gradients = derive(loss, params, data, declarations)
    return descend(f, gradients, params, data, lr, steps, callback)


def derive(loss: str | Expr, params: Mapping[str, object], data: Mapping[str, object],
           declarations: Mapping[str, object] | None = None) -> tuple[Expr, dict[str, Expr]]:
    """The loss as an expression and its gradient by each parameter, `derivative(loss, p)`, checked against the values.

    >>> f, grads = derive("sum((y - X*w).^2)", {"w": [0.0, 0.0]}, {"X": [[1.0, 2.0]], "y": [1.0]})
    >>> str(grads["w"])
    "-2*(y-X*w)'*X"
    """
    values = _values(params, data)
    f = _compile(loss, values, boundary.declarations(declarations, {}))
    _check_names(f, params, data)
    return f, {name: derivative(f, name) for name in params}


def descend(f: Expr, gradients: Mapping[str, Expr], params: Mapping[str, object], data: Mapping[str, object],
            lr: float = 0.1, steps: int = 100, callback: Callback | None = None) -> TrainingResult:
    """Run `steps` gradient-descent steps from `params`, evaluating the given gradient expressions at each one."""
    _check_settings(lr, steps, callback)
    values = _values(params, data)
    losses = _descend(f, gradients, values, lr, steps, callback)
    final = {name: values[name] for name in params}
    return TrainingResult(f, final, losses, dict(gradients))


def descent(f: Expr, gradients: Mapping[str, Expr], params: Mapping[str, object], data: Mapping[str, object],
            lr: float = 0.1, steps: int = 100) -> Iterator[tuple[int, float, dict[str, np.ndarray]]]:
    """`descend` one step at a time: yields `(step, loss, params)` before the first and after every step, for a
    caller that watches more than the loss (the classifier demo's accuracy). The arrays yielded are never changed
    afterwards: each step makes new ones.

    >>> f, grads = derive("(a - 3)^2", {"a": 0.0}, {})
    >>> [(step, loss, float(p["a"])) for step, loss, p in descent(f, grads, {"a": 0.0}, {}, lr=0.25, steps=2)]
    [(0, 9.0, 0.0), (1, 2.25, 1.5), (2, 0.5625, 2.25)]
    """
    _check_settings(lr, steps, None)
    values = _values(params, data)
    return ((step, loss, {name: values[name] for name in params})
            for step, loss in _steps(f, gradients, values, lr, steps))


def _check_settings(lr: object, steps: object, callback: object) -> None:
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not (math.isfinite(lr) and float(lr) > 0):
        raise TrainingError(f"the learning rate must be a finite number > 0, not {lr!r}")
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or int(steps) < 0:
        raise TrainingError(f"the number of steps must be a whole number >= 0, not {steps!r}")
    if callback is not None and not callable(callback):
        raise TrainingError(f"callback must be a function callback(step, loss), not {type(callback).__name__}")


def _values(params: Mapping[str, object], data: Mapping[str, object]) -> dict[str, np.ndarray]:
    params = boundary.mapping(params, "params", "params={'w': [0.0, 0.0]}")
    data = boundary.mapping(data, "data", "data={'X': [[1.0, 2.0]], 'y': [1.0]}")
    both = sorted(set(params) & set(data))
    if both:
        raise TrainingError(f"{', '.join(both)} given both as a parameter and as data",
                            hint="A name is either trained (params) or held fixed (data), not both.")
    # float64 copies: the caller's arrays are never updated in place.
    return {name: np.array(as_real_array(name, value)) for name, value in {**params, **data}.items()}


def _compile(loss: str | Expr, values: Mapping[str, np.ndarray], declarations: Mapping[str, object]) -> Expr:
    if isinstance(loss, Expr):
        f = loss
    else:
        kinds = {name: _kind(value) for name, value in values.items()}
        f = parse(loss, **{**kinds, **declarations})
    if f.shape != ():
        raise TrainingError(f"the loss must be a scalar, but '{f.text()}' has shape {f.shape}",
                            hint="Reduce it to one number, e.g. with sum(...) or a mean sum(...)/N.")
    return f


def _kind(value: np.ndarray) -> object:
    # Kinds leave dimension names to the parser; a tensor's sizes can only be given as numbers.
    kinds = {0: "scalar", 1: "vector", 2: "matrix"}
    return kinds.get(value.ndim, tuple(value.shape))


def _check_names(f: Expr, params: Mapping[str, object], data: Mapping[str, object]) -> None:
    unused = [name for name in [*params, *data] if name not in f.variables]
    if unused:
        raise TrainingError(f"{', '.join(unused)} not used by the loss '{f.text()}'",
                            hint=f"Its variables are: {', '.join(f.variables)}.")
    missing = [name for name in f.variables if name not in params and name not in data]
    if missing:
        raise TrainingError(f"no value for {', '.join(missing)} in the loss '{f.text()}'",
                            hint="Give each variable a value, in params (trained) or data (fixed).")
    if not params:
        raise TrainingError("nothing to train: params is empty", hint="Name at least one variable in params.")


def _descend(f: Expr, gradients: Mapping[str, Expr], values: dict[str, np.ndarray], lr: float, steps: int,
             callback: Callback | None) -> list[float]:
    losses = []
    for step, loss in _steps(f, gradients, values, lr, steps):
        losses.append(loss)
        if callback is not None:
            callback(step, loss)
    return losses


def _steps(f: Expr, gradients: Mapping[str, Expr], values: dict[str, np.ndarray], lr: float,
           steps: int) -> Iterator[tuple[int, float]]:
    """Gradient descent on `values` (updated as it goes): yields each step's loss before taking the next step."""
    for step in range(steps + 1):
        yield step, _loss_at(f, values, step, lr)
        if step == steps:
            break
        # Every gradient at the same point before any parameter moves: a simultaneous update.
        grads = {name: g.evaluate(values) for name, g in gradients.items()}
        for name, grad in grads.items():
            values[name] = values[name] - lr * grad


def _loss_at(f: Expr, values: Mapping[str, np.ndarray], step: int, lr: float) -> float:
    value = float(f.evaluate(values))
    if not math.isfinite(value):
        raise TrainingError(f"the loss is {value} after {step} steps: gradient descent diverged",
                            hint=f"Try a smaller learning rate than {lr:g}.")
    return value


def progress_printer(steps: int, every: int | None = None, out: TextIO | None = None) -> Callback:
    """A callback for `train` that prints `step, loss` about ten times per run, and at the last step."""
    every = every or max(1, steps // 10)
    width = len(str(steps))

    def show(step: int, loss: float) -> None:
        if step % every == 0 or step == steps:
            print(f"step {step:>{width}}  loss {loss:.9e}", file=out or sys.stdout)

    return show
