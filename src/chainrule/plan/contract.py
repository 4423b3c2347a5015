"""A generalized product (Op.CONTRACT, one einsum) planned as a few pairwise array operations for given sizes.

The plan, in order:
- Kronecker deltas join their two indices and unit vectors fix one (both are absorbed, never built: `A*eye(n)` is
  `A`); numeric factors are collected into one coefficient, applied to the smallest operand;
- the pairwise order of the remaining operands has the fewest multiply-adds at the planning sizes (so `A*B*x` is
  `A @ (B @ x)` when x is a vector, and `X'*(y.*s)` multiplies the vectors first);
- each pair is done by the cheapest operation that does it: an element-wise product (with broadcasting), a matrix
  product `@`, `solve(A, b)` for `inv(A)*b`, the SVD of A for `cofactor(A, 2)` against a matrix (O(n^3), where
  cofactor(A, 2) has n^4 entries), `tensordot`, and only where none fits a two-operand `einsum` (with its path); an
  element-wise product `g .* f'(x)` is one operation from g and f(x) where the emitter has one (torch's
  `tanh_backward`: one pass, where `g .* (1 - y.^2)` is three), and f'(x) is then never computed;
- the result is transposed to the output's order, broadcast along indices no operand carries and placed on a diagonal
  where an output index repeats (`diag(x)`).

The planner decides *what* to compute; an `Emitter` does it: codegen's writes source text (codegen/contract.py),
numeric's builds NumPy functions run at every evaluation (numeric/evaluate.py). Operand values are asked for through
`ref` only when used: `inv(A)*b` reads A, not inv(A), so inv(A) is never computed when every use of it is solved.

>>> from chainrule.ir import make
>>> from chainrule.ir.ops import ContractParams
>>> from chainrule.simplify import build as b
>>> A, B, x = b.var("A", ("n", "n")), b.var("B", ("n", "n")), b.var("x", ("n",))
>>> chain = make(Op.CONTRACT, (A, B, x), ContractParams(((0, 1), (1, 2), (2,)), (0,)), ("n",))
>>> pairing(chain, {"n": 100})                  # A*(B*x), not (A*B)*x
(0, (1, 2))
"""
from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any, Protocol

from ..ir import Node, Op
from ..ir.elementwise import ELEMENTWISE
from ..simplify import build

DEFAULT_SIZE = 1000            # a dimension's planning size when none is given
DERIVATIVE_DEPTH = 3           # how far below an operand derivative_of looks for the f(x) it is written from
EXHAUSTIVE = 8                 # products of up to this many operands are ordered exhaustively, longer ones greedily
LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
ALL = slice(None)              # an index item: the whole axis
Value = Any                    # an emitter's value: a fragment of source text, a NumPy function, ...
Ref = Callable[[Node], Value]  # an operand's value; calling it records that the operand is read


class Emitter(Protocol):
    """The operations a planned product is made of, for one way of carrying it out. `dims` are dimensions of the
    IR (a name or a number); `items` of an index are a position (int), the whole axis (ALL) or a new axis (None)."""

    solves: bool               # whether inv(A)*b may be done as solve(A, b) (reading A, an operand of the inverse)
    # the element-wise functions f whose g .* f'(x) the emitter does in one operation from g and y = f(x), where f's
    # derivative rule is written from y alone (tanh: 1 - y.^2); the planner then reads y, not f'(x)
    derivatives: frozenset[str]

    def note(self, rewrite: str) -> None: ...
    def number(self, value: float) -> Value: ...
    def size(self, dim: object) -> Value: ...
    def times(self, a: Value, b: Value) -> Value: ...
    def scaled(self, coefficient: float, x: Value) -> Value: ...
    def zeros(self, dims: Sequence[object]) -> Value: ...
    def full(self, dims: Sequence[object], value: float) -> Value: ...
    def broadcast(self, x: Value, dims: Sequence[object]) -> Value: ...
    def embed(self, x: Value, dims: Sequence[object], where: Sequence[int]) -> Value: ...
    def transpose(self, x: Value, perm: Sequence[int]) -> Value: ...
    def sum(self, x: Value, axes: Sequence[int] | None) -> Value: ...
    def index(self, x: Value, items: Sequence[int | slice | None]) -> Value: ...
    def diagonal(self, x: Value, equation: str) -> Value: ...
    def matmul(self, a: Value, b: Value) -> Value: ...
    def mul(self, a: Value, b: Value) -> Value: ...
    def times_derivative(self, fn: str, g: Value, y: Value) -> Value: ...
    def tensordot(self, a: Value, b: Value, axes_a: Sequence[int], axes_b: Sequence[int]) -> Value: ...
    def einsum(self, equation: str, operands: Sequence[Value], path: Sequence[tuple[int, ...]]) -> Value: ...
    def solve(self, a: Value, b: Value) -> Value: ...
    def cofactor_along(self, a: Value, e: Value) -> Value: ...


@dataclass
class _Term:
    """An operand (or a partial product) on its labels; `node` is the IR node while it is an untouched operand
    (whose value is asked for only when used: a solved inverse is never read)."""
    labels: tuple
    node: Node | None = None
    value_: Value = None

    def value(self, ref: Ref) -> Value:
        if self.value_ is None:
            assert self.node is not None
            self.value_ = ref(self.node)
        return self.value_


class _Labels:
    """Union-find over the labels of one product: a delta operand makes its two labels one."""

    def __init__(self) -> None:
        self.parent: dict = {}

    def find(self, label):
        while self.parent.get(label, label) != label:
            label = self.parent[label]
        return label

    def join(self, a, b) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra


@dataclass
class _Product:
    """One contraction being planned: the emitter, the operand values, the sizes (symbolic and for planning), and
    the most entries of any partial product made (the memory a step needs beyond its result)."""
    e: Emitter
    ref: Ref
    dims: dict                 # label -> Dim (a name or a number)
    plan_sizes: Mapping[str, int]
    order: tuple = ()          # the output's labels, in order
    partial: list[int] = field(default_factory=list)    # the entries of each partial product made, in order
    last: _Term | None = None                              # the partial product made last

    def size(self, label) -> int:
        d = self.dims[label]
        return d if isinstance(d, int) else self.plan_sizes.get(d, DEFAULT_SIZE)

    def entries(self, labels: tuple) -> int:
        return math.prod(self.size(r) for r in labels)

    def made(self, labels: tuple, value: Value) -> _Term:
        self.last = _Term(labels, None, value)
        self.partial.append(self.entries(labels))
        return self.last


@dataclass(frozen=True)
class Planned:
    """A planned product: its value, and the most entries of the partial products alive beside the result."""
    value: Value
    scratch: int


def entries(shape: Sequence, plan_sizes: Mapping[str, int]) -> int:
    """The number of entries of an array of this shape, a dimension without a given size counted at DEFAULT_SIZE."""
    return math.prod(d if isinstance(d, int) else plan_sizes.get(d, DEFAULT_SIZE) for d in shape)


def label_dims(node: Node) -> dict:
    """label -> dimension (a name or a number), for every label of a contract node."""
    specs, out = node.params.specs, node.params.out
    dims = dict(zip(out, node.shape, strict=True))
    for arg, spec in zip(node.args, specs, strict=True):
        dims.update(zip(spec, arg.shape, strict=True))
    return dims


def plan_product(node: Node, ref: Ref, e: Emitter, plan_sizes: Mapping[str, int]) -> Planned:
    """A contract node's value, done by the emitter's operations in the planned order."""
    specs, out = node.params.specs, node.params.out
    labels = _Labels()
    for arg, spec in zip(node.args, specs, strict=True):
        if arg.op is Op.DELTA:                                  # delta(i, j): i and j run together
            labels.join(*spec)
            e.note("identity matrices absorbed into products, never built")
    fixed: dict = {}
    for arg, spec in zip(node.args, specs, strict=True):
        if arg.op is Op.BASIS and fixed.setdefault(labels.find(spec[0]), arg.params.k) != arg.params.k:
            return Planned(e.zeros(node.shape), 0)              # e_j .* e_k = 0 for j != k
    p = _Product(e, ref, {labels.find(r): d for r, d in label_dims(node).items()}, plan_sizes)
    coefficient, scalars, terms = _operands(node, labels, fixed, p)
    new_out = tuple(labels.find(r) for r in out)
    p.order = new_out
    carried = set(new_out).union(*(set(t.labels) for t in terms))
    for r in {labels.find(r) for spec in specs for r in spec} - carried - set(fixed):
        d = p.dims[r]                                          # sum_i 1 over an index only deltas carried: n terms
        if isinstance(d, int):
            coefficient *= d
        else:
            scalars.append(e.size(d))
    compact = tuple(dict.fromkeys(r for r in new_out if r not in fixed))
    value, present, filled = _value(terms, coefficient, scalars, compact, p)
    result = _arrange(value, present, filled, compact, new_out, fixed, node.shape, p)
    return Planned(result, _scratch(p, value, compact != new_out, p.entries(compact)))


def _scratch(p: _Product, value: Value, embedded: bool, compact: int) -> int:
    """The most entries of partial products alive beside the result: the last one made is the result itself,
    unless the result is placed into zeros (a diagonal), where it is alive beside them."""
    partial = p.partial
    if p.last is not None and p.last.value_ is value:
        partial = partial[:-1]
    return max(partial, default=0) + (compact if embedded else 0)


def _operands(node: Node, labels: _Labels, fixed: dict, p: _Product) -> tuple[float, list[Value], list[_Term]]:
    coefficient, scalars, terms = 1.0, [], []
    for arg, spec in zip(node.args, node.params.specs, strict=True):
        if arg.op in (Op.DELTA, Op.BASIS):
            continue
        found = tuple(labels.find(r) for r in spec)
        if arg.op is Op.CONST or _filled(arg):
            # c everywhere: the number c, its axes ones (summed alone: a size, sum(vector(1, "m")) = m; on the
            # output alone: a broadcast; shared with another operand: nothing), never an array to read
            coefficient *= arg.params.value if arg.op is Op.CONST else math.prod(a.params.value for a in arg.args)
        elif not found:
            scalars.append(p.ref(arg))
        elif any(r in fixed for r in found) or len(set(found)) < len(found):
            terms.append(_restrict(p.ref(arg), found, fixed, p))
        else:
            terms.append(_Term(found, arg))
    return coefficient, scalars, terms


def _filled(node: Node) -> bool:
    """Whether node is a product of numbers alone, broadcast: the same number everywhere (vector(1, "m") is 1
    broadcast; with an output index repeated it would be a diagonal, zero off it)."""
    return (node.op is Op.CONTRACT and all(a.op is Op.CONST and not a.shape for a in node.args)
            and len(set(node.params.out)) == len(node.params.out))


def _restrict(value: Value, found: tuple, fixed: dict, p: _Product) -> _Term:
    """The operand at its fixed indices (x[:, k]) and on its diagonal where a label repeats (einsum "ii->i")."""
    if any(r in fixed for r in found):
        value = p.e.index(value, [fixed.get(r, ALL) for r in found])
        found = tuple(r for r in found if r not in fixed)
    unique = tuple(dict.fromkeys(found))
    if len(unique) < len(found):
        letter = {r: LETTERS[k] for k, r in enumerate(unique)}
        value = p.e.diagonal(value, "".join(letter[r] for r in found) + "->" + "".join(letter[r] for r in unique))
    return _Term(unique, None, value)


def _value(terms: list[_Term], coefficient: float, scalars: list[Value], compact: tuple,
           p: _Product) -> tuple[Value, tuple, float | None]:
    """The product of the operands, on the output's labels that some operand carries (in some order), and the
    number it is when it is a number known when planning (no operands)."""
    if not terms:
        if not scalars:
            return p.e.number(float(coefficient)), (), float(coefficient)
        return _scaled_times(coefficient, scalars, p.e), (), None
    if coefficient != 1.0 or scalars:
        # scale the smallest operand once summed over the indices that only it carries (c*sum(Y, 2), not
        # sum(c*Y, 2)), not the (possibly much larger) result
        # (of operands as small, not one f'(x) that the emitter multiplies in one operation from f(x): scaled, it
        # would be computed after all)
        needed = [set(compact).union(*(o.labels for j, o in enumerate(terms) if j != k)) for k in range(len(terms))]
        fused = [_fusable(t, p) is not None for t in terms]
        k = min(range(len(terms)),
                key=lambda j: (p.entries(tuple(r for r in terms[j].labels if r in needed[j])), fused[j]))
        t = _sum_alone(terms[k], needed[k], p)
        terms[k] = p.made(t.labels, _scaled_times(coefficient, scalars + [t.value(p.ref)], p.e))
    result = _chain(terms, set(compact), p)
    return result.value(p.ref), result.labels, None


def _scaled_times(coefficient: float, values: list[Value], e: Emitter) -> Value:
    """coefficient times the values, the coefficient on the first (a number where there is one: -g*s, 2*g*t, one
    pass over the array for all the numbers, where -(g*s) and 2*(g*t) are a pass per number)."""
    return _times([e.scaled(coefficient, values[0]), *values[1:]], e)


def _times(values: list[Value], e: Emitter) -> Value:
    result = values[0]
    for v in values[1:]:
        result = e.times(result, v)
    return result


def _chain(terms: list[_Term], out: set, p: _Product) -> _Term:
    """The operands contracted pairwise in the order of fewest multiply-adds at the planning sizes."""
    tree = _order([t.labels for t in terms], out, p.entries)[1]
    if len(terms) > 2:
        p.e.note("products of three or more factors ordered by flop count")
    done: dict[int, _Term] = {}
    for node in _postorder(tree):           # children before parents: each pair once both halves exist
        if isinstance(node, int):
            continue
        left, right = node
        inside = _members(node)
        keep = out.union(*(set(t.labels) for k, t in enumerate(terms) if k not in inside))
        done[id(node)] = _pair(_value_of(left, done, terms), _value_of(right, done, terms), keep, p)
    return _sum_alone(_value_of(tree, done, terms), out, p)


def _value_of(node, done: dict, terms: list[_Term]) -> _Term:
    return terms[node] if isinstance(node, int) else done[id(node)]


def _postorder(tree) -> list:
    out, stack = [], [(tree, False)]
    while stack:
        node, expanded = stack.pop()
        if isinstance(node, int) or expanded:
            out.append(node)
        else:
            stack += [(node, True), (node[1], False), (node[0], False)]
    return out


def _members(tree) -> set[int]:
    return {n for n in _postorder(tree) if isinstance(n, int)}


# ---- the order: a binary tree of operand positions ----

Entries = Callable[[tuple], int]


def _order(specs: Sequence[tuple], out: set, entries: Entries) -> tuple[int, object]:
    """(the multiply-adds, the pairing of the operands: a binary tree of their positions) with the fewest
    multiply-adds. The cost of multiplying two partial products is the product of the sizes of all their labels (n^3
    for a matrix product, n^2 for a matrix times a vector, n for a Hadamard product of vectors). Exhaustive up to
    EXHAUSTIVE operands, greedy beyond."""
    # each subset's kept labels and labels, and each label set's size, computed once: the exhaustive search weighs
    # every split of every subset
    kept = functools.cache(_kept(specs, out))
    labels = functools.cache(lambda group: _labels_of(group, specs))
    size = functools.cache(lambda found: entries(tuple(found)))

    def pair_cost(a: frozenset, b: frozenset) -> int:
        return size(kept(a) | kept(b) | (labels(a) & labels(b)))

    if len(specs) == 1:
        return 0, 0
    if len(specs) > EXHAUSTIVE:
        return _greedy(len(specs), pair_cost)
    return _optimal(len(specs), pair_cost)


def _optimal(n: int, pair_cost) -> tuple[int, object]:
    """(the fewest multiply-adds, the pairing that achieves them), by trying every split of every subset."""
    best: dict[frozenset, tuple[int, object]] = {frozenset([k]): (0, k) for k in range(n)}
    for size in range(2, n + 1):
        for group in _subsets(n, size):
            def cost(left: frozenset, group: frozenset = group) -> int:
                return best[left][0] + best[group - left][0] + pair_cost(left, group - left)
            left = min(_halves(sorted(group)), key=cost)     # the first of the cheapest splits: its tree built once
            best[group] = (cost(left), (best[left][1], best[group - left][1]))
    return best[frozenset(range(n))]


def _greedy(n: int, pair_cost) -> tuple[int, object]:
    groups: list[tuple[frozenset, object]] = [(frozenset([k]), k) for k in range(n)]
    total = 0
    while len(groups) > 1:
        i, j = min(((i, j) for i in range(len(groups)) for j in range(i + 1, len(groups))),
                   key=lambda ij: pair_cost(groups[ij[0]][0], groups[ij[1]][0]))
        total += pair_cost(groups[i][0], groups[j][0])
        merged = (groups[i][0] | groups[j][0], (groups[i][1], groups[j][1]))
        groups = [g for k, g in enumerate(groups) if k not in (i, j)] + [merged]
    return total, groups[0][1]


def _kept(specs: Sequence[tuple], out: set):
    def kept(group: frozenset) -> frozenset:
        outside = set(out).union(*(set(specs[k]) for k in range(len(specs)) if k not in group))
        return frozenset(r for k in group for r in specs[k] if r in outside)
    return kept


def _labels_of(group: frozenset, specs: Sequence[tuple]) -> frozenset:
    return frozenset(r for k in group for r in specs[k])


def _subsets(n: int, size: int):
    return [frozenset(c) for c in combinations(range(n), size)]


def _halves(members: list[int]):
    """The ways to split members in two non-empty parts, each once (the first member always on the left)."""
    first, rest = members[0], members[1:]
    for size in range(len(rest)):
        for chosen in combinations(rest, size):
            yield frozenset((first, *chosen))


def _sizes_of(node: Node, plan_sizes: Mapping[str, int]) -> Entries:
    dims = label_dims(node)

    def entries(labels: tuple) -> int:
        return math.prod(d if isinstance(d := dims[r], int) else plan_sizes.get(d, DEFAULT_SIZE) for r in labels)
    return entries


def pairing(node: Node, plan_sizes: Mapping[str, int]):
    """The order in which a contract node's operands (positions, deltas and unit vectors counted as operands) are
    multiplied: a binary tree of positions."""
    specs = [tuple(spec) for spec in node.params.specs]
    return _order(specs, set(node.params.out), _sizes_of(node, plan_sizes))[1]


def pairing_of(specs: Sequence[tuple], out: Sequence, dims: Mapping, plan_sizes: Mapping[str, int]):
    """The order of fewest multiply-adds (a binary tree of positions) of operands with these labels, `dims` giving
    each label's dimension: the pairing of a product that is not a node (yet)."""
    def entries(labels: tuple) -> int:
        return math.prod(d if isinstance(d := dims[r], int) else plan_sizes.get(d, DEFAULT_SIZE) for r in labels)
    return _order([tuple(s) for s in specs], set(out), entries)[1]


def product_flops(node: Node, plan_sizes: Mapping[str, int]) -> int:
    """The multiply-adds of a contract node's product in its best order (deltas and unit vectors counted as the
    operands they are: an estimate for choosing between rewrites)."""
    entries = _sizes_of(node, plan_sizes)
    specs = [tuple(spec) for spec in node.params.specs if spec]
    if len(specs) < 2:
        return entries(tuple(label_dims(node)))
    if len(specs) > EXHAUSTIVE:
        return entries(tuple(label_dims(node))) * len(specs)
    return _order(specs, set(node.params.out), entries)[0]


# ---- one pair ----

def _sum_alone(t: _Term, keep: set, p: _Product) -> _Term:
    """Sum t over its labels that nothing else needs."""
    gone = [k for k, r in enumerate(t.labels) if r not in keep]
    if not gone:
        return t
    if _is_second_det_derivative(t) and gone in ([0, 1], [2, 3]):
        # summed over one pair: against a matrix of ones
        pair, rest = (t.labels[:2], t.labels[2:]) if gone == [0, 1] else (t.labels[2:], t.labels[:2])
        return _cofactor_times(t, rest, p.e.full([p.dims[r] for r in pair], 1.0), p)
    labels = tuple(r for r in t.labels if r in keep)
    axes = None if not labels else gone
    return p.made(labels, p.e.sum(t.value(p.ref), axes))


def _pair(a: _Term, b: _Term, keep: set, p: _Product) -> _Term:
    """The product of two operands, summed over the shared labels not kept."""
    a = _sum_alone(a, keep | set(b.labels), p)
    b = _sum_alone(b, keep | set(a.labels), p)
    if not a.labels or not b.labels:
        scalar, tensor = (a, b) if not a.labels else (b, a)
        return p.made(tensor.labels, p.e.times(scalar.value(p.ref), tensor.value(p.ref)))
    solved = (_solve(a, b, keep, p) or _solve(b, a, keep, p) or _cofactor_along(a, b, keep, p)
              or _cofactor_along(b, a, keep, p))
    if solved is not None:
        return solved
    shared = set(a.labels) & set(b.labels)
    summed, batch = shared - keep, shared & keep
    if not summed:
        target = a.labels + tuple(r for r in b.labels if r not in a.labels)
        return _times_derivative(a, b, target, p) or _times_derivative(b, a, target, p) or p.made(
            target, p.e.mul(_align(a, target, p), _align(b, target, p)))
    if batch:
        return _einsum(a, b, keep, p)
    if len(a.labels) <= 2 and len(b.labels) <= 2 and len(summed) == 1:
        return _matmul(a, b, summed.pop(), p)
    axes_a = [a.labels.index(r) for r in sorted(summed, key=a.labels.index)]
    axes_b = [b.labels.index(a.labels[k]) for k in axes_a]
    labels = tuple(r for r in a.labels if r not in summed) + tuple(r for r in b.labels if r not in summed)
    return p.made(labels, p.e.tensordot(a.value(p.ref), b.value(p.ref), axes_a, axes_b))


def _times_derivative(d: _Term, g: _Term, target: tuple, p: _Product) -> _Term | None:
    """g .* d in one operation of the emitter, where d is an operand f'(x) written from y = f(x) alone."""
    found = _fusable(d, p)
    if found is None:
        return None
    fn, y = found
    return p.made(target, p.e.times_derivative(fn, _align(g, target, p), _align(_Term(d.labels, y), target, p)))


def _fusable(t: _Term, p: _Product) -> tuple[str, Node] | None:
    """(f, y) where t is an untouched operand f'(x) that the emitter multiplies in one operation from y = f(x)."""
    return derivative_of(t.node, p.e.derivatives) if t.node is not None and p.e.derivatives else None


def derivative_of(node: Node, functions: frozenset[str]) -> tuple[str, Node] | None:
    """(f, y) where node is f'(x) as f's derivative rule writes it from y = f(x), f one of `functions`; else None.
    Nodes are interned, so the rule applied to each f(x) found a few levels below node builds node itself exactly
    when node is that derivative."""
    below, frontier = [], [node]
    for _ in range(DERIVATIVE_DEPTH):
        frontier = [a for n in frontier if n.op is not Op.MAP for a in n.args]
        below += [n for n in frontier if n.op is Op.MAP and n.params.fn in functions]
    for y in dict.fromkeys(below):
        if ELEMENTWISE[y.params.fn].derivative(build, y.args[0], y) is node:
            return y.params.fn, y
    return None


def _align(t: _Term, target: tuple, p: _Product) -> Value:
    """t's value with its axes in target's order and a new axis (None) where target has a label t lacks; leading new
    axes are left to broadcasting."""
    order = tuple(sorted(t.labels, key=target.index))
    value = t.value(p.ref)
    if order != t.labels:
        value = p.e.transpose(value, [t.labels.index(r) for r in order])
    first = min(target.index(r) for r in order)
    items: list[slice | None] = [ALL if r in order else None for r in target[first:]]
    if None in items:
        while items[-1] is ALL:
            items.pop()
        value = p.e.index(value, items)
    return value


def _matmul(a: _Term, b: _Term, s, p: _Product) -> _Term:
    """a @ b with a as (free, s) and b as (s, free), or b @ a: whichever needs fewer transposes, with the result's
    labels in the output's order where that is a choice."""
    options = [_orientation(a, b, s), _orientation(b, a, s)]
    _, labels, first, second = min(options, key=lambda o: (o[0], _disorder(o[1], p.order)))
    x, y = first.value(p.ref), second.value(p.ref)
    if len(first.labels) == 2 and first.labels[0] == s:
        x = p.e.transpose(x, [1, 0])
    if len(second.labels) == 2 and second.labels[1] == s:
        y = p.e.transpose(y, [1, 0])
    return p.made(labels, p.e.matmul(x, y))


def _orientation(a: _Term, b: _Term, s) -> tuple[int, tuple, _Term, _Term]:
    """(the transposes needed, the result's labels) of a @ b, summing over s."""
    flips = int(len(a.labels) == 2 and a.labels[0] == s) + int(len(b.labels) == 2 and b.labels[1] == s)
    labels = tuple(r for r in a.labels if r != s) + tuple(r for r in b.labels if r != s)
    return flips, labels, a, b


def _disorder(labels: tuple, order: tuple) -> int:
    """1 when two labels of the output come in the other order than the output's."""
    known = [order.index(r) for r in labels if r in order]
    return int(known != sorted(known))


def _solve(a: _Term, b: _Term, keep: set, p: _Product) -> _Term | None:
    """inv(A)*b as solve(A, b), and b'*inv(A) as solve(A', b): one factorisation, no inverse."""
    if not p.e.solves or a.node is None or a.node.op is not Op.INV or len(b.labels) > 2:
        return None
    i, j = a.labels
    if i == j:
        return None
    for summed, free, transposed in ((j, i, False), (i, j, True)):
        if summed in b.labels and summed not in keep and free not in b.labels:
            matrix = p.ref(a.node.args[0])
            matrix = p.e.transpose(matrix, [1, 0]) if transposed else matrix
            rest = tuple(r for r in b.labels if r != summed)
            rhs = b.value(p.ref)
            if b.labels != (summed,) + rest:
                rhs = p.e.transpose(rhs, [1, 0])
            p.e.note("inv(A)*b computed as solve(A, b)")
            return p.made((free,) + rest, p.e.solve(matrix, rhs))
    return None


def _cofactor_along(a: _Term, b: _Term, keep: set, p: _Product) -> _Term | None:
    """cofactor(A, 2) summed against a matrix E over one pair of its axes, through the SVD (_cofactor_times). D2det
    is symmetric in its two pairs, so either may be the one summed."""
    if not _is_second_det_derivative(a) or len(b.labels) != 2 or set(b.labels) & keep:
        return None
    for pair, rest in ((a.labels[:2], a.labels[2:]), (a.labels[2:], a.labels[:2])):
        if set(b.labels) == set(pair):
            e = b.value(p.ref)
            return _cofactor_times(a, rest, e if b.labels == pair else p.e.transpose(e, [1, 0]), p)
    return None


def _is_second_det_derivative(t: _Term) -> bool:
    """t is an untouched operand cofactor(A, 2) on four distinct labels."""
    return (t.node is not None and t.node.op is Op.COFACTOR and t.node.params.order == 2
            and len(set(t.labels)) == 4)


def _cofactor_times(t: _Term, rest: tuple, e: Value, p: _Product) -> _Term:
    """cofactor(A, 2) (the operand t) against the matrix e over one pair, on the other pair's labels `rest`: O(n^3)
    through the SVD of A, where cofactor(A, 2) has n^4 entries (it is then never computed)."""
    assert t.node is not None       # an untouched operand (_is_second_det_derivative)
    p.e.note("cofactor(A, 2) times a matrix computed through the SVD of A in O(n^3), never formed")
    return p.made(rest, p.e.cofactor_along(p.ref(t.node.args[0]), e))


def _einsum(a: _Term, b: _Term, keep: set, p: _Product) -> _Term:
    order = list(dict.fromkeys(a.labels + b.labels))
    letter = {r: LETTERS[k] for k, r in enumerate(order)}
    labels = tuple(r for r in order if r in keep)
    equation = ("".join(letter[r] for r in a.labels) + "," + "".join(letter[r] for r in b.labels) + "->"
                + "".join(letter[r] for r in labels))
    return p.made(labels, p.e.einsum(equation, [a.value(p.ref), b.value(p.ref)], [(0, 1)]))


# ---- the result on the output's labels ----

def _arrange(value: Value, present: tuple, filled: float | None, compact: tuple, out: tuple, fixed: dict,
             shape: tuple, p: _Product) -> Value:
    """The product on the output's labels: transposed to their order, broadcast along the labels no operand
    carries, placed on the diagonal (repeated output labels) or at the fixed index (a unit vector)."""
    if present != tuple(r for r in compact if r in present):
        order = tuple(r for r in compact if r in present)
        value = p.e.transpose(value, [present.index(r) for r in order])
        present = order
    if filled is not None and (compact or out):
        # a filled array, not a broadcast number; a number placed in zeros is a 0-d array first (it needs a shape)
        value = p.e.full([p.dims[r] for r in compact], filled)
    elif present != compact:
        if present:
            value = _align(_Term(present, None, value), compact, p)
        value = p.e.broadcast(value, [p.dims[r] for r in compact])
    if compact == out:
        return value
    where = [-1 - fixed[r] if r in fixed else compact.index(r) for r in out]
    return p.e.embed(value, shape, where)
