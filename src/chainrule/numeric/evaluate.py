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
    scalars = [k for k, spec in enumerate(specs) if not spec]
    tensors = [k for k, spec in enumerate(specs) if spec]
    present = sorted(set().union(*map(set, specs)) if specs else set())
    kept = tuple(label for label in out if label in present)
    shapes = [_shape(node.args[k].shape, sizes) for k in tensors]
    run = _product([specs[k] for k in tensors], kept, shapes)
    scale = _scaled(run, tensors, scalars, [int(np.prod(s)) for s in shapes])
    expand = [k for k, label in enumerate(out) if label not in present]
    if not expand:
        return scale
    full = _shape(node.shape, sizes)
    return lambda xs: np.broadcast_to(np.expand_dims(scale(xs), expand), full)


def _scaled(run, tensors: list[int], scalars: list[int], sizes: list[int]) -> Step:
    if not scalars:
        return lambda xs: run(*[xs[k] for k in tensors])
    if not tensors:
        return lambda xs: np.prod([xs[k] for k in scalars])
    # scale the smallest operand, not the (possibly much larger) result
    smallest = min(range(len(tensors)), key=lambda j: sizes[j])

    def step(xs):
        operands = [xs[k] for k in tensors]
        operands[smallest] = np.prod([xs[k] for k in scalars]) * operands[smallest]
        return run(*operands)
    return step


def _product(specs: list[tuple], out: tuple, shapes: list[tuple]):
    """The fastest NumPy call for this product: operands on the same indices multiplied first (cheap, element-wise),
    then BLAS matmul for a matrix/vector product, or opt_einsum's optimised pairwise order for longer products."""
    groups: dict[tuple, list[int]] = {}
    for k, spec in enumerate(specs):
        groups.setdefault(spec, []).append(k)
    if len(groups) < len(specs) and len(groups) > 1:
        inner = _product(list(groups), out, [shapes[g[0]] for g in groups.values()])
        members = list(groups.values())
        return lambda *xs: inner(*(_multiply([xs[k] for k in g]) for g in members))
    return _direct_product(specs, out, shapes)


def _direct_product(specs: list[tuple], out: tuple, shapes: list[tuple]):
    if not specs:
        return lambda: np.float64(1.0)
    if all(spec == out for spec in specs):
        return lambda *xs: _multiply(xs)
    if len(specs) == 2 and _is_matmul(specs, out):
        return _matmul(specs, out)
    letter = {label: _LETTERS[k] for k, label in enumerate(sorted(set().union(*map(set, specs))))}
    equation = ",".join("".join(letter[i] for i in s) for s in specs) + "->" + "".join(letter[i] for i in out)
    if len(specs) == 1 or all(len(s) == 1 for s in specs):
        return lambda *xs: np.einsum(equation, *xs)
    return opt_einsum.contract_expression(equation, *shapes)


def _multiply(xs):
    result = xs[0]
    for x in xs[1:]:
        result = result * x
    return result


def _is_matmul(specs: list[tuple], out: tuple) -> bool:
    a, b = specs
    shared = set(a) & set(b)
    return (len(a) <= 2 and len(b) <= 2 and len(set(a)) == len(a) and len(set(b)) == len(b)
            and len(shared) <= 1 and (set(a) ^ set(b)) == set(out))


def _matmul(specs: list[tuple], out: tuple):
    # orient a as (free, summed) and b as (summed, free); the product's indices are then a's free + b's free
    a, b = specs
    summed = set(a) & set(b)
    a_order = tuple(i for i in a if i not in summed) + tuple(i for i in a if i in summed)
    b_order = tuple(i for i in b if i in summed) + tuple(i for i in b if i not in summed)
    flip_a, flip_b = a_order != a, b_order != b
    result = tuple(i for i in a_order if i not in summed) + tuple(i for i in b_order if i not in summed)
    perm = tuple(result.index(label) for label in out)
    reorder = perm != tuple(range(len(perm)))
    product = np.matmul if summed else np.multiply.outer

    def run(x, y):
        z = product(x.T if flip_a else x, y.T if flip_b else y)
        return z.transpose(perm) if reorder else z
    return run


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
                    continue
                try:
                    results.append(step([results[k] for k in inputs]))
                except np.linalg.LinAlgError as error:
                    raise EvaluationError(f"cannot compute {node.op} of a matrix at these values ({error})",
                                          hint="inv needs an invertible matrix.") from None
        return results
