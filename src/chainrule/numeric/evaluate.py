"""NumPy evaluation of IR expressions, through a plan compiled once per set of dimension sizes.

A plan knows, before anything is allocated, every step's result shape and an estimate of the memory it needs, so
`run` refuses (LimitError) what would exceed `current_limits()`; values are dropped as soon as no later step reads them.
Kronecker deltas and unit vectors inside a product are never materialised: the product is computed on the diagonal
(or the selected slice) only and scattered into zeros, so a structural zero is 0 whatever the other factors are
(0 * NaN would be NaN).

A product (a contract node) runs the plan code generation writes out (plan/contract.py): its operands paired in the
order of fewest multiply-adds, each pair one matmul, broadcast multiply, tensordot or two-operand einsum; the NumPy
functions are composed once per plan, so a call costs the array operations and a few Python calls per step. Through
`Evaluator` (what `Expr.evaluate` uses) products are also distributed over sums where that is cheaper at the sizes of
the values (plan/rewrite.py).

Invariant: every node evaluates to a float array of exactly its node's shape (the sizes bound). `checking()`
(ir/validate.py) turns on an assertion of it after every step; the test suite runs with it on.
"""
from __future__ import annotations

import math
import operator
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from types import SimpleNamespace
from typing import Any

import numpy as np

from ..errors import EvaluationError, InternalError
from ..ir import Dim, Node, Op, VarInfo, linalg, make, topological
from ..ir.elementwise import ELEMENTWISE
from ..ir.ops import ContractParams
from ..ir.validate import checking_on
from ..limits import Limits, current_limits
from ..notation import render
from ..plan.contract import ALL, LETTERS, plan_product
from ..plan.rewrite import distribute
from ..simplify import build as b
from .bind import bind

Step = Callable[[Sequence], np.ndarray]     # the operand values (None where not read) -> the value
Visit = Callable[[Node, np.ndarray, list], None]
_LETTERS = LETTERS     # einsum's letters for integer labels
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
    # (all -inf, or an inf or NaN present) the unshifted form gives the limit (-inf, inf or NaN). Run inside the
    # plan's errstate: log(0) = -inf raises no warning.
    if axes is None or len(axes) == x.ndim:     # one slice: numbers, not arrays, for the shift
        m = x.max()
        shift = m if math.isfinite(m) else np.float64(0.0)
        return np.log(np.exp(x - shift).sum()) + shift
    m = np.max(x, axis=axes, keepdims=True)
    shift = np.where(np.isfinite(m), m, 0.0)
    total = np.log(np.sum(np.exp(x - shift), axis=axes, keepdims=True)) + shift
    return np.asarray(total.reshape([d for k, d in enumerate(x.shape) if k not in axes]), dtype=np.float64)


def _logdet(a: np.ndarray) -> np.ndarray:
    sign, value = np.linalg.slogdet(a)
    return np.where(sign > 0, value, np.nan)


def _sum(args: Sequence[np.ndarray]) -> np.ndarray:
    total = args[0]
    for a in args[1:]:
        total = total + a
    return total


def _add_step(node: Node, sizes) -> Compiled:
    # operands have the node's shape or are scalars (broadcast); each partial sum is freed as the next is made. A
    # term A' is read as the view A.T of its matrix (operands() passes A too), so A' is no step of its own: A+A' is
    # one step, not two (the Hessian of x'*A*x at n = 10 is a few µs, and a step is a tenth of it)
    reads, flips = _terms(node)
    entries = _entries(node, sizes)
    if len(reads) == 2:         # the usual sum, without the loop
        return Compiled(_sum_of_two(reads, flips), tuple(sorted(set(reads))), entries, entries)
    if not any(flips):
        return _reading_all(node, sizes, _sum, entries)
    return Compiled(lambda xs: _sum([xs[k].T if flip else xs[k] for k, flip in zip(reads, flips, strict=True)]),
                    tuple(sorted(set(reads))), entries, entries)


def _terms(node: Node) -> tuple[tuple[int, ...], tuple[bool, ...]]:
    """Where an add step finds each term among its operands (a transposed matrix: its matrix, after node.args), and
    whether it reads it transposed."""
    reads, flips, extra = [], [], len(node.args)
    for k, a in enumerate(node.args):
        if _is_matrix_transpose(a):
            reads.append(extra)
            extra += 1
        else:
            reads.append(k)
        flips.append(reads[-1] != k)
    return tuple(reads), tuple(flips)


def _sum_of_two(reads: tuple[int, ...], flips: tuple[bool, ...]) -> Step:
    (i, j), (flip_i, flip_j) = reads, flips
    if flip_i and not flip_j:
        i, j, flip_i, flip_j = j, i, flip_j, flip_i        # a sum commutes: the transposed term second
    if not flip_j:
        return lambda xs: xs[i] + xs[j]
    if not flip_i:
        return lambda xs: xs[i] + xs[j].T
    return lambda xs: (xs[i] + xs[j]).T                     # A' + B' = (A + B)'


def _is_matrix_transpose(node: Node) -> bool:
    """node is A' for a matrix A: a product of one operand whose two labels are the output's, swapped."""
    if node.op is not Op.CONTRACT or len(node.args) != 1 or node.rank != 2:
        return False
    (spec,), out = node.params
    return out[0] != out[1] and spec == out[::-1]


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


def _ismax_step(node: Node, sizes) -> Compiled:
    # x == max(x): exact, the maximum is one of x's own numbers (a NaN entry is nobody's maximum)
    axes = node.params.axes
    return _reading_all(node, sizes, lambda xs: (xs[0] == np.max(xs[0], axis=axes, keepdims=True)).astype(np.float64),
                        _entries(node, sizes))


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


# ---- products: the plan of plan/contract.py, carried out by NumPy functions built once ----

Fn = Callable[[Sequence], Any]    # the operand values of a contract node (None where not read) -> an array


def _constant(value: np.float64) -> Fn:
    return lambda xs: value


class _NumPyEmitter:
    """The planner's operations (plan.contract.Emitter) as NumPy functions of the operand values, composed once per
    product and sizes; `reads` collects the operand positions they use."""
    solves = True       # inv(A)*b as solve(A, b): a product step also reads A, the operand of each inv(A) it has
    derivatives: frozenset[str] = frozenset()    # NumPy has no one-pass g .* f'(x)

    def times_derivative(self, fn: str, g: Fn, y: Fn) -> Fn:
        raise AssertionError("NumPy has no one-pass g .* f'(x): the planner never asks for one")

    def __init__(self, node: Node, sizes: Mapping[str, int]):
        self.args = operands(node)
        self.sizes = sizes
        self.reads: set[int] = set()
        self.loads: dict[int, int] = {}      # id of a function that reads an operand as it is -> its position
        self.numbers: dict[int, np.float64] = {}    # id of a function that returns a number known now -> it
        self.kept: list[Fn] = []             # those functions, alive while their ids are keys

    def ref(self, arg: Node) -> Fn:
        k = next(k for k, a in enumerate(self.args) if a is arg)
        self.reads.add(k)
        load = itemgetter(k)
        self.loads[id(load)] = k
        self.kept.append(load)
        return load

    def _binary(self, a: Fn, b: Fn, op: Callable[[Any, Any], Any]) -> Fn:
        # operands read as they are are indexed in place, numbers known when planning used as they are: one call
        # fewer each (at n = 10 the calls are the cost)
        i, j = self.loads.get(id(a), -1), self.loads.get(id(b), -1)     # -1: not an operand read as it is
        if id(a) in self.numbers:
            c = self.numbers[id(a)]
            return (lambda xs: op(c, xs[j])) if j >= 0 else (lambda xs: op(c, b(xs)))
        if i >= 0 and j >= 0:
            return lambda xs: op(xs[i], xs[j])
        if i >= 0:
            return lambda xs: op(xs[i], b(xs))
        if j >= 0:
            return lambda xs: op(a(xs), xs[j])
        return lambda xs: op(a(xs), b(xs))

    def note(self, rewrite: str) -> None:
        """Nothing to record: notes are for a generated module's docstring."""

    def number(self, value: float) -> Fn:
        return self._known(np.float64(value))

    def size(self, dim: object) -> Fn:
        return self._known(np.float64(_size(dim, self.sizes)))   # type: ignore[arg-type]

    def _known(self, value: np.float64) -> Fn:
        f = _constant(value)
        self.numbers[id(f)] = value
        self.kept.append(f)
        return f

    def times(self, a: Fn, b: Fn) -> Fn:
        return self._binary(a, b, operator.mul)

    def scaled(self, coefficient: float, x: Fn) -> Fn:
        if coefficient == 1.0:
            return x
        return self._binary(self._known(np.float64(coefficient)), x, operator.mul)

    def zeros(self, dims: Sequence[object]) -> Fn:
        shape = _shape(dims, self.sizes)
        return lambda xs: np.zeros(shape)

    def full(self, dims: Sequence[object], value: float) -> Fn:
        shape = _shape(dims, self.sizes)
        return lambda xs: np.full(shape, value)

    def broadcast(self, x: Fn, dims: Sequence[object]) -> Fn:
        shape = _shape(dims, self.sizes)        # a read-only view: nothing allocated
        return lambda xs: np.broadcast_to(x(xs), shape)

    def embed(self, x: Fn, dims: Sequence[object], where: Sequence[int]) -> Fn:
        shape = _shape(dims, self.sizes)
        index, order = _embedding(shape, where)
        arrange = order != tuple(range(len(order)))

        def embedded(xs):
            result = np.zeros(shape)
            result[index] = x(xs).transpose(order) if arrange else x(xs)
            return result
        return embedded

    def transpose(self, x: Fn, perm: Sequence[int]) -> Fn:
        order = tuple(perm)
        k = self.loads.get(id(x), -1)
        if order == (1, 0):
            return (lambda xs: xs[k].T) if k >= 0 else (lambda xs: x(xs).T)
        return lambda xs: x(xs).transpose(order)

    def sum(self, x: Fn, axes: Sequence[int] | None) -> Fn:
        axis = None if axes is None else tuple(axes)
        return lambda xs: x(xs).sum(axis=axis)

    def index(self, x: Fn, items: Sequence[int | slice | None]) -> Fn:
        where = tuple(items)
        return lambda xs: x(xs)[where]

    def diagonal(self, x: Fn, equation: str) -> Fn:
        return lambda xs: np.einsum(equation, x(xs))

    def matmul(self, a: Fn, b: Fn) -> Fn:
        return self._binary(a, b, operator.matmul)

    def mul(self, a: Fn, b: Fn) -> Fn:
        return self._binary(a, b, operator.mul)

    def tensordot(self, a: Fn, b: Fn, axes_a: Sequence[int], axes_b: Sequence[int]) -> Fn:
        axes = (list(axes_a), list(axes_b))
        return lambda xs: np.tensordot(a(xs), b(xs), axes=axes)

    def einsum(self, equation: str, operands: Sequence[Fn], path: Sequence[tuple[int, ...]]) -> Fn:
        # two operands sharing a kept (batch) label: one pass of einsum's own loop, no order to choose
        a, b = operands
        return lambda xs: np.einsum(equation, a(xs), b(xs))

    def solve(self, a: Fn, b: Fn) -> Fn:
        return lambda xs: np.linalg.solve(a(xs), b(xs))

    def cofactor_along(self, a: Fn, e: Fn) -> Fn:
        return lambda xs: linalg.cofactor_along(a(xs), e(xs))


def _embedding(shape: tuple[int, ...], where: Sequence[int]) -> tuple[tuple, tuple[int, ...]]:
    """Where a value goes in zeros of `shape`: output axis k runs along the value's axis where[k] (several output
    axes on one value axis: a diagonal), or sits at the fixed index -1 - where[k] (a unit vector's entry). Returns the
    index into the zeros and the order of the value's axes that fits it. An axis the value has once is a slice, a
    repeated one a range (`H[i, :, i, :]`, as a hand-written Hessian would index), so NumPy's rule applies: indices
    by array come first unless they are adjacent, where they stand in their place."""
    counts = Counter(w for w in where if w >= 0)
    repeated = list(dict.fromkeys(w for w in where if counts[w] > 1))
    index: list = []
    for k, w in enumerate(where):
        if w < 0:
            index.append(-1 - w)
        elif counts[w] == 1:
            index.append(ALL)
        else:
            axis = repeated.index(w)
            index.append(np.arange(shape[k]).reshape([shape[k] if a == axis else 1 for a in range(len(repeated))]))
    sliced = [(k, w) for k, w in enumerate(where) if w >= 0 and counts[w] == 1]
    if not repeated:                    # integers and slices only: basic indexing, the slices in their order
        return tuple(index), tuple(w for _, w in sliced)
    by_array = [k for k, w in enumerate(where) if w < 0 or counts[w] > 1]
    if by_array != list(range(by_array[0], by_array[-1] + 1)):
        return tuple(index), (*repeated, *(w for _, w in sliced))
    before = [w for k, w in sliced if k < by_array[0]]
    return tuple(index), (*before, *repeated, *(w for k, w in sliced if k > by_array[-1]))


def operands(node: Node) -> tuple[Node, ...]:
    """The values a node's step receives: its operands, and for a product also the matrix A of each operand
    inv(A) or cofactor(A, 2), so that inv(A)*b can be solve(A, b) and cofactor(A, 2) against a matrix go through
    A's SVD, for a sum the matrix A of each term A', read as the view A.T (then inv(A), cofactor(A, 2) and A' are not
    computed unless another step reads them)."""
    if node.op is Op.ADD:
        return node.args + tuple(a.args[0] for a in node.args if _is_matrix_transpose(a))
    if node.op is not Op.CONTRACT:
        return node.args
    return node.args + tuple(a.args[0] for a in node.args
                             if a.op is Op.INV or (a.op is Op.COFACTOR and a.params.order == 2))


def _contract_step(node: Node, sizes) -> Compiled:
    e = _NumPyEmitter(node, sizes)
    planned = plan_product(node, e.ref, e, sizes)
    # LAPACK factorises a copy of each matrix it solves with (or takes the SVD of)
    solved = sum(_entries(a, sizes) for k, a in enumerate(e.args) if k >= len(node.args) and k in e.reads)
    return Compiled(planned.value, tuple(sorted(e.reads)), _entries(node, sizes), planned.scratch + solved)


def _product(specs: list[tuple], out: tuple, shapes: list[tuple]) -> Callable[..., np.ndarray]:
    """The product of arrays with these labels (einsum's specs) as the planned NumPy function of the arrays."""
    node = _product_node(specs, out, shapes)
    run = _contract_step(node, {}).run
    return lambda *xs: run(list(xs))


def _intermediate(specs: list[tuple], out: tuple, shapes: list[tuple]) -> int:
    """Entries of the partial products alive beside the result of a product, in its planned order."""
    return _contract_step(_product_node(specs, out, shapes), {}).scratch


def _product_node(specs: list[tuple], out: tuple, shapes: list[tuple]) -> Node:
    dims = {label: n for spec, shape in zip(specs, shapes, strict=True) for label, n in zip(spec, shape, strict=True)}
    args = tuple(b.var(f"a{k}", tuple(shape)) for k, shape in enumerate(shapes))
    return make(Op.CONTRACT, args, ContractParams(tuple(map(tuple, specs)), tuple(out)),
                tuple(dims[r] for r in out))


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
    Op.ISMAX: _ismax_step,
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

    def __init__(self, root: Node, sizes: Mapping[str, int], rewrite: bool = False):
        """`rewrite`: distribute products over sums where that saves multiply-adds at these sizes (plan/rewrite.py):
        the same value, computed by other nodes (so not for a caller that reports on the nodes it visits)."""
        if rewrite:
            [root], _ = distribute([root], sizes)
        self.order = topological([root])
        self.shapes = [_shape(n.shape, sizes) for n in self.order]
        index = {id(n): k for k, n in enumerate(self.order)}
        self.inputs = [[index[id(a)] for a in operands(n)] for n in self.order]
        self.steps = [None if n.op is Op.VAR else STEPS[n.op](n, sizes) for n in self.order]
        self.needed = self._needed()
        self.largest = max((k for k in range(len(self.order)) if self.needed[k]),
                           key=lambda k: math.prod(self.shapes[k]))
        self.last_use = self._last_use()
        self.peak_bytes, self.peak_step = self._peak()
        self.variables, self.program = self._program()
        self.blank: list = [None] * len(self.order)
        self.largest_entries = math.prod(self.shapes[self.largest])
        self.within: Limits | None = None      # the last limits this plan was found within (the estimates are fixed)

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
        entries = self.largest_entries
        if entries > limit.size:
            limit.check("size", entries, f"entries of {describe(self.order[self.largest], self.shapes[self.largest])}")
        if self.peak_bytes > limit.eval_bytes:
            node, shape = self.order[self.peak_step], self.shapes[self.peak_step]
            limit.check("eval_bytes", self.peak_bytes, f"bytes of memory to evaluate {describe(node, shape)}")
        self.within = limit

    def _program(self) -> tuple[list[tuple[int, str]], list[tuple[int, Step, Callable, tuple[int, ...]]]]:
        """(the variables read: step, name), and the steps to run in order: (step, function, the function that picks
        its operands' values from all values, the steps whose values it reads last and frees)."""
        variables, program = [], []
        for s, (node, step) in enumerate(zip(self.order, self.steps, strict=True)):
            if not self.needed[s]:
                continue
            if step is None:
                variables.append((s, node.params.name))
                continue
            frees = tuple(k for k in dict.fromkeys(self.inputs[s]) if self.last_use[k] == s)
            program.append((s, step.run, _fetch(self.inputs[s]), frees))
        return variables, program

    @np.errstate(all="ignore")       # as a decorator: thread-safe, and half the cost of a `with` block per call
    def run(self, values: Mapping[str, np.ndarray], visit: Visit | None = None) -> np.ndarray:
        """The root's value. `visit(node, value, operand values)` is called after each step (read-only). Infinities
        and NaN are values here (diagnose.py says where they start), so floating-point warnings are off. The steps
        run in order, each value freed after its last use."""
        if current_limits() is not self.within:     # else found within them already (Limits are immutable)
            self.check_limits()
        if visit is not None or checking_on():
            return self._run_watched(values, visit)
        results = self.blank.copy()
        for s, name in self.variables:
            results[s] = values[name]
        program = self.program
        s = -1
        try:
            if len(program) == 1:          # one step (A+A', the Hessian of x'*A*x): its value is the root's
                s, run, fetch, _ = program[0]
                return run(fetch(results))
            for s, run, fetch, frees in program:
                results[s] = run(fetch(results))
                for k in frees:
                    results[k] = None
        except np.linalg.LinAlgError as error:
            raise _singular(self.order[s], error) from None
        return results[-1]

    def _run_watched(self, values: Mapping[str, np.ndarray], visit: Visit | None) -> np.ndarray:
        """run, step by step (inside run's errstate): each value's shape asserted in checking mode, and shown to
        visit."""
        checked = checking_on()
        results: list = [None] * len(self.order)
        for s, (node, step) in enumerate(zip(self.order, self.steps, strict=True)):
            if not self.needed[s]:
                continue
            given = [results[k] for k in self.inputs[s]]
            results[s] = values[node.params.name] if step is None else self._step(node, step, given)
            if checked:
                _assert_shape(node, results[s], self.shapes[s])
            if visit is not None:
                visit(node, results[s], given[:len(node.args)])
            for k in set(self.inputs[s]):
                if self.last_use[k] == s:
                    results[k] = None
        return results[-1]

    @staticmethod
    def _step(node: Node, step: Compiled, operands: list) -> np.ndarray:
        try:
            return step.run(operands)
        except np.linalg.LinAlgError as error:
            raise _singular(node, error) from None


def _fetch(inputs: list[int]) -> Callable[[list], Sequence]:
    """The values at these positions, as a sequence; an itemgetter (no Python frame), of a one-long slice for one."""
    if len(inputs) >= 2:
        return itemgetter(*inputs)
    if inputs:
        return itemgetter(slice(inputs[0], inputs[0] + 1))
    return itemgetter(slice(0, 0))


def _singular(node: Node, error: Exception) -> EvaluationError:
    # a product fails here only where it solves with the matrix of one of its inv(A) operands
    what = "inv(A) times a value (solved with A)" if node.op is Op.CONTRACT else f"{node.op} of a matrix"
    return EvaluationError(f"cannot compute {what} at these values ({error})", hint="inv needs an invertible matrix.")


_FLOAT64 = np.dtype(np.float64)


class Evaluator:
    """One expression's evaluation: given values bound to its variables, and its plan for each set of sizes, built
    once. A call whose values are float64 arrays of the same names and shapes as the last such call skips binding
    (nothing to convert, and every check bind makes would pass again).

    >>> import chainrule as cr
    >>> f = cr.parse("x'*A*x")
    >>> evaluate = Evaluator(f.node, f.variables)
    >>> float(evaluate({"x": np.ones(2), "A": np.eye(2)}))
    2.0
    """

    def __init__(self, node: Node, variables: Mapping[str, VarInfo]):
        self.node = node
        self.variables = variables
        self._needed: set[str] | None = None
        self.plans: dict[tuple, Plan] = {}
        self.checks_values = any(info.symmetric for info in variables.values())   # symmetry: checked every call
        self.last: tuple[tuple[tuple[str, tuple[int, ...]], ...], Plan] | None = None   # ((name, shape), ...), plan

    def __call__(self, given: Mapping[str, object]) -> np.ndarray:
        last = self.last
        if last is not None and len(given) == len(last[0]):
            try:
                for name, shape in last[0]:
                    value = given[name]
                    if type(value) is not np.ndarray or value.dtype is not _FLOAT64 or value.shape != shape:
                        break
                else:
                    value = last[1].run(given)                # type: ignore[arg-type]
                    return value if type(value) is np.ndarray else np.asarray(value)
            except KeyError:
                pass
        sizes, arrays = bind(self.variables, given, self.needed())
        plan = self.plan(sizes)
        if not self.checks_values and all(arrays[name] is value for name, value in given.items()):
            self.last = (tuple((name, arrays[name].shape) for name in given), plan)
        return np.asarray(plan.run(arrays))

    def needed(self) -> set[str]:
        """The variables the expression uses (a declared one may be unused), found on the first evaluation: building
        an expression does not walk its graph for them."""
        if self._needed is None:
            self._needed = {n.params.name for n in topological([self.node]) if n.op is Op.VAR}
        return self._needed

    def plan(self, sizes: Mapping[str, int]) -> Plan:
        key = tuple(sorted(sizes.items()))
        plan = self.plans.get(key)
        if plan is None:
            plan = self.plans[key] = Plan(self.node, sizes, rewrite=True)
        return plan


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
