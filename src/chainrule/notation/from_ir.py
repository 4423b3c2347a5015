"""IR -> matrix notation. Each generalized product (einsum) becomes matrix products, transposes, Hadamard products,
diag, tr and sums where its index graph allows, and index notation (einsum) where it does not."""
from __future__ import annotations

import collections
import itertools
import math
import operator
from collections.abc import Callable, Mapping
from typing import NamedTuple, cast

from ..ir import Node, Op, fold, topological
from ..simplify import build as b
from . import mast as m
from .mast import M

_LETTERS = "ijklmnopqrstuvwxyzabcdefgh"


def to_mast(node: Node, variables: Mapping | None = None) -> M:
    """node in matrix notation (in index notation where it has none); the sizes it holds are written after its
    variables, or those of `variables` (name -> (shape, symmetric)): size(X, 2), numel(x)."""
    order = topological([node])         # one walk for the three passes over the graph
    return _with_axis_sums(_with_sizes(_shown(node, order), _dimension_owners(order, variables or {})))


def _shown(node: Node, order: list[Node]) -> M:
    """node in matrix notation before sums along a dimension and sizes are named: a part converted on its own is
    built this way, so that it is the same tree as that part where it stands in the whole (the passes that name
    sums and sizes run once, over the whole)."""
    hidden = _stack_terms(order)
    shown = fold(node, lambda n, args: None if id(n) in hidden else _convert(n, args), order)
    assert shown is not None, "the root is always shown"
    return shown


def _part(node: Node) -> M:
    """A part of the expression converted on its own (a broadcast's vector, a stack's entry), as _shown builds it."""
    return _shown(node, topological([node]))


def _with_axis_sums(shown: M) -> M:
    """1'*A and A*1, how a sum along a dimension reads in the IR, written as MATLAB does: sum(A, 1) (a row: down
    each column) and sum(A, 2) (a column: along each row)."""
    new: dict[int, M] = {}
    for x in m.postorder(shown):
        args = _new_args(x, new)
        summed = _axis_summed(args) if x.kind == "mm" else None
        if summed is not None:
            new[id(x)] = summed
        elif x.kind == "T" and args[0] is not x.args[0]:
            new[id(x)] = m.transpose(args[0])          # sum(A', 2)' is sum(A, 1)
        elif args is not x.args:
            new[id(x)] = m.mk(x.kind, args, x.data, x.orient)
    return new.get(id(shown), shown)


def _new_args(x: M, new: dict[int, M]) -> tuple[M, ...]:
    """x's operands, each replaced by its new tree where it has one: x.args itself where none has."""
    if not new:
        return x.args
    args = tuple([new.get(id(a), a) for a in x.args])
    return x.args if args == x.args else args       # trees compare by identity


def _axis_sum(a: M, axis: int) -> M:
    """sum(a, axis) (1: a row, 2: a column); a transposed matrix is summed along the other axis, sum(A', 2) =
    sum(A, 1)'."""
    flipped = m.transpose(a)
    if a.kind == "T" or flipped.tcount < a.tcount:
        return m.transpose(m.func("sum", flipped, m.num(float(3 - axis)), orient="c" if axis == 1 else "r"))
    return m.func("sum", a, m.num(float(axis)), orient="r" if axis == 1 else "c")


def _axis_summed(factors: tuple[M, ...]) -> M | None:
    """The product with its first ones-row times a matrix written sum(A, 1), and a matrix times its last ones-column
    written sum(A, 2); None where it has neither."""
    shaped = [k for k, f in enumerate(factors) if f.orient != "s"]
    if len(shaped) < 2:
        return None
    rows, cols = shaped[0], shaped[-1]
    out = list(factors)
    if _is_ones(out[cols], "c") and out[shaped[-2]].orient == "m":
        out[shaped[-2]:cols + 1] = [_axis_sum(out[shaped[-2]], 2)]
    if _is_ones(out[rows], "r") and out[shaped[1]].orient == "m":
        out[rows:shaped[1] + 1] = [_axis_sum(out[shaped[1]], 1)]
    return m.mm(*out) if len(out) < len(factors) else None


def _is_ones(x: M, orient: str) -> bool:
    """x is a vector of ones laid out as a column ("c") or a row ("r")."""
    if orient == "r":
        return x.kind == "T" and _is_ones(x.args[0], "c")
    return x.kind == "fill" and x.data[0] == 1.0 and len(x.data[1]) == 1 and x.orient == "c"


def _dimension_owners(order: list[Node], variables: Mapping) -> dict:
    """Each dimension's first variable with it (in `order`, the graph's topological order), and the axis (from 1):
    the size of dimension d is size(X, k)."""
    owners: dict = {}
    found = [(n.params.name, n.shape) for n in order if n.op is Op.VAR]
    for name, shape in found + [(name, tuple(info[0])) for name, info in variables.items()]:
        for k, d in enumerate(shape):
            owners.setdefault(d, (name, len(shape), k + 1))
        owners.setdefault(shape, (name, len(shape), 0))    # its shape, for numel
    return owners


def _with_sizes(shown: M, owners: dict) -> M:
    """sum(vector(1, "n")), how a size reads in the IR, written size(X, 2) or numel(X) after a variable that has it."""
    if not any(isinstance(d, str) for d in owners):
        return shown
    new: dict[int, M] = {}
    for x in m.postorder(shown):
        args = _new_args(x, new)
        size = _size_of(x, owners)
        if size is not None:
            new[id(x)] = size
        elif args is not x.args:
            new[id(x)] = m.mk(x.kind, args, x.data, x.orient)
    return new.get(id(shown), shown)


def _size_of(x: M, owners: dict) -> M | None:
    if not (x.kind == "func" and x.data == "sum" and len(x.args) == 1 and x.args[0].kind == "fill"
            and x.args[0].data[0] == 1.0):
        return None
    shape = x.args[0].data[1]
    if len(shape) == 1 and shape[0] in owners:
        name, rank, axis = owners[shape[0]]       # size(X, 2), or numel(x) for a vector
        return m.func("size", m.sym(name, rank), m.num(axis), orient="s") if rank > 1 else \
            m.func("numel", m.sym(name, rank), orient="s")
    if shape in owners:
        name, rank, _ = owners[shape]
        return m.func("numel", m.sym(name, rank), orient="s")
    return None


def _stack_terms(order: list[Node]) -> set[int]:
    """The terms f_k e_k of stacks [f1; f2; ...] (and their e_k) that appear nowhere else: they are shown only as
    entries, so their own notation (a column as long as the stack, for each entry) is never built. `order`: the
    graph in topological order, its root last."""
    parents = _parents(order)
    stacks = {id(n) for n in order if n.op == "add" and _is_stack(n)}
    hidden: set[int] = set()
    for n in reversed(order[:-1]):          # parents before operands; the root is always shown
        if _basis_slot(n) is not None and all(id(p) in hidden or id(p) in stacks for p in parents[id(n)]):
            hidden.add(id(n))
    return hidden


def _parents(order: list[Node]) -> dict[int, list[Node]]:
    parents: dict[int, list[Node]] = {}
    for n in order:
        for a in n.args:
            parents.setdefault(id(a), []).append(n)
    return parents


def _is_stack(node: Node) -> bool:
    return len(node.shape) == 1 and isinstance(node.shape[0], int) and all(
        _basis_slot(term) is not None for term in node.args)


def _convert(node: Node, args: list[M | None]) -> M:
    # only a stack has operands without notation (its hidden terms), and it builds its entries from the IR
    return _with_shape(_CONVERT[node.op](node, cast("list[M]", args)), node.shape)


def _with_shape(shown: M, shape: tuple) -> M:
    """A tensor whose notation came out a scalar (0*A is 0, a sum of constants is a number) is printed broadcast to
    its shape, so that its text parses back to a tensor of the same shape, not to a scalar."""
    if not shape or shown.orient != "s":
        return shown
    if m.is_num(shown):
        return m.fill(shown.data, shape)
    return m.mm(shown, m.fill(1.0, shape))


def _einsum_of(node: Node, args: list[M]) -> M:
    specs, out = node.params.specs, node.params.out
    scalars = [a for a, s in zip(args, specs, strict=True) if not s]
    if scalars and len(scalars) < len(args):
        args = [a for a, s in zip(args, specs, strict=True) if s]
        specs = tuple(s for s in specs if s)
        if len(args) == 1 and specs[0] == out and len(set(out)) == len(out):
            return m.mm(*scalars, args[0])          # numbers times a tensor as it is: no einsum("ijkl->ijkl", T)
        return m.mm(*scalars, _einsum_spec(specs, out, args, _label_dims(node)))
    return _einsum_spec(specs, out, args, _label_dims(node))


def _einsum_spec(specs, out, args: list[M], dims: dict) -> M:
    carried = set().union(*map(set, specs)) if specs else set()
    broadcast = [label for label in out if label not in carried]
    specs = tuple(specs) + tuple((label,) for label in broadcast)   # ones that carry the sizes of new indices
    args = list(args) + [m.fill(1.0, (dims[label],)) for label in broadcast]
    letter = index_letters(out, specs)
    spec = ",".join(_written(s, letter) for s in specs) + "->" + _written(out, letter)
    return m.einsum(spec, args, len(out))


def index_letters(out, specs) -> dict:
    """A letter for each label of an einsum, in order of first appearance, the output's first: i, j, k, ..."""
    labels = dict.fromkeys(itertools.chain(out, *specs))
    return {label: _LETTERS[k % len(_LETTERS)] for k, label in enumerate(labels)}


def _written(labels, letter: dict) -> str:
    return "".join(letter[label] for label in labels)


def _add(node: Node, args: list[M]) -> M:
    shifted = _logsoftmax_of(node)
    if shifted is not None:
        return shifted
    entries = _stack_entries(node.args, node.shape)
    if entries is not None:
        return m.stack(entries)
    return m.add(*_implicit_expansion(node, args))


def _logsoftmax_of(node: Node) -> M | None:
    """c*logsoftmax(z) or c*logsoftmax(Z, d) where the sum is c*(z - logsumexp(z)) (how the language stores
    logsoftmax, and softmax under exp): one term is -c times z's logsumexp repeated over z's shape, and the others
    add up to c*z. The builder's sum of them and -c*z is the check: it cancels them to zero in whatever grouping
    the sum holds z's terms (flattened into it, a broadcast row split up, a log-softmax's own terms beside its
    logsumexp, two logsumexps repeated by one product)."""
    terms = _opened(node)
    for k, term in enumerate(terms):
        found = _logsumexp_times(term)
        if found is None:
            continue
        coefficient, lse = found
        z, axes = lse.args[0], lse.params.axes
        rest = terms[:k] + terms[k + 1:]
        if z.shape != node.shape or not rest or not b.is_const(b.add(*rest, *_opened(z, coefficient)), 0.0):
            continue
        shown = _part(z)
        along = () if len(axes) == z.rank else (m.num(axes[0] + 1),)
        return m.mm(m.num(-coefficient), m.func("logsoftmax", shown, *along, orient=shown.orient))
    return None


def _opened(x: Node, c: float = 1.0) -> list[Node]:
    """x's terms, each times c, with every sum in it opened: a sum's terms, and those of a sum scaled or repeated
    by a product with numbers (-(U - V) is -U and V; (u + v)*1' is u*1' and v*1')."""
    if x.op is Op.ADD:
        return [t for a in x.args for t in _opened(a, c)]
    inner = [k for k, a in enumerate(x.args) if not (b.is_const(a) and a.rank == 0)]
    if x.op is not Op.CONTRACT or len(inner) != 1 or x.args[inner[0]].op is not Op.ADD:
        return [b.scale(c, x)]
    (k,) = inner
    factor = c * math.prod(a.params.value for n, a in enumerate(x.args) if n != k)
    spec, dims = x.params.specs[k], _label_dims(x)
    # a scalar term of the sum spreads over the sum's shape, so over the product's too
    return [t for a in x.args[k].args
            for t in _opened(b.contract([(a, spec if a.rank else ())], x.params.out, dims), factor)]


def _logsumexp_times(term: Node) -> tuple[float, Node] | None:
    """(a, L) where term is the number a times the logsumexp L repeated over its operand's shape (each entry of L at
    the operand's entries it reduced); None for any other term."""
    if term.op is not Op.CONTRACT:
        return None
    lses = [k for k, a in enumerate(term.args) if a.op is Op.LOGSUMEXP]
    numbers = [a.params.value for a in term.args if b.is_const(a) and a.rank == 0]
    if len(lses) != 1 or len(numbers) != len(term.args) - 1:
        return None
    lse = term.args[lses[0]]
    kept = [axis for axis in range(lse.args[0].rank) if axis not in lse.params.axes]
    spread = term.shape == lse.args[0].shape or term.shape == lse.shape == ()     # a sum spreads a scalar itself
    if not spread or term.params.specs[lses[0]] != tuple(term.params.out[a] for a in kept):
        return None
    return math.prod(numbers), lse


def _elementwise(name: str) -> Callable[[Node, list[M]], M]:
    return lambda node, args: m.func(name, *_implicit_expansion(node, args), orient=m.orient_of_rank(node.rank))


def _implicit_expansion(node: Node, args: list[M]) -> list[M]:
    """The operands of an element-wise matrix node, a row or column repeated over the matrix written as that vector
    (X*W + b', MATLAB's implicit expansion), where the other operands still give the result both its dimensions: a
    matrix operand, or a row and a column (x + y', the outer sum)."""
    if node.rank != 2:
        return args
    along = [_broadcast_axis(a) for a in node.args]
    full = any(a.shape == node.shape and axis is None for a, axis in zip(node.args, along, strict=True))
    if not (full or {0, 1} <= set(along)):
        return args
    return [_vector_part(a, axis) if axis is not None else shown
            for a, axis, shown in zip(node.args, along, args, strict=True)]


def _broadcast_axis(node: Node) -> int | None:
    """0 where node is a row repeated down a matrix's rows (its operands do not carry the row index), 1 where it is
    a column repeated across its columns; else None. An element-wise function of a broadcast (1./(s*1')) is the
    broadcast of the function (1./s)."""
    while node.rank == 2 and (node.op is Op.MAP or (node.op is Op.POW and node.args[1].rank == 0)):
        node = node.args[0]
    if node.op is not Op.CONTRACT or node.rank != 2:
        return None
    carried = set().union(*map(set, node.params.specs))
    missing = [k for k, label in enumerate(node.params.out) if label not in carried]
    return missing[0] if len(missing) == 1 else None


def _vector_part(node: Node, axis: int) -> M:
    """The vector a broadcast repeats, as a row (axis 0: it varies along the columns) or a column."""
    shown = _part(_repeated(node, axis))
    return m.transpose(shown) if shown.orient == ("c" if axis == 0 else "r") else shown


def _repeated(node: Node, axis: int) -> Node:
    """The vector that the broadcast node (as _broadcast_axis finds it) repeats along axis."""
    if node.op is Op.MAP:
        return b.apply(node.params.fn, _repeated(node.args[0], axis))
    if node.op is Op.POW:
        return b.power(_repeated(node.args[0], axis), node.args[1])
    out = node.params.out
    kept = tuple(label for k, label in enumerate(out) if k != axis)
    return b.contract(list(zip(node.args, node.params.specs, strict=True)), kept,
                      dict(zip(out, node.shape, strict=True)))


def _expanded_hadamards(node: Node, specs: tuple, args: list[M]) -> tuple[tuple, list[M]]:
    """Operands on the same two indices multiply element-wise. Where such a group has a row or column repeated
    over the matrix (X./sum(X, 2)) beside an operand of the full shape, the group becomes one operand here, with the
    repeated vector written as it is (MATLAB's implicit expansion), not as an outer product with ones."""
    groups: dict[frozenset, list[int]] = {}
    for k, spec in enumerate(specs):
        if len(spec) == 2 and spec[0] != spec[1]:
            groups.setdefault(frozenset(spec), []).append(k)
    merged: dict[int, tuple[tuple, M]] = {}      # the first operand of a group -> the group's labels and product
    dropped: set[int] = set()                     # the group's other operands
    for members in groups.values():
        along = [_broadcast_axis(node.args[k]) for k in members]
        if None not in along or along.count(None) == len(along):
            continue
        ix = specs[members[0]]
        parts = [args[k] if axis is None else _vector_part(node.args[k], axis)
                 for k, axis in zip(members, along, strict=True)]
        merged[members[0]] = (ix, m.had(*[p if specs[k] == ix else m.transpose(p)
                                          for k, p in zip(members, parts, strict=True)]))
        dropped.update(members[1:])
    kept = [k for k in range(len(specs)) if k not in dropped]
    return (tuple(merged[k][0] if k in merged else specs[k] for k in kept),
            [merged[k][1] if k in merged else args[k] for k in kept])


def _reduction(name: str, before: tuple[M, ...] = ()) -> Callable[[Node, list[M]], M]:
    """logsumexp(x) and max(x) over every entry; along one dimension of a matrix, MATLAB's logsumexp(X, 2) (a
    column: along each row) and max(X, [], 1) (a row: down each column)."""
    def convert(node: Node, args: list[M]) -> M:
        axes = node.params.axes
        if len(axes) == node.args[0].rank:
            return m.func(name, args[0], orient="s")
        assert node.args[0].rank == 2 and len(axes) == 1, "the language reduces a matrix along one dimension"
        shown = m.func(name, args[0], *before, m.num(axes[0] + 1), orient="r" if axes == (0,) else "c")
        return m.transpose(shown) if axes == (0,) else shown     # a vector's notation is a column
    return convert


def _marked(name: str) -> Callable[[Node, list[M]], M]:
    """ismax(x) over every entry; along one dimension of a matrix ismax(X, 1) (down each column), ismax(X, 2)."""
    def convert(node: Node, args: list[M]) -> M:
        axes = node.params.axes
        if len(axes) == node.args[0].rank:
            return m.func(name, args[0], orient=args[0].orient)
        assert node.args[0].rank == 2 and len(axes) == 1, "the language marks a matrix along one dimension"
        return m.func(name, args[0], m.num(axes[0] + 1), orient=args[0].orient)
    return convert


def _exp(node: Node, args: list[M]) -> M:
    # exp(logsoftmax(z)) is softmax(z), the form the language lowers it to; likewise along a dimension
    if args[0].kind == "func" and args[0].data == "logsoftmax":
        return m.func("softmax", *args[0].args, orient=args[0].orient)
    return m.func("exp", args[0])


def _stack_entries(terms: tuple[Node, ...], shape: tuple) -> list[M] | None:
    """sum_k f_k e_k (how [f1; f2; ...] is stored) -> [f1, f2, ...]"""
    if len(shape) != 1 or not isinstance(shape[0], int):
        return None
    slots = _slots(terms)
    if slots is None:
        return None        # decided before allocating: a vector of 10**12 entries is not a stack
    parts: list[list[M]] = [[] for _ in range(shape[0])]   # every term is f_k e_k: shape[0] is a written length
    for k, term in zip(slots, terms, strict=True):
        parts[k].append(_without_basis(term))
    # an entry with one term is that term as it is (m.add of one term rebuilds it: 50 µs an entry, 50,000 entries)
    return [own[0] if len(own) == 1 else m.add(*own) if own else m.num(0.0) for own in parts]


def _slots(terms: tuple[Node, ...]) -> list[int] | None:
    """The k of each term f_k e_k, or None if a term is not one."""
    slots = []
    for term in terms:
        k = _basis_slot(term)
        if k is None:
            return None
        slots.append(k)
    return slots


def _basis_slot(term: Node) -> int | None:
    if term.op == "basis":
        return term.params.k
    if term.op == "contract" and Op.BASIS in map(_op_of, term.args):
        # f e_k: one unit vector carries the output index, and every other operand is summed to a scalar f
        out = term.params.out
        bases = [a for a, spec in zip(term.args, term.params.specs, strict=True) if a.op == "basis" and spec == out]
        others = [spec for a, spec in zip(term.args, term.params.specs, strict=True) if a.op != "basis"]
        if len(bases) == 1 and len(others) == len(term.args) - 1 and not any(set(out) & set(s) for s in others):
            return bases[0].params.k
    return None


_op_of = operator.attrgetter("op")


def _without_basis(term: Node) -> M:
    """f for the term f e_k."""
    if term.op == "basis":
        return m.num(1.0)
    others = [(a, spec) for a, spec in zip(term.args, term.params.specs, strict=True) if a.op != "basis"]
    if all(a.rank == 0 for a, _ in others):
        return fold_product([_part(a) for a, _ in others])
    return _part(b.contract(others, (), _label_dims(term)))       # sum(A)*e_k: the sum is f


def fold_product(factors: list[M]) -> M:
    return m.mm(*factors) if factors else m.num(1.0)


def _contract(node: Node, args: list[M]) -> M:
    specs, out = node.params.specs, node.params.out
    if len(out) > 2 or any(len(s) > 2 for s in specs):
        return _einsum_of(node, args)
    slot = _basis_slot(node)
    if slot is not None and len(out) == 1:
        return _one_hot(node.shape, slot, _without_basis(node))     # f e_k alone
    dims = _label_dims(node)
    mean = _mean(node, args, dims)
    if mean is not None:
        return mean
    specs, args = _expanded_hadamards(node, specs, args)
    shown = _outer(specs, out, args, dims) or _product(specs, out, args, dims)
    return shown if shown is not None else _einsum_of(node, args)


def _mean(node: Node, args: list[M], dims: dict) -> M | None:
    """A sum of one vector or matrix over one axis or every entry, times 1/n for the n entries summed (the size
    itself, or a number that reads shorter as a multiple of 1/n): mean(X, 2), mean(X, 1) (a row), mean(x), mean(X),
    2*mean(X, 2) for 0.6666666666666666*sum(X, 2) of a 3-column X; None for any other product."""
    specs, out = node.params.specs, node.params.out
    tensors = [k for k, a in enumerate(node.args) if a.rank]
    if len(tensors) != 1 or len(set(specs[tensors[0]])) != len(specs[tensors[0]]):
        return None
    k = tensors[0]
    spec = specs[k]
    summed = tuple(label for label in spec if label not in out)
    if not summed or out != tuple(label for label in spec if label in out) or len(summed) not in (1, len(spec)):
        return None
    counted = tuple(dims[label] for label in summed)
    found = next(((j, c) for j, a in enumerate(node.args) if j != k for c in [_times_count(a, counted)]
                  if c is not None), None)
    if found is None:
        return None
    j, coefficient = found
    factors = [m.num(coefficient), *(shown for n, shown in enumerate(args) if n not in (k, j))]
    if len(summed) == len(spec):
        return m.mm(*factors, m.func("mean", args[k], orient="s"))
    axis = spec.index(summed[0]) + 1
    mean = m.func("mean", args[k], m.num(axis), orient="r" if axis == 1 else "c")
    return m.mm(*factors, m.transpose(mean) if axis == 1 else mean)     # a vector's notation is a column


def _times_count(a: Node, counted: tuple) -> float | None:
    """c where a is c/n, n the product of the sizes counted: 1 for 1/sum(ones) over those sizes; for a number, c
    where it reads shorter than a (1 for 0.25 and n = 4, 2 for 0.6666666666666666 and n = 3), else None."""
    if a.op == "const" and a.rank == 0 and all(isinstance(d, int) for d in counted):
        value = a.params.value
        c = value * math.prod(counted)
        c = float(round(c)) if math.isclose(c, round(c), rel_tol=1e-13) else c
        return c if len(_coefficient_text(c)) < len(_coefficient_text(value)) else None
    if a.op != "pow" or not (a.args[1].op == "const" and a.args[1].params.value == -1.0):
        return None
    total = a.args[0]
    counts = total.op == "contract" and total.shape == () and len(total.args) == 1 and \
        total.args[0].op == "const" and total.args[0].params.value == 1.0 and total.args[0].shape == counted
    return 1.0 if counts else None


def _coefficient_text(c: float) -> str:
    """How a coefficient reads in front of a product: nothing for 1 and -1."""
    return "" if abs(c) == 1.0 else repr(c)


def _one_hot(shape: tuple, slot: int, entry: M) -> M:
    """The stack with entry at slot and zeros elsewhere (the length of a unit vector is always a number)."""
    length = shape[0]
    assert isinstance(length, int), "a unit vector has a written length"
    entries = [m.num(0.0)] * length
    entries[slot] = entry
    return m.stack(entries)


def _label_dims(node: Node) -> dict:
    specs, out = node.params.specs, node.params.out
    dims = dict(zip(out, node.shape, strict=True))
    for spec, arg in zip(specs, node.args, strict=True):
        dims.update(zip(spec, arg.shape, strict=True))
    return dims


def _product(specs, out, args, dims) -> M | None:
    shown = _peel_hadamard(specs, out, args, dims) or _Graph(specs, out, args, dims).to_matrix()
    if shown is not None:
        return shown
    fused = _fused_hadamard(specs, out, args)
    if fused is None:
        return None
    fewer_specs, fewer_args = fused
    return _product(fewer_specs, out, fewer_args, dims)


def _fused_hadamard(specs, out, args: list[M]) -> tuple[list, list[M]] | None:
    """One operand fewer where a matrix product meets a matrix on its indices: sum_k A_ak B_bk C_ab is
    ((A*B').*C)_ab when k is summed and only A and B carry it (the backward pass of a layer, (R*W').*step(Z));
    (specs, args) with the three operands replaced by that one, or None where no such triple exists."""
    counts = collections.Counter(itertools.chain(out, *specs))
    for k in (label for label, n in counts.items() if n == 2 and label not in out):
        pair = [j for j, s in enumerate(specs) if k in s]
        if len(pair) != 2 or any(len(specs[j]) != 2 or len(set(specs[j])) != 2 for j in pair):
            continue
        ends = {next(label for label in specs[j] if label != k): j for j in pair}
        if len(ends) != 2:
            continue
        target = next((j for j, s in enumerate(specs) if j not in pair and len(s) == 2 and set(s) == set(ends)), None)
        if target is None:
            continue
        rows, cols = specs[target]
        first, second = args[ends[rows]], args[ends[cols]]
        left = first if specs[ends[rows]] == (rows, k) else m.transpose(first)          # rows × k
        right = m.transpose(second) if specs[ends[cols]] == (cols, k) else second       # k × cols
        fused = m.had(m.mm(left, right), args[target])
        keep = [j for j in range(len(specs)) if j not in (*pair, target)]
        return [specs[j] for j in keep] + [(rows, cols)], [args[j] for j in keep] + [fused]
    return None


def _outer(specs, out, args, dims) -> M | None:
    """u_i v_j (each built from its own operands) is u*v': print each factor as a vector, then the outer product."""
    if len(out) != 2:
        return None
    groups = _components(specs)
    first, second = (_owner(label, groups) for label in out)
    if first is None or second is None or first is second:
        return None
    scalars = [(g, ()) for g in groups if g is not first and g is not second]
    shown = _sub_products([*scalars, (first, (out[0],)), (second, (out[1],))], specs, args, dims)
    if shown is None:
        return None
    *factors, u, v = shown
    return m.mm(*factors, u, m.transpose(v))


class _Component(NamedTuple):
    """Operands that share labels, directly or through others: their labels and their positions."""
    labels: set
    members: list[int]


def _components(specs) -> list[_Component]:
    groups: list[_Component] = []
    for k, spec in enumerate(specs):
        touching = [g for g in groups if g.labels & set(spec)]
        labels, members = set(spec), [k]
        for g in touching:
            labels |= g.labels
            members += g.members
            groups.remove(g)
        groups.append(_Component(labels, sorted(members)))
    return groups


def _owner(label, groups: list[_Component]) -> _Component | None:
    return next((g for g in groups if label in g.labels), None)


def _sub_products(parts: list[tuple[_Component, tuple]], specs, args, dims) -> list[M] | None:
    """The matrix form of each component with its output labels, or None as soon as one has none."""
    shown = []
    for group, out in parts:
        product = _product([specs[k] for k in group.members], out, [args[k] for k in group.members], dims)
        if product is None:
            return None
        shown.append(product)
    return shown


def _peel_hadamard(specs, out, args, dims) -> M | None:
    """y_i * (X w)_i is y.*(X*w), not diag(y)*X*w: vectors on a vector result's index multiply element-wise."""
    if len(out) != 1 or not any(len(s) == 2 and out[0] in s for s in specs):
        return None
    on_index = [s == (out[0],) for s in specs]
    if not any(on_index):
        return None
    rest = [k for k, here in enumerate(on_index) if not here]
    inner = _Graph([specs[k] for k in rest], out, [args[k] for k in rest], dims).to_matrix()
    return m.had(*itertools.compress(args, on_index), inner) if inner is not None else None


class _Graph:
    """An einsum seen as a graph: indices are vertices, matrices edges, vectors and output slots end caps.

    When every index touches at most two things, the graph is a set of paths and cycles: a path is a chain of matrix
    products (x'*A*B*y), a cycle a trace.
    """

    def __init__(self, specs, out, args: list[M], dims: dict):
        self.dims = dims
        self.out = list(out)
        self.scalars = [a for a, s in zip(args, specs, strict=True) if not s]
        self.ops = [(a, tuple(s)) for a, s in zip(args, specs, strict=True) if s]
        self.fresh = itertools.count(10_000)

    def count(self, label, skip: int = -1) -> int:
        return (label in self.out) + sum(ix.count(label) for k, (_, ix) in enumerate(self.ops) if k != skip)

    def counts(self) -> dict:
        """count(label) of every label at once: one pass, where asking label by label would be quadratic."""
        counts = dict.fromkeys(self.out, 1)
        for _, ix in self.ops:
            for label in ix:
                counts[label] = counts.get(label, 0) + 1
        return counts

    def to_matrix(self) -> M | None:
        if self._paths_already():
            return self._paths()
        self._diagonals()
        self._broadcasts()
        self._hadamard()
        self._lone_sums()
        if not self._split_high_degree():
            return None
        return self._paths()

    def _paths_already(self) -> bool:
        """Whether the graph is paths and cycles as it is, so that the passes before _paths would change nothing:
        every label twice (output slots counted), on two different operands or an operand and a slot, no two operands
        on the same labels (the chains of long products: one test instead of five passes)."""
        counts = self.counts()
        seen: set[frozenset] = set()
        for _, ix in self.ops:
            labels = frozenset(ix)
            if len(labels) != len(ix) or labels in seen:
                return False
            seen.add(labels)
        return all(n == 2 for n in counts.values()) and len(set(self.out)) == len(self.out)

    def _diagonals(self) -> None:
        # A_ii is diag(A)_i where i is shared, and tr(A) where it is not; built into a new list, since count()
        # reads every other operand (tr(B)*tr(B) has two)
        kept = []
        for k, (a, ix) in enumerate(self.ops):
            if len(ix) == 2 and ix[0] == ix[1]:
                if self.count(ix[0], skip=k):
                    kept.append((m.func("diag", a, orient="c"), ix[:1]))
                else:
                    self.scalars.append(m.func("tr", a, orient="s"))
            else:
                kept.append((a, ix))
        self.ops = kept

    def _broadcasts(self) -> None:
        for label in self.out:
            if not any(label in ix for _, ix in self.ops):
                self.ops.append((m.fill(1.0, (self.dims[label],)), (label,)))

    def _hadamard(self) -> None:
        # operands on the same indices multiply element-wise: x_i y_i z_i is (x.*y)'*z, A_ij B_ji is A.*B'
        groups: dict[frozenset, list[int]] = {}
        for k, (_, ix) in enumerate(self.ops):
            groups.setdefault(frozenset(ix), []).append(k)
        merging = [members for members in (self._mergeable(g) for g in groups.values() if len(g) >= 2)
                   if len(members) >= 2]
        drop = set(itertools.chain(*merging))
        self.ops = [op for k, op in enumerate(self.ops) if k not in drop] + [self._merged(ms) for ms in merging]

    def _mergeable(self, members: list[int]) -> list[int]:
        """The operands of a group to multiply element-wise. Where they are vectors on an index nothing else uses,
        one is kept aside: (x.*y)'*z, and x'*y stays a dot product."""
        ix = self.ops[members[0]][1]
        if len(ix) == 1 and self.count(ix[0]) == len(members):
            return members[:-1]
        return members

    def _merged(self, members: list[int]) -> tuple[M, tuple]:
        ix = self.ops[members[0]][1]
        return m.had(*[a if own == ix else m.transpose(a) for a, own in (self.ops[k] for k in members)]), ix

    def _lone_sums(self) -> None:
        # an index that only one operand carries is summed over there: sum(A), or A*1 (A'*1) for one of two
        counts = self.counts()
        kept = []
        for a, ix in self.ops:
            lone = [label for label in ix if counts[label] == 1]
            if len(lone) == len(ix):
                self.scalars.append(m.func("sum", a, orient="s"))
            else:
                kept.append(self._summed_over(a, ix, lone[0]) if lone else (a, ix))
        self.ops = kept

    def _summed_over(self, a: M, ix: tuple, label) -> tuple[M, tuple]:
        """A matrix summed over one of its indices: A'*1 over its rows, A*1 over its columns."""
        ones = m.fill(1.0, (self.dims[label],))
        if label == ix[0]:
            return m.mm(m.transpose(a), ones), (ix[1],)
        return m.mm(a, ones), (ix[0],)

    def _split_high_degree(self) -> bool:
        # a vector at an index shared by three or more: v_i A_ij B_ik = (A' diag(v) B)_jk; a chain of matrices that
        # ends in a vector is that vector first: P_ik u_k S_ij = (diag(P*u) S)_ij; and where diag(v) would leave the
        # index crowded, such chains join v element-wise: x_i P_ik u_k S_ij = (diag(x.*(P*u)) S)_ij
        while True:
            counts = self.counts()
            crowded = next((label for label in self._labels() if counts[label] > 2), None)
            if crowded is None:
                return True
            vec = next((k for k, (_, ix) in enumerate(self.ops) if ix == (crowded,)), None)
            if vec is not None and counts[crowded] > 3 and self._fold_branch(crowded, counts) is not None:
                self._merge_vectors(crowded)
                continue
            if vec is None:
                vec = self._fold_branch(crowded, counts)
            if vec is None:
                return False
            new = next(self.fresh)
            self.ops[vec] = (m.func("diag", self.ops[vec][0], orient="m"), (crowded, new))
            self._rename_one(crowded, new, vec)

    def _merge_vectors(self, label) -> None:
        """The vectors on label multiplied element-wise into one."""
        members = [k for k, (_, ix) in enumerate(self.ops) if ix == (label,)]
        self.ops = [op for k, op in enumerate(self.ops) if k not in members] + [self._merged(members)]

    def _fold_branch(self, label, counts: dict) -> int | None:
        """A chain of matrices from label to a vector through labels nothing else carries (P_ik u_k, where label i is
        shared by three or more) replaced by its product, a vector on label (P*u): its position, or None."""
        for first in (k for k, (_, ix) in enumerate(self.ops) if len(ix) == 2 and label in ix and ix[0] != ix[1]):
            chain, members, current = [], [], label
            k: int | None = first
            while k is not None and len(self.ops[k][1]) == 2:
                a, (i, j) = self.ops[k]
                chain.append(a if current == i else m.transpose(a))
                members.append(k)
                current = j if current == i else i
                k = None if counts.get(current) != 2 or current in self.out else \
                    next(n for n, (_, ix) in enumerate(self.ops) if n != members[-1] and current in ix)
            if k is None:
                continue
            vector = m.mm(*chain, self.ops[k][0])
            self.ops = [op for n, op in enumerate(self.ops) if n not in (*members, k)] + [(vector, (label,))]
            return len(self.ops) - 1
        return None

    def _labels(self) -> list:
        return list(dict.fromkeys(itertools.chain(self.out, *(ix for _, ix in self.ops))))

    def _rename_one(self, label, new, skip: int) -> None:
        """Give one other use of label the new label: a matrix if any, else a vector, else an output slot."""
        uses = [k for k, (_, ix) in enumerate(self.ops) if k != skip and label in ix]
        k = min(uses, key=lambda k: len(self.ops[k][1]) != 2, default=None)     # the first matrix, or the first
        if k is None:
            self.out[self.out.index(label)] = new
            return
        a, ix = self.ops[k]
        self.ops[k] = (a, tuple(new if i == label else i for i in ix))

    def _attachments(self) -> dict[object, tuple[list[int], list[_End]]]:
        """label -> (the matrices on it, by operand; its ends: vectors ("cap", operand), then output slots
        ("out", slot)), labels in order of first use."""
        att: dict[object, tuple[list[int], list[_End]]] = {}
        for k, (_, ix) in enumerate(self.ops):
            for label in ix:
                edges, ends = att.setdefault(label, ([], []))
                if len(ix) == 2:
                    edges.append(k)
                else:
                    ends.append(("cap", k))
        for p, label in enumerate(self.out):
            att.setdefault(label, ([], []))[1].append(("out", p))
        return att

    def _paths(self) -> M:
        att = self._attachments()
        used = _Used(set(), set())
        factors = list(self.scalars)
        ends: dict[tuple[int, ...], M] = {}
        for shown, start, end in self._open_paths(att, used):
            if start[0] == "cap" and end[0] == "cap":
                factors.append(shown)           # x'*A*y: a scalar
            else:
                slots, oriented = _carried(shown, start, end)
                ends[slots] = oriented
        factors.extend(self._cycles(att, used))
        return m.mm(*factors, self._main(ends))

    def _open_paths(self, att: dict, used: _Used) -> list[tuple[M, _End, _End]]:
        """Every path between two ends (vectors, output slots): its matrix product, its start and its end."""
        paths = []
        for label, (_, ends) in att.items():
            for item in ends:
                if item not in used.ends:
                    shown, end = self._walk(label, item, att, used)
                    paths.append((shown, item, end))
        return paths

    def _cycles(self, att: dict, used: _Used) -> list[M]:
        """The edges left over after the paths form cycles: each is the trace of its product."""
        traces = []
        for k, (_, ix) in enumerate(self.ops):
            if len(ix) == 2 and k not in used.edges:
                chain, _ = self._chain(ix[0], att, used, start_edge=k)
                traces.append(m.func("tr", m.mm(*chain), orient="s"))
        return traces

    def _chain(self, label, att: dict, used: _Used, start_edge: int | None = None) -> tuple[list[M], object]:
        """The matrices along the path from label (each as A or A', the way the path runs), and its last label."""
        chain: list[M] = []
        current = label
        edge = start_edge if start_edge is not None else _next_edge(att[current][0], used.edges)
        while edge is not None:
            used.edges.add(edge)
            a, (i, j) = self.ops[edge]
            chain.append(a if current == i else m.transpose(a))
            current = j if current == i else i
            edge = _next_edge(att[current][0], used.edges)
        return chain, current

    def _walk(self, label, start: _End, att: dict, used: _Used) -> tuple[M, _End]:
        used.ends.add(start)
        head = [m.transpose(self.ops[start[1]][0])] if start[0] == "cap" else []
        chain, end_label = self._chain(label, att, used)
        end = next(item for item in att[end_label][1] if item not in used.ends)
        used.ends.add(end)
        tail = [self.ops[end[1]][0]] if end[0] == "cap" else []
        shown = m.mm(*head, *chain, *tail)
        if start[0] == "cap" and end[0] == "cap":   # a scalar: it reads the same backwards, maybe with fewer '
            backwards = m.mm(*[m.transpose(f) for f in reversed([*head, *chain, *tail])])
            shown = backwards if backwards.tcount < shown.tcount else shown
        return shown, end

    def _main(self, ends: dict[tuple[int, ...], M]) -> M:
        """The factor that carries the output indices: one path between both slots (A*B), one per slot (u*v'),
        one vector, or nothing for a scalar."""
        if (0, 1) in ends:
            return ends[(0, 1)]
        if len(self.out) == 2:
            return m.mm(ends[(0,)], m.transpose(ends[(1,)]))
        return ends[(0,)] if self.out else m.num(1.0)


_End = tuple[str, int]     # where a path ends: ("cap", operand) for a vector, ("out", slot) for an output index


class _Used(NamedTuple):
    """What the path walk has taken: matrices by operand, and ends."""
    edges: set[int]
    ends: set[_End]


def _next_edge(edges: list[int], used: set[int]) -> int | None:
    """The first matrix on a label not taken yet (a label has at most two)."""
    for k in edges:
        if k not in used:
            return k
    return None


def _carried(shown: M, start: _End, end: _End) -> tuple[tuple[int, ...], M]:
    """The output slots a path ends at, and the path turned so that it runs from the first slot (its rows)."""
    if start[0] == "out" and end[0] == "out":
        return (0, 1), shown if start[1] < end[1] else m.transpose(shown)
    if start[0] == "out":
        return (start[1],), shown
    return (end[1],), m.transpose(shown)


def _blocks(node: Node, args: list[M]) -> M:
    """[x; y], [X; Y] or [X, Y]: each part as a column (a vector stack, or side by side) or a row (matrices one
    above the other); a part that is a scalar or vector given one more axis of size 1 is written as it is."""
    if node.rank > 2:
        return _tensor_blocks(node, args)
    want = {1: "c", 2: "r" if node.params.axis == 0 else "c"}.get(node.rank, "m")
    parts = []
    for part, own in zip(node.args, args, strict=True):
        inner = _without_unit_axes(part)
        constant = _constant_value(part)
        if constant is not None:
            # a vector block reads as a column beside others and as a row above others: else the matrix it is
            shown = _constant_part(part.shape, constant)
            parts.append(shown if shown.orient in ("s", want) else own)
            continue
        shown = _part(inner) if inner is not None else own
        parts.append(m.transpose(shown) if shown.orient in "cr" and shown.orient != want else shown)
    separator = ";" if node.rank == 1 or node.params.axis == 0 else ","
    return m.blocks(parts, separator, "c" if node.rank == 1 else "m")


def _constant_value(part: Node) -> float | None:
    """c where the part is the constant c everywhere: a constant, or a scalar constant spread over the part's shape."""
    if part.op == "const":
        return part.params.value
    if part.op == "contract" and len(part.args) == 1 and part.args[0].op == "const" and part.args[0].rank == 0:
        return part.args[0].params.value
    return None


def _constant_part(shape: tuple, value: float) -> M:
    """A constant part of a stack written as the number, column or row it is: 2 in [x; 2], vector(1, 3) in
    [X, vector(1, 3)] (3×1), vector(1, 4)' in [X; vector(1, 4)'] (1×4)."""
    if all(d == 1 for d in shape):
        return m.num(value)
    if len(shape) == 2 and 1 in shape:
        column = m.fill(value, (shape[0] if shape[1] == 1 else shape[1],))
        return column if shape[1] == 1 else m.transpose(column)
    return m.fill(value, shape)


def _tensor_blocks(node: Node, args: list[M]) -> M:
    """A stack of tensors (a Jacobian of a stack), which the language has no brackets for: the sum of the parts, each
    moved to its place along the axis by a matrix [0; eye; 0] (einsum)."""
    axis, total = node.params.axis, node.shape[node.params.axis]
    letters = _LETTERS[:node.rank]
    spec = letters[:axis] + "z" + letters[axis + 1:] + "," + letters[axis] + "z->" + letters
    terms, offset = [], 0
    for part, shown in zip(node.args, args, strict=True):
        n = part.shape[axis]
        if _constant_value(part) != 0.0:          # a zero part adds nothing: its place stays zero
            terms.append(m.einsum(spec, [shown, _placing(offset, n, total)], node.rank))
        offset += n
    return m.add(*terms) if terms else m.fill(0.0, node.shape)


def _placing(offset: int, n: int, total) -> M:
    """The total×n matrix with the identity at rows offset+1..offset+n and zeros elsewhere."""
    blocks = [m.fill(0.0, (offset, n)) if offset else None, m.eye(n),
              m.fill(0.0, (total - offset - n, n)) if total > offset + n else None]
    return m.blocks([b for b in blocks if b is not None], ";", "m")


def _without_unit_axes(part: Node) -> Node | None:
    """u for a part that is u (a scalar or vector) spread along new axes of size 1 (a scalar a in [x; a])."""
    if part.op != "contract" or len(part.args) != 1 or part.args[0].rank >= part.rank:
        return None
    (spec,), out = part.params.specs, part.params.out
    added = [d for label, d in zip(out, part.shape, strict=True) if label not in spec]
    kept = tuple(label for label in out if label in spec)
    return part.args[0] if kept == spec and all(d == 1 for d in added) else None


def index_items(select: tuple) -> tuple[str, ...]:
    """The language's index of each axis' selection: 2 for entry 1 (from 0), ':' for the whole axis, 2:4 a range."""
    return tuple(str(p + 1) if type(p) is int else ":" if p[1] is None else f"{p[0] + 1}:{p[1]}" for p in select)


def _pick(node: Node, args: list[M]) -> M:
    """x(2), X(2, :), x(2:4): positions from 1, ':' the whole axis."""
    select = node.params.select
    if len(select) > 2:
        return _tensor_pick(node, args[0])
    items = index_items(select)
    kept = [type(p) is not int for p in select]
    if node.rank == 0:
        orient = "s"
    elif len(select) == 1:
        orient = args[0].orient
    else:
        orient = "m" if all(kept) else "r" if kept[1] else "c"
    shown = m.pick(args[0], items, orient)
    return m.transpose(shown) if orient == "r" else shown     # a vector is shown as a column: X(2, :)'


def _tensor_pick(node: Node, shown: M) -> M:
    """Entries of a tensor (a Jacobian indexed), which the language indexes only as vectors and matrices: einsum
    with a unit vector [0; 1; 0] for each entry picked and a matrix [0; eye; 0] for each range kept."""
    x, select = node.args[0], node.params.select
    letters = _LETTERS[:x.rank]
    operands, specs, out = [shown], [letters], ""
    for q, pick in enumerate(select):
        if pick == (0, None):
            out += letters[q]
        elif type(pick) is int:
            operands.append(_one_hot((x.shape[q],), pick, m.num(1.0)))
            specs.append(letters[q])
        else:
            new = _LETTERS[x.rank + q]
            operands.append(_placing(pick[0], pick[1] - pick[0], x.shape[q]))
            specs.append(letters[q] + new)
            out += new
    return m.einsum(",".join(specs) + "->" + out, operands, node.rank)


def _leaf_var(node: Node, args: list[M]) -> M:
    return m.sym(node.params.name, node.rank, node.params.symmetric)


_CONVERT: dict[Op, Callable[[Node, list[M]], M]] = {
    Op.VAR: _leaf_var,
    Op.CONST: lambda node, args: m.fill(node.params.value, node.shape),
    Op.DELTA: lambda node, args: m.eye(node.shape[0]),
    Op.BASIS: lambda node, args: _one_hot(node.shape, node.params.k, m.num(1.0)),
    Op.MAP: lambda node, args: _exp(node, args) if node.params.fn == "exp" else m.func(node.params.fn, args[0]),
    Op.ADD: _add,
    Op.POW: lambda node, args: m.power(*_implicit_expansion(node, args)),
    Op.MAX: _elementwise("max"),
    Op.MIN: _elementwise("min"),
    Op.CONTRACT: _contract,
    Op.STACK: _blocks,
    Op.INDEX: _pick,
    Op.LOGSUMEXP: _reduction("logsumexp"),
    Op.AMAX: _reduction("max", (m.stack([]),)),
    Op.ISMAX: _marked("ismax"),
    Op.INV: lambda node, args: m.func("inv", args[0]),
    Op.DET: lambda node, args: m.func("det", args[0], orient="s"),
    Op.LOGDET: lambda node, args: m.func("logdet", args[0], orient="s"),
    Op.COFACTOR: lambda node, args: (m.func("cofactor", args[0]) if node.params.order == 1 else
                                     m.func("cofactor", args[0], m.num(node.params.order), orient="t")),
    Op.NORM2: lambda node, args: m.func("norm2", args[0], orient="s"),
    Op.UNIT: lambda node, args: m.func("unit", args[0]),
}
