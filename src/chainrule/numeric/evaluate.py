"""NumPy evaluation of IR expressions, through a plan compiled once per set of dimension sizes.

A plan knows, before anything is allocated, every step's result shape and an estimate of the memory it needs, so
`run` refuses (LimitError) what would exceed `current_limits()`; values are dropped as soon as no later step reads them.
Kronecker deltas and unit vectors inside a product are never materialised: the product is computed on the diagonal
(or the selected slice) only and scattered into zeros, so a structural zero is 0 whatever the other factors are
(0 * NaN would be NaN).

Invariant: every node evaluates to a float array of exactly its node's shape (the sizes bound). `checking()`
(ir/validate.py) turns on an assertion of it after every step; the test suite runs with it on.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import opt_einsum

from ..errors import EvaluationError, InternalError
from ..ir import Dim, Node, Op, linalg, topological
from ..ir.elementwise import ELEMENTWISE
from ..ir.validate import checking_on
from ..limits import current_limits
from ..notation import render

Step = Callable[[list], np.ndarray]
Visit = Callable[[Node, np.ndarray, list], None]
_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_BYTES = 8   # float64


class StepShapeError(InternalError):
    """A step's value does not have its node's shape (or is not a float array): a bug of chainrule, not of the input."""


def _size(dim: Dim, sizes: Mapping[str, int]) -> int:
    if isinstance(dim, int):
        return dim
    if dim not in sizes:
        raise EvaluationError(f"the size of dimension '{dim}' is unknown: give a value for a variable that has it")
    return sizes[dim]


def _shape(shape, sizes) -> tuple[int, ...]:
    return tuple(_size(d, sizes) for d in shape)


@dataclass(frozen=True)
class Compiled:
    """One node's step: its function of the operand values (None for operands it does not read), the operands it
    reads, and the float entries it allocates: its result, and scratch arrays alive only while it runs."""
    run: Step
    reads: tuple[int, ...]
    result: int
    scratch: int = 0


def _reading_all(node: Node, sizes, f: Step, scratch: int = 0) -> Compiled:
    return Compiled(f, tuple(range(len(node.args))), math.prod(_shape(node.shape, sizes)), scratch)


def _entries(node: Node, sizes) -> int:
    return math.prod(_shape(node.shape, sizes))


# ---- steps other than products ----

def _logsumexp(x: np.ndarray, axes: tuple[int, ...] | None = None) -> np.ndarray:
    # log sum exp(x) = m + log sum exp(x - m), m the largest entry of each reduced slice; where m is not finite
    # (all -inf, or an inf or NaN present) the unshifted form gives the limit (-inf, inf or NaN)
    m = np.max(x, axis=axes, keepdims=True)
    shift = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        total = np.log(np.sum(np.exp(x - shift), axis=axes, keepdims=True)) + shift
    return np.asarray(total.reshape([d for k, d in enumerate(x.shape) if axes is not None and k not in axes]),
                      dtype=np.float64)


def _logdet(a: np.ndarray) -> np.ndarray:
    sign, value = np.linalg.slogdet(a)
    return np.where(sign > 0, value, np.nan)


def _sum(args: list[np.ndarray]) -> np.ndarray:
    total = args[0]
    for a in args[1:]:
        total = total + a
    return total


def _add_step(node: Node, sizes) -> Compiled:
    # operands have the node's shape or are scalars (broadcast); each partial sum is freed as the next is made
    return _reading_all(node, sizes, _sum, _entries(node, sizes))


def _const_step(node: Node, sizes) -> Compiled:
    value = np.broadcast_to(np.float64(node.params.value), _shape(node.shape, sizes))   # a view: nothing allocated
    return Compiled(lambda xs: value, (), 1)


def _delta_step(node: Node, sizes) -> Compiled:
    n = _size(node.shape[0], sizes)
    return Compiled(lambda xs: np.eye(n), (), n * n)


def _basis_step(node: Node, sizes) -> Compiled:
    n, k = _size(node.shape[0], sizes), node.params.k

    def unit(xs):
        e = np.zeros(n)
        e[k] = 1.0
        return e
    return Compiled(unit, (), n)


def _map_step(node: Node, sizes) -> Compiled:
    f = ELEMENTWISE[node.params.fn].numpy
    return _reading_all(node, sizes, lambda xs: f(xs[0]))


def _binary_step(f: Callable) -> Callable[[Node, Mapping], Compiled]:
    return lambda node, sizes: _reading_all(node, sizes, lambda xs: f(xs[0], xs[1]))


def _matrix_step(f: Callable) -> Callable[[Node, Mapping], Compiled]:
    # LAPACK works on a copy of the matrix and its factorisation: a few matrices of scratch
    return lambda node, sizes: _reading_all(node, sizes, lambda xs: f(xs[0]), 3 * _entries(node.args[0], sizes))


def _logsumexp_step(node: Node, sizes) -> Compiled:
    axes = node.params.axes
    return _reading_all(node, sizes, lambda xs: _logsumexp(xs[0], axes), 2 * _entries(node.args[0], sizes))


def _amax_step(node: Node, sizes) -> Compiled:
    axes = node.params.axes
    return _reading_all(node, sizes, lambda xs: np.asarray(np.max(xs[0], axis=axes), dtype=np.float64))


def _cofactor_step(node: Node, sizes) -> Compiled:
    # the k-th derivative of det through the SVD (ir/linalg.py): a rotated copy, turned one index at a time
    k = node.params.order
    return _reading_all(node, sizes, lambda xs: linalg.det_derivative(xs[0], k), 2 * _entries(node, sizes))


def _scaled_step(f: Callable) -> Callable[[Node, Mapping], Compiled]:
    # norm2 and unit scale their operand by its largest entry first: one copy of it
    return lambda node, sizes: _reading_all(node, sizes, lambda xs: f(xs[0]), _entries(node.args[0], sizes))


def _stack_step(node: Node, sizes) -> Compiled:
    axis = node.params.axis
    return _reading_all(node, sizes, lambda xs: np.concatenate(xs, axis=axis))


def _index_step(node: Node, sizes) -> Compiled:
    # basic slicing: a view of the operand, nothing allocated
    where = tuple(p if type(p) is int else slice(*p) for p in node.params.select)
    return Compiled(lambda xs: xs[0][where], (0,), 0)


def _variable_step(node: Node, sizes) -> Compiled:
    raise AssertionError("variables are bound, not computed")


# ---- products ----

class _Labels:
    """Union-find over the labels of one product: a delta operand makes its two labels one."""

    def __init__(self) -> None:
        self.parent: dict = {}

    def find(self, label):
        root = label
        while self.parent.get(root, root) != root:
            root = self.parent[root]
        self.parent[label] = root
        return root

    def join(self, a, b) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra


@dataclass(frozen=True)
class _Reduced:
    """A product with its delta and unit-vector operands absorbed: the ordinary operands (positions) on their new
    labels, the labels fixed to one index by a unit vector, the output on the new labels, and a count factor."""
    keep: tuple[int, ...]
    specs: tuple[tuple, ...]
    fixed: dict
    out: tuple
    factor: int


def _reduce(node: Node, dims: dict) -> _Reduced | None:
    """None when the product is structurally zero (two unit vectors e_j, e_k with j != k on one index)."""
    specs, out = node.params.specs, node.params.out
    labels = _Labels()
    for arg, spec in zip(node.args, specs, strict=True):
        if arg.op is Op.DELTA:            # delta(i, j): i and j run together
            labels.join(*spec)
    fixed: dict = {}
    for arg, spec in zip(node.args, specs, strict=True):
        if arg.op is Op.BASIS and fixed.setdefault(labels.find(spec[0]), arg.params.k) != arg.params.k:
            return None
    keep = tuple(k for k, arg in enumerate(node.args) if arg.op not in (Op.DELTA, Op.BASIS))
    new_specs = tuple(tuple(labels.find(label) for label in specs[k]) for k in keep)
    new_out = tuple(labels.find(label) for label in out)
    carried = set().union(*map(set, new_specs), new_out)
    # a summed index that only deltas carried: sum_i 1 = n terms (or 1 when a unit vector fixes it)
    summed = {labels.find(label) for spec in specs for label in spec} - carried
    factor = math.prod(1 if r in fixed else dims[r] for r in summed)
    return _Reduced(keep, new_specs, fixed, new_out, factor)


def _prepare(spec: tuple, fixed: dict) -> tuple[Callable[[np.ndarray], np.ndarray], tuple]:
    """The operand restricted to its fixed indices and to its diagonal where a label repeats; its new labels."""
    index = tuple(fixed[r] if r in fixed else slice(None) for r in spec)
    free = tuple(r for r in spec if r not in fixed)
    unique = tuple(dict.fromkeys(free))
    if len(unique) == len(free) and len(free) == len(spec):
        return (lambda x: x), spec
    letter = {r: _LETTERS[k] for k, r in enumerate(unique)}
    equation = "".join(letter[r] for r in free) + "->" + "".join(letter[r] for r in unique)
    diagonal = len(unique) < len(free)
    return (lambda x: np.einsum(equation, x[index]) if diagonal else x[index]), unique


def _label_sizes(node: Node, sizes) -> dict:
    specs, out = node.params.specs, node.params.out
    dims = dict(zip(out, _shape(node.shape, sizes), strict=True))
    for arg, spec in zip(node.args, specs, strict=True):
        dims.update(zip(spec, _shape(arg.shape, sizes), strict=True))
    return dims


def _contract_step(node: Node, sizes) -> Compiled:
    full = _shape(node.shape, sizes)
    dims = _label_sizes(node, sizes)
    reduced = _reduce(node, dims)
    if reduced is None:
        return Compiled(lambda xs: np.zeros(full), (), math.prod(full))
    prepared = [_prepare(spec, reduced.fixed) for spec in reduced.specs]
    specs = [spec for _, spec in prepared]
    compact = tuple(dict.fromkeys(r for r in reduced.out if r not in reduced.fixed))
    shapes = [tuple(dims[r] for r in spec) for spec in specs]
    core, scratch = _core(specs, compact, shapes, dims)
    scatter = _scatter(reduced.out, compact, reduced.fixed, dims, full)
    preps, keep, factor = [p for p, _ in prepared], reduced.keep, reduced.factor

    def step(xs):
        value = core([p(xs[k]) for p, k in zip(preps, keep, strict=True)])
        return scatter(value * factor if factor != 1 else value)
    compact_entries = math.prod(dims[r] for r in compact)
    if scatter is _same:
        return Compiled(step, keep, compact_entries, scratch)
    return Compiled(step, keep, math.prod(full), scratch + compact_entries)


def _same(value: np.ndarray) -> np.ndarray:
    return value


def _scatter(out: tuple, compact: tuple, fixed: dict, dims: dict, full: tuple) -> Callable:
    """Place the product computed on the compact labels into zeros of the full shape: on the diagonal where an
    output label repeats, at index k where a unit vector fixed it."""
    if out == compact:
        return _same

    def position(r):
        if r in fixed:
            return fixed[r]
        axis = [1] * len(compact)
        axis[compact.index(r)] = dims[r]
        return np.arange(dims[r]).reshape(axis)     # broadcast against the other labels' ranges

    def scatter(value):
        result = np.zeros(full)
        result[tuple(position(r) for r in out)] = value
        return result
    return scatter


def _core(specs: list[tuple], out: tuple, shapes: list[tuple], dims: dict) -> tuple[Step, int]:
    """The product of operands with distinct labels each (an output label no operand carries broadcasts), and the
    entries of scratch it needs beyond its result."""
    scalars = [k for k, spec in enumerate(specs) if not spec]
    tensors = [k for k, spec in enumerate(specs) if spec]
    present = set().union(*map(set, specs)) if specs else set()
    kept = tuple(label for label in out if label in present)
    tensor_specs, tensor_shapes = [specs[k] for k in tensors], [shapes[k] for k in tensors]
    run = _product(tensor_specs, kept, tensor_shapes)
    scale = _scaled(run, tensors, scalars, [math.prod(s) for s in tensor_shapes])
    scratch = max([math.prod(s) for s in tensor_shapes], default=0) + _intermediate(tensor_specs, kept, tensor_shapes)
    expand = [k for k, label in enumerate(out) if label not in present]
    if not expand:
        return scale, scratch
    compact = tuple(dims[r] for r in out)
    return (lambda xs: np.broadcast_to(np.expand_dims(scale(xs), expand), compact)), scratch


def _intermediate(specs: list[tuple], out: tuple, shapes: list[tuple]) -> int:
    """Entries of the largest intermediate of a product of three or more operands (opt_einsum's pairwise order)."""
    if len(specs) < 3 or all(spec == out for spec in specs):
        return 0
    sizes = {label: n for spec, shape in zip(specs, shapes, strict=True) for label, n in zip(spec, shape, strict=True)}
    bound = math.prod(sizes.values())      # no intermediate has more entries than all labels together
    if bound <= 2**20:
        return bound
    letter = {label: _LETTERS[k] for k, label in enumerate(dict.fromkeys(i for s in specs for i in s))}
    equation = ",".join("".join(letter[i] for i in s) for s in specs) + "->" + "".join(letter[i] for i in out)
    return int(opt_einsum.contract_path(equation, *shapes, shapes=True)[1].largest_intermediate)


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
    letter = {label: _LETTERS[k] for k, label in enumerate(dict.fromkeys(i for s in specs for i in s))}
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


STEPS: dict[Op, Callable[[Node, Mapping[str, int]], Compiled]] = {
    Op.VAR: _variable_step,
    Op.CONST: _const_step,
    Op.DELTA: _delta_step,
    Op.BASIS: _basis_step,
    Op.MAP: _map_step,
    Op.ADD: _add_step,
    Op.POW: _binary_step(np.power),
    Op.MAX: _binary_step(np.maximum),
    Op.MIN: _binary_step(np.minimum),
    Op.CONTRACT: _contract_step,
    Op.STACK: _stack_step,
    Op.INDEX: _index_step,
    Op.LOGSUMEXP: _logsumexp_step,
    Op.AMAX: _amax_step,
    Op.NORM2: _scaled_step(linalg.norm2),
    Op.UNIT: _scaled_step(linalg.unit),
    Op.INV: _matrix_step(np.linalg.inv),
    Op.DET: _matrix_step(np.linalg.det),
    Op.LOGDET: _matrix_step(_logdet),
    Op.COFACTOR: _cofactor_step,
}


# ---- the plan ----

class Plan:
    """The nodes of an expression in evaluation order, each with its compiled NumPy step, and the memory it needs.

    Building a plan allocates nothing; `run` checks the estimates against the limits in force, then evaluates.
    """

    def __init__(self, root: Node, sizes: Mapping[str, int]):
        self.order = topological([root])
        self.shapes = [_shape(n.shape, sizes) for n in self.order]
        index = {id(n): k for k, n in enumerate(self.order)}
        self.inputs = [[index[id(a)] for a in n.args] for n in self.order]
        self.steps = [None if n.op is Op.VAR else STEPS[n.op](n, sizes) for n in self.order]
        self.needed = self._needed()
        self.largest = max((k for k in range(len(self.order)) if self.needed[k]),
                           key=lambda k: math.prod(self.shapes[k]))
        self.last_use = self._last_use()
        self.peak_bytes, self.peak_step = self._peak()

    def _reads(self, s: int) -> list[int]:
        step = self.steps[s]
        return [] if step is None else [self.inputs[s][k] for k in step.reads]

    def _needed(self) -> list[bool]:
        needed = [False] * len(self.order)
        needed[-1] = True
        for s in reversed(range(len(self.order))):
            if needed[s]:
                for k in self._reads(s):
                    needed[k] = True
        return needed

    def _last_use(self) -> list[int]:
        last = list(range(len(self.order)))
        last[-1] = len(self.order)          # the result outlives the run
        for s in range(len(self.order)):
            if self.needed[s]:
                for k in self._reads(s):
                    last[k] = s
        return last

    def _peak(self) -> tuple[int, int]:
        """The most bytes alive at once (the values still to be read, the step's result and its scratch), and the
        step where that happens. Given values are the caller's and not counted."""
        live, peak, where = 0, 0, len(self.order) - 1
        frees: dict[int, list[int]] = {}   # step -> the entries of the results it reads last, freed after it
        for s, step in enumerate(self.steps):
            if not self.needed[s] or step is None:
                continue
            during = live + step.result + step.scratch
            if during > peak:
                peak, where = during, s
            live += step.result
            frees.setdefault(self.last_use[s], []).append(step.result)
            live -= sum(frees.pop(s, []))
        return peak * _BYTES, where

    def check_limits(self) -> None:
        """LimitError when an array would have more entries than `current_limits().size`, or the evaluation would
        need more memory than `eval_bytes`."""
        limit = current_limits()
        entries = math.prod(self.shapes[self.largest])
        if entries > limit.size:
            limit.check("size", entries, f"entries of {describe(self.order[self.largest], self.shapes[self.largest])}")
        if self.peak_bytes > limit.eval_bytes:
            node, shape = self.order[self.peak_step], self.shapes[self.peak_step]
            limit.check("eval_bytes", self.peak_bytes, f"bytes of memory to evaluate {describe(node, shape)}")

    def run(self, values: Mapping[str, np.ndarray], visit: Visit | None = None) -> np.ndarray:
        """The root's value. `visit(node, value, operand values)` is called after each step (read-only)."""
        self.check_limits()
        checked = checking_on()
        results: list = [None] * len(self.order)
        with np.errstate(all="ignore"):
            for s, (node, step) in enumerate(zip(self.order, self.steps, strict=True)):
                if not self.needed[s]:
                    continue
                operands = [results[k] for k in self.inputs[s]]
                results[s] = values[node.params.name] if step is None else self._step(node, step, operands)
                if checked:
                    _assert_shape(node, results[s], self.shapes[s])
                if visit is not None:
                    visit(node, results[s], operands)
                for k in set(self.inputs[s]):
                    if self.last_use[k] == s:
                        results[k] = None
        return results[-1]

    @staticmethod
    def _step(node: Node, step: Compiled, operands: list) -> np.ndarray:
        try:
            return step.run(operands)
        except np.linalg.LinAlgError as error:
            raise EvaluationError(f"cannot compute {node.op} of a matrix at these values ({error})",
                                  hint="inv needs an invertible matrix.") from None


def _assert_shape(node: Node, value: object, shape: tuple) -> None:
    if not isinstance(value, (np.ndarray, np.generic)) or value.shape != shape or value.dtype.kind != "f":
        got = (f"shape {getattr(value, 'shape', None)}, dtype {getattr(value, 'dtype', type(value).__name__)}")
        raise StepShapeError(f"the {node.op} step {describe(node, shape)} gave {got}; its node has shape {shape}")


def describe(node: Node, shape: tuple | None = None, width: int = 60) -> str:
    """A node for a message: its text (shortened) and, when given, its shape with the sizes bound."""
    text = _text(node) if len(topological([node])) <= 2000 else node.op   # a huge text would cost more than it says
    text = text if len(text) <= width else text[:width - 3] + "..."
    where = f" ({'×'.join(map(str, shape))})" if shape else ""
    return f"`{text}`{where}"


def node_text(node: Node) -> str:
    """A node printed as Expr(node).text() prints it (notation.render reads the node and its orientation, none here)."""
    return render(SimpleNamespace(node=node, orient=None), "text")


def _text(node: Node) -> str:
    try:
        return node_text(node)
    except Exception:  # a message must not fail because a printer does
        return node.op
