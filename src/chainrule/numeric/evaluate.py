"""NumPy evaluation of IR expressions, through a plan compiled once per set of dimension sizes."""
from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import opt_einsum

from ..errors import EvaluationError
from ..ir import Dim, Node, topological
from ..ir.elementwise import ELEMENTWISE

Step = Callable[[list[np.ndarray]], np.ndarray]
_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _size(dim: Dim, sizes: Mapping[str, int]) -> int:
    if isinstance(dim, int):
        return dim
    if dim not in sizes:
        raise EvaluationError(f"the size of dimension '{dim}' is unknown: give a value for a variable that has it")
    return sizes[dim]


def _shape(shape, sizes) -> tuple[int, ...]:
    return tuple(_size(d, sizes) for d in shape)


def _logsumexp(x: np.ndarray) -> np.ndarray:
    m = np.max(x)
    if not np.isfinite(m):
        return np.log(np.sum(np.exp(x)))
    return m + np.log(np.sum(np.exp(x - m)))


def _logdet(a: np.ndarray) -> np.ndarray:
    sign, value = np.linalg.slogdet(a)
    return np.where(sign > 0, value, np.nan)


def _sum(args: list[np.ndarray]) -> np.ndarray:
    total = args[0]
    for a in args[1:]:
        total = total + a
    return total


def _contract_step(node: Node, sizes) -> Step:
    specs, out = node.params
    present = sorted(set().union(*map(set, specs)) if specs else set())
    letter = {label: _LETTERS[k] for k, label in enumerate(present)}
    kept = [label for label in out if label in letter]
    equation = ",".join("".join(letter[i] for i in s) for s in specs) + "->" + "".join(letter[i] for i in kept)
    shapes = [_shape(a.shape, sizes) for a in node.args]
    if all(len(s) == 1 for s in specs) or len(specs) == 1:
        run = lambda *xs: np.einsum(equation, *xs)
    else:
        run = opt_einsum.contract_expression(equation, *shapes)
    full = _shape(node.shape, sizes)
    expand = [k for k, label in enumerate(out) if label not in letter]
    if not expand:
        return lambda xs: run(*xs)
    return lambda xs: np.broadcast_to(np.expand_dims(run(*xs), expand), full)


def _const_step(node: Node, sizes) -> Step:
    value = np.broadcast_to(np.float64(node.params[0]), _shape(node.shape, sizes))
    return lambda xs: value


def _delta_step(node: Node, sizes) -> Step:
    value = np.eye(_size(node.shape[0], sizes))
    return lambda xs: value


def _variable_step(node: Node, sizes) -> Step:
    raise AssertionError("variables are bound, not computed")


STEPS: dict[str, Callable[[Node, Mapping[str, int]], Step]] = {
    "var": _variable_step,
    "const": _const_step,
    "delta": _delta_step,
    "basis": lambda node, sizes: (lambda xs, v=np.eye(node.shape[0])[node.params[0]]: v),
    "map": lambda node, sizes: (lambda xs, f=ELEMENTWISE[node.params[0]].numpy: f(xs[0])),
    "add": lambda node, sizes: _sum,
    "pow": lambda node, sizes: lambda xs: np.power(xs[0], xs[1]),
    "max": lambda node, sizes: lambda xs: np.maximum(xs[0], xs[1]),
    "min": lambda node, sizes: lambda xs: np.minimum(xs[0], xs[1]),
    "contract": _contract_step,
    "logsumexp": lambda node, sizes: lambda xs: _logsumexp(xs[0]),
    "inv": lambda node, sizes: lambda xs: np.linalg.inv(xs[0]),
    "det": lambda node, sizes: lambda xs: np.linalg.det(xs[0]),
    "logdet": lambda node, sizes: lambda xs: _logdet(xs[0]),
}


class Plan:
    """The nodes of an expression in evaluation order, each with its compiled NumPy step."""

    def __init__(self, root: Node, sizes: Mapping[str, int]):
        self.order = topological([root])
        index = {id(n): k for k, n in enumerate(self.order)}
        self.inputs = [[index[id(a)] for a in n.args] for n in self.order]
        self.steps = [None if n.op == "var" else STEPS[n.op](n, sizes) for n in self.order]

    def run(self, values: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        results: list[np.ndarray] = []
        with np.errstate(all="ignore"):
            for node, step, inputs in zip(self.order, self.steps, self.inputs, strict=True):
                if step is None:
                    results.append(values[node.params[0]])
                else:
                    results.append(step([results[k] for k in inputs]))
        return results
