"""A generalized product (Op.CONTRACT, one einsum) as a few explicit array operations, planned for given sizes.

The plan, in order:
- Kronecker deltas join their two indices and unit vectors fix one (both are absorbed, never built: `A*eye(n)` is
  `A`); numeric factors are collected into one coefficient, applied to the smallest operand;
- the pairwise order of the remaining operands has the fewest multiply-adds at the planning sizes (so `A*B*x` is
  `A @ (B @ x)` when x is a vector, and `X'*(y.*s)` multiplies the vectors first);
- each pair is written as the cheapest NumPy-style operation that does it: an element-wise product (with broadcasting),
  a matrix product `@`, `solve(A, b)` for `inv(A)*b`, `tensordot`, and only where none fits a two-operand `einsum`
  (with its path, for NumPy);
- the result is transposed to the output's order, broadcast along indices no operand carries and placed on a diagonal
  where an output index repeats (`diag(x)`).

`reads` records which IR nodes the code uses: `inv(A)*b` reads A, not inv(A), so inv(A) is never computed when
every use of it is solved.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from itertools import combinations

from ..ir import Node, Op
from .code import Code, atom, scaled, times
from .targets import Writer

DEFAULT_SIZE = 1000            # a dimension's planning size when none is given
_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
Ref = Callable[[Node], Code]   # the code of an operand's value; calling it records that the operand is read


@dataclass
class _Term:
    """An operand (or a partial product) on its labels; `node` is the IR node while it is an untouched operand
    (whose code is asked for only when used: a solved inverse is never read)."""
    labels: tuple
    node: Node | None = None
    code_: Code | None = None

    def code(self, ref: Ref) -> Code:
        if self.code_ is None:
            assert self.node is not None
            self.code_ = ref(self.node)
        return self.code_


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
    """One contraction being written: the writer, the operand codes, the sizes (symbolic and for planning)."""
    w: Writer
    ref: Ref
    dims: dict                 # label -> Dim (a name or a number)
    plan_sizes: Mapping[str, int]
    order: tuple = ()          # the output's labels, in order

    def size(self, label) -> int:
        d = self.dims[label]
        return d if isinstance(d, int) else self.plan_sizes.get(d, DEFAULT_SIZE)

    def entries(self, labels: tuple) -> int:
        return math.prod(self.size(r) for r in labels)


def contract_code(node: Node, ref: Ref, w: Writer, plan_sizes: Mapping[str, int]) -> Code:
    """The code of a contract node's value."""
    specs, out = node.params.specs, node.params.out
    dims = dict(zip(out, node.shape, strict=True))
    for arg, spec in zip(node.args, specs, strict=True):
        dims.update(zip(spec, arg.shape, strict=True))
    labels = _Labels()
    for arg, spec in zip(node.args, specs, strict=True):
        if arg.op is Op.DELTA:                                  # delta(i, j): i and j run together
            labels.join(*spec)
            w.note("identity matrices absorbed into products, never built")
    fixed: dict = {}
    for arg, spec in zip(node.args, specs, strict=True):
        if arg.op is Op.BASIS and fixed.setdefault(labels.find(spec[0]), arg.params.k) != arg.params.k:
            return w.zeros(node.shape)                          # e_j .* e_k = 0 for j != k
    p = _Product(w, ref, {labels.find(r): d for r, d in dims.items()}, plan_sizes)
    coefficient, scalars, terms = _operands(node, labels, fixed, p)
    new_out = tuple(labels.find(r) for r in out)
    p.order = new_out
    carried = set(new_out).union(*(set(t.labels) for t in terms))
    for r in {labels.find(r) for spec in specs for r in spec} - carried - set(fixed):
        d = p.dims[r]                                          # sum_i 1 over an index only deltas carried: n terms
        if isinstance(d, int):
            coefficient *= d
        else:
            scalars.append(atom(w.dim(d)))
    compact = tuple(dict.fromkeys(r for r in new_out if r not in fixed))
    value, present = _value(terms, coefficient, scalars, compact, p)
    return _arrange(value, present, compact, new_out, fixed, node.shape, p)


def _operands(node: Node, labels: _Labels, fixed: dict, p: _Product) -> tuple[float, list[Code], list[_Term]]:
    coefficient, scalars, terms = 1.0, [], []
    for arg, spec in zip(node.args, node.params.specs, strict=True):
        if arg.op in (Op.DELTA, Op.BASIS):
            continue
        found = tuple(labels.find(r) for r in spec)
        if arg.op is Op.CONST and not arg.shape:
            coefficient *= arg.params.value
        elif not found:
            scalars.append(p.ref(arg))
        elif any(r in fixed for r in found) or len(set(found)) < len(found):
            terms.append(_restrict(p.ref(arg), found, fixed, p))
        else:
            terms.append(_Term(found, arg))
    return coefficient, scalars, terms


def _restrict(code: Code, found: tuple, fixed: dict, p: _Product) -> _Term:
    """The operand at its fixed indices (x[:, k]) and on its diagonal where a label repeats (einsum "ii->i")."""
    if any(r in fixed for r in found):
        code = p.w.index(code, [str(fixed[r]) if r in fixed else ":" for r in found])
        found = tuple(r for r in found if r not in fixed)
    unique = tuple(dict.fromkeys(found))
    if len(unique) < len(found):
        letter = {r: _LETTERS[k] for k, r in enumerate(unique)}
        code = p.w.diagonal(code, "".join(letter[r] for r in found) + "->" + "".join(letter[r] for r in unique))
    return _Term(unique, None, code)


def _value(terms: list[_Term], coefficient: float, scalars: list[Code], compact: tuple,
           p: _Product) -> tuple[Code, tuple]:
    """The product of the operands, on the output's labels that some operand carries (in some order)."""
    if not terms:
        return _scalar(coefficient, scalars), ()
    if coefficient != 1.0 or scalars:
        # scale the smallest operand, not the (possibly much larger) result
        k = min(range(len(terms)), key=lambda j: p.entries(terms[j].labels))
        t = terms[k]
        terms[k] = _Term(t.labels, None, scaled(coefficient, _product(scalars + [t.code(p.ref)])))
    result = _chain(terms, set(compact), p)
    return result.code(p.ref), result.labels


def _scalar(coefficient: float, scalars: list[Code]) -> Code:
    if not scalars:
        return atom(repr(float(coefficient)))
    return scaled(coefficient, _product(scalars))


def _product(codes: list[Code]) -> Code:
    result = codes[0]
    for c in codes[1:]:
        result = times(result, c)
    return result


def _chain(terms: list[_Term], out: set, p: _Product) -> _Term:
    """The operands contracted pairwise in the order of fewest multiply-adds at the planning sizes."""
    tree = _order(terms, out, p)
    if len(terms) > 2:
        p.w.note("products of three or more factors ordered by flop count")
    done: dict[int, _Term] = {}
    for node in _postorder(tree):           # children before parents: each pair once both halves exist
        if isinstance(node, int):
            done[id(node)] = terms[node]
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


def _order(terms: list[_Term], out: set, p: _Product):
    """The pairing of the operands (a binary tree of their positions) with the fewest multiply-adds: the cost of
    multiplying two partial products is the product of the sizes of all their labels (n^3 for a matrix product, n^2
    for a matrix times a vector, n for a Hadamard product of vectors). Exhaustive up to 8 operands, greedy beyond."""
    n = len(terms)
    kept = _kept(terms, out)

    def pair_cost(a: frozenset, b: frozenset) -> int:
        return p.entries(tuple(kept(a) | kept(b) | (_labels_of(a, terms) & _labels_of(b, terms))))

    if n > 8:
        return _greedy(terms, kept, pair_cost)
    return _optimal(n, pair_cost)[1]


def _optimal(n: int, pair_cost) -> tuple[int, object]:
    """(the fewest multiply-adds, the pairing that achieves them), by trying every split of every subset."""
    best: dict[frozenset, tuple[int, object]] = {frozenset([k]): (0, k) for k in range(n)}
    for size in range(2, n + 1):
        for group in _subsets(n, size):
            members = sorted(group)
            choices = []
            for left in _halves(members):
                right = group - left
                cost = best[left][0] + best[right][0] + pair_cost(left, right)
                choices.append((cost, (best[left][1], best[right][1])))
            best[group] = min(choices, key=lambda c: c[0])
    return best[frozenset(range(n))]


def product_flops(node: Node, plan_sizes: Mapping[str, int]) -> int:
    """The multiply-adds of a contract node's product in its best order (deltas and unit vectors counted as the
    operands they are: an estimate for choosing between rewrites)."""
    specs, out = node.params.specs, node.params.out
    dims = dict(zip(out, node.shape, strict=True))
    for arg, spec in zip(node.args, specs, strict=True):
        dims.update(zip(spec, arg.shape, strict=True))
    p = _Product(Writer.__new__(Writer), lambda n: atom(""), dims, plan_sizes)
    terms = [_Term(tuple(spec)) for spec in specs if spec]
    if len(terms) < 2:
        return p.entries(tuple(dims))
    kept = _kept(terms, set(out))
    return _optimal(len(terms), lambda a, b: p.entries(tuple(kept(a) | kept(b) | (_labels_of(a, terms) & _labels_of(
        b, terms)))))[0] if len(terms) <= 8 else p.entries(tuple(dims)) * len(terms)


def _kept(terms: list[_Term], out: set):
    def kept(group: frozenset) -> frozenset:
        outside = set(out).union(*(set(terms[k].labels) for k in range(len(terms)) if k not in group))
        return frozenset(r for k in group for r in terms[k].labels if r in outside)
    return kept


def _labels_of(group: frozenset, terms: list[_Term]) -> frozenset:
    return frozenset(r for k in group for r in terms[k].labels)


def _subsets(n: int, size: int):
    return [frozenset(c) for c in combinations(range(n), size)]


def _halves(members: list[int]):
    """The ways to split members in two non-empty parts, each once (the first member always on the left)."""
    first, rest = members[0], members[1:]
    for size in range(len(rest)):
        for chosen in combinations(rest, size):
            yield frozenset((first, *chosen))


def _greedy(terms: list[_Term], kept, pair_cost):
    groups: list[tuple[frozenset, object]] = [(frozenset([k]), k) for k in range(len(terms))]
    while len(groups) > 1:
        i, j = min(((i, j) for i in range(len(groups)) for j in range(i + 1, len(groups))),
                   key=lambda ij: pair_cost(groups[ij[0]][0], groups[ij[1]][0]))
        merged = (groups[i][0] | groups[j][0], (groups[i][1], groups[j][1]))
        groups = [g for k, g in enumerate(groups) if k not in (i, j)] + [merged]
    return groups[0][1]


def _sum_alone(t: _Term, keep: set, p: _Product) -> _Term:
    """Sum t over its labels that nothing else needs."""
    gone = [k for k, r in enumerate(t.labels) if r not in keep]
    if not gone:
        return t
    labels = tuple(r for r in t.labels if r in keep)
    axes = None if not labels else gone
    return _Term(labels, None, p.w.sum(t.code(p.ref), axes))


def _pair(a: _Term, b: _Term, keep: set, p: _Product) -> _Term:
    """The product of two operands, summed over the shared labels not kept."""
    a = _sum_alone(a, keep | set(b.labels), p)
    b = _sum_alone(b, keep | set(a.labels), p)
    if not a.labels or not b.labels:
        scalar, tensor = (a, b) if not a.labels else (b, a)
        return _Term(tensor.labels, None, times(scalar.code(p.ref), tensor.code(p.ref)))
    solved = _solve(a, b, keep, p) or _solve(b, a, keep, p)
    if solved is not None:
        return solved
    shared = set(a.labels) & set(b.labels)
    summed, batch = shared - keep, shared & keep
    if not summed:
        target = a.labels + tuple(r for r in b.labels if r not in a.labels)
        return _Term(target, None, p.w.mul(_align(a, target, p), _align(b, target, p)))
    if batch:
        return _einsum(a, b, keep, p)
    if len(a.labels) <= 2 and len(b.labels) <= 2 and len(summed) == 1:
        return _matmul(a, b, summed.pop(), p)
    axes_a = [a.labels.index(r) for r in sorted(summed, key=a.labels.index)]
    axes_b = [b.labels.index(a.labels[k]) for k in axes_a]
    labels = tuple(r for r in a.labels if r not in summed) + tuple(r for r in b.labels if r not in summed)
    return _Term(labels, None, p.w.tensordot(a.code(p.ref), b.code(p.ref), axes_a, axes_b))


def _align(t: _Term, target: tuple, p: _Product) -> Code:
    """t's code with its axes in target's order and a new axis (None) where target has a label t lacks; leading new
    axes are left to broadcasting."""
    order = tuple(sorted(t.labels, key=target.index))
    code = t.code(p.ref)
    if order != t.labels:
        code = p.w.transpose(code, [t.labels.index(r) for r in order])
    first = min(target.index(r) for r in order)
    items = [":" if r in order else "None" for r in target[first:]]
    if "None" in items:
        while items[-1] == ":":
            items.pop()
        code = p.w.index(code, items)
    return code


def _matmul(a: _Term, b: _Term, s, p: _Product) -> _Term:
    """a @ b with a as (free, s) and b as (s, free), or b @ a: whichever needs fewer transposes, with the result's
    labels in the output's order where that is a choice."""
    options = [_oriented(a, b, s, p), _oriented(b, a, s, p)]
    return min(options, key=lambda option: (option[0], _disorder(option[1].labels, p.order)))[1]


def _oriented(a: _Term, b: _Term, s, p: _Product) -> tuple[int, _Term]:
    ca, cb, flips = a.code(p.ref), b.code(p.ref), 0
    if len(a.labels) == 2 and a.labels[0] == s:
        ca, flips = p.w.transpose(ca, [1, 0]), flips + 1
    if len(b.labels) == 2 and b.labels[1] == s:
        cb, flips = p.w.transpose(cb, [1, 0]), flips + 1
    labels = tuple(r for r in a.labels if r != s) + tuple(r for r in b.labels if r != s)
    return flips, _Term(labels, None, p.w.matmul(ca, cb))


def _disorder(labels: tuple, order: tuple) -> int:
    """1 when two labels of the output come in the other order than the output's."""
    known = [order.index(r) for r in labels if r in order]
    return int(known != sorted(known))


def _solve(a: _Term, b: _Term, keep: set, p: _Product) -> _Term | None:
    """inv(A)*b as solve(A, b), and b'*inv(A) as solve(A', b): one factorisation, no inverse."""
    if a.node is None or a.node.op is not Op.INV or len(b.labels) > 2:
        return None
    i, j = a.labels
    if i == j:
        return None
    for summed, free, transposed in ((j, i, False), (i, j, True)):
        if summed in b.labels and summed not in keep and free not in b.labels:
            matrix = p.ref(a.node.args[0])
            matrix = p.w.transpose(matrix, [1, 0]) if transposed else matrix
            rest = tuple(r for r in b.labels if r != summed)
            rhs = b.code(p.ref)
            if b.labels != (summed,) + rest:
                rhs = p.w.transpose(rhs, [1, 0])
            p.w.note("inv(A)*b computed as solve(A, b)")
            return _Term((free,) + rest, None, p.w.solve(matrix, rhs))
    return None


def _einsum(a: _Term, b: _Term, keep: set, p: _Product) -> _Term:
    order = list(dict.fromkeys(a.labels + b.labels))
    letter = {r: _LETTERS[k] for k, r in enumerate(order)}
    labels = tuple(r for r in order if r in keep)
    equation = ("".join(letter[r] for r in a.labels) + "," + "".join(letter[r] for r in b.labels) + "->"
                + "".join(letter[r] for r in labels))
    return _Term(labels, None, p.w.einsum(equation, [a.code(p.ref), b.code(p.ref)], [(0, 1)]))


def _arrange(value: Code, present: tuple, compact: tuple, out: tuple, fixed: dict, shape: tuple,
             p: _Product) -> Code:
    """The product on the output's labels: transposed to their order, broadcast along the labels no operand
    carries, placed on the diagonal (repeated output labels) or at the fixed index (a unit vector)."""
    if present != tuple(r for r in compact if r in present):
        order = tuple(r for r in compact if r in present)
        value = p.w.transpose(value, [present.index(r) for r in order])
        present = order
    filled = _literal(value) if not present and compact else None
    if filled is not None:
        value = p.w.full([p.dims[r] for r in compact], filled)    # a filled array, not a broadcast number
    elif present != compact:
        if present:
            value = _align(_Term(present, None, value), compact, p)
        value = p.w.broadcast(value, [p.dims[r] for r in compact])
    if compact == out:
        return value
    where = [-1 - fixed[r] if r in fixed else compact.index(r) for r in out]
    return p.w.embed(value, shape, where)


def _literal(code: Code) -> float | None:
    try:
        return float(code.text)
    except ValueError:
        return None
