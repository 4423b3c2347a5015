"""IR -> matrix notation. Each generalized product (einsum) becomes matrix products, transposes, Hadamard products,
diag, tr and sums where its index graph allows, and index notation (einsum) where it does not."""
from __future__ import annotations

import itertools

from ..ir import Node, fold, topological
from . import mast as m
from .mast import M

_LETTERS = "ijklmnopqrstuvwxyzabcdefgh"


def to_mast(node: Node) -> M:
    hidden = _stack_terms(node)
    return fold(node, lambda n, args: None if id(n) in hidden else _convert(n, args))


def _stack_terms(root: Node) -> set[int]:
    """The terms f_k e_k of stacks [f1; f2; ...] (and their e_k) that appear nowhere else: they are shown only as
    entries, so their own notation (a column as long as the stack, for each entry) is never built."""
    order = topological([root])
    parents: dict[int, list[Node]] = {}
    for n in order:
        for a in n.args:
            parents.setdefault(id(a), []).append(n)
    stacks = {id(n) for n in order if n.op == "add" and _is_stack(n)}
    hidden: set[int] = set()
    for n in reversed(order[:-1]):          # parents before operands; the root is always shown
        if (n.op == "basis" or _basis_slot(n) is not None) and all(
                id(p) in hidden or id(p) in stacks for p in parents[id(n)]):
            hidden.add(id(n))
    return hidden


def _is_stack(node: Node) -> bool:
    return len(node.shape) == 1 and isinstance(node.shape[0], int) and all(
        _basis_slot(term) is not None for term in node.args)


def _convert(node: Node, args: list[M]) -> M:
    return _with_shape(_CONVERT[node.op](node, args), node.shape)


def _with_shape(shown: M, shape: tuple) -> M:
    """A tensor whose notation came out a scalar (0*A is 0, a sum of constants is a number) is printed broadcast to
    its shape, so that its text parses back to a tensor of the same shape, not to a scalar."""
    if not shape or shown.orient != "s":
        return shown
    if m.is_num(shown):
        return m.fill(shown.data, shape)
    return m.mm(shown, m.fill(1.0, shape))


def _einsum_of(node: Node, args: list[M]) -> M:
    specs, out = node.params
    scalars = [a for a, s in zip(args, specs, strict=True) if not s]
    if scalars and len(scalars) < len(args):
        args = [a for a, s in zip(args, specs, strict=True) if s]
        specs = tuple(s for s in specs if s)
        return m.mm(*scalars, _einsum_spec(specs, out, args, _label_dims(node)))
    return _einsum_spec(specs, out, args, _label_dims(node))


def _einsum_spec(specs, out, args: list[M], dims: dict) -> M:
    carried = set().union(*map(set, specs)) if specs else set()
    broadcast = [label for label in out if label not in carried]
    specs = tuple(specs) + tuple((label,) for label in broadcast)   # ones that carry the sizes of new indices
    args = list(args) + [m.fill(1.0, (dims[label],)) for label in broadcast]
    letter = {label: _LETTERS[k % len(_LETTERS)] for k, label in enumerate(dict.fromkeys(
        itertools.chain(out, *specs)))}
    spec = ",".join("".join(letter[i] for i in s) for s in specs) + "->" + "".join(letter[i] for i in out)
    return m.einsum(spec, args, len(out))


def _add(node: Node, args: list[M]) -> M:
    entries = _stack_entries(node.args, args, node.shape)
    return m.stack(entries) if entries is not None else m.add(*args)


def _stack_entries(terms, masts, shape) -> list[M] | None:
    """sum_k f_k e_k (how [f1; f2; ...] is stored) -> [f1, f2, ...]"""
    if len(shape) != 1 or not isinstance(shape[0], int):
        return None
    slots = [_basis_slot(term) for term in terms]
    if None in slots:
        return None        # decided before allocating: a vector of 10**12 entries is not a stack
    entries = [m.num(0.0)] * shape[0]     # every term is f_k e_k: shape[0] is the length of a written stack
    for k, term, shown in zip(slots, terms, masts, strict=True):
        entries[k] = m.add(entries[k], _without_basis(term, shown))
    return entries


def _basis_slot(term: Node) -> int | None:
    if term.op == "basis":
        return term.params[0]
    if term.op == "contract":
        bases = [a for a in term.args if a.op == "basis"]
        if len(bases) == 1 and all(a.rank == 0 for a in term.args if a.op != "basis"):
            return bases[0].params[0]
    return None


def _without_basis(term: Node, shown: M) -> M:
    if term.op == "basis":
        return m.num(1.0)
    return fold_product([to_mast(a) for a in term.args if a.op != "basis"])


def fold_product(factors: list[M]) -> M:
    return m.mm(*factors) if factors else m.num(1.0)


def _contract(node: Node, args: list[M]) -> M:
    specs, out = node.params
    if len(out) > 2 or any(len(s) > 2 for s in specs):
        return _einsum_of(node, args)
    slot = _basis_slot(node)
    if slot is not None and len(out) == 1:
        entries = [m.num(0.0)] * node.shape[0]
        entries[slot] = _without_basis(node, args[0])
        return m.stack(entries)
    dims = _label_dims(node)
    shown = _outer(specs, out, args, dims) or _product(specs, out, args, dims)
    return shown if shown is not None else _einsum_of(node, args)


def _label_dims(node: Node) -> dict:
    specs, out = node.params
    dims = dict(zip(out, node.shape, strict=True))
    for spec, arg in zip(specs, node.args, strict=True):
        dims.update(zip(spec, arg.shape, strict=True))
    return dims


def _product(specs, out, args, dims) -> M | None:
    return _peel_hadamard(specs, out, args, dims) or _Graph(specs, out, args, dims).to_matrix()


def _outer(specs, out, args, dims) -> M | None:
    """u_i v_j (each built from its own operands) is u*v': print each factor as a vector, then the outer product."""
    if len(out) != 2:
        return None
    groups = _components(specs)
    if not all(any(label in g[0] for g in groups) for label in out):
        return None
    first, second = (next(g for g in groups if label in g[0]) for label in out)
    if first is second:
        return None
    scalars = [_product([specs[k] for k in g[1]], (), [args[k] for k in g[1]], dims)
               for g in groups if g is not first and g is not second]
    if any(s is None for s in scalars):
        return None
    u, v = (_product([specs[k] for k in g[1]], (label,), [args[k] for k in g[1]], dims)
            for g, label in ((first, out[0]), (second, out[1])))
    return m.mm(*scalars, u, m.transpose(v)) if u is not None and v is not None else None


def _components(specs) -> list[tuple[set, list[int]]]:
    groups: list[tuple[set, list[int]]] = []
    for k, spec in enumerate(specs):
        touching = [g for g in groups if g[0] & set(spec)]
        labels, members = set(spec), [k]
        for g in touching:
            labels |= g[0]
            members += g[1]
            groups.remove(g)
        groups.append((labels, sorted(members)))
    return groups


def _peel_hadamard(specs, out, args, dims) -> M | None:
    """y_i * (X w)_i is y.*(X*w), not diag(y)*X*w: vectors on a vector result's index multiply element-wise."""
    if len(out) != 1:
        return None
    i = out[0]
    vectors = [k for k, s in enumerate(specs) if s == (i,)]
    if not vectors or not any(len(s) == 2 and i in s for s in specs):
        return None
    rest = [k for k in range(len(specs)) if k not in vectors]
    inner = _Graph([specs[k] for k in rest], out, [args[k] for k in rest], dims).to_matrix()
    return m.had(*[args[k] for k in vectors], inner) if inner is not None else None


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
        self._diagonals()
        self._broadcasts()
        self._hadamard()
        self._lone_sums()
        if not self._split_high_degree():
            return None
        return self._paths()

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
        groups: dict[frozenset, list[int]] = {}
        for k, (_, ix) in enumerate(self.ops):
            groups.setdefault(frozenset(ix), []).append(k)
        merged, drop = [], set()
        for members in groups.values():
            if len(members) < 2:
                continue
            first_ix = self.ops[members[0]][1]
            if len(first_ix) == 1 and self.count(first_ix[0]) == len(members):
                members = members[:-1]          # keep one aside: (x.*y)'*z, and x'*y stays a dot product
                if len(members) < 2:
                    continue
            factors = [a if ix == first_ix else m.transpose(a) for a, ix in (self.ops[k] for k in members)]
            merged.append((m.had(*factors), first_ix))
            drop.update(members)
        self.ops = [op for k, op in enumerate(self.ops) if k not in drop] + merged

    def _lone_sums(self) -> None:
        result, counts = [], self.counts()
        for a, ix in self.ops:
            lone = [label for label in ix if counts[label] == 1]
            ones = m.fill(1.0, (self.dims[lone[0]],)) if lone else None
            if len(lone) == len(ix):
                self.scalars.append(m.func("sum", a, orient="s"))
            elif lone:
                kept = ix[1] if lone[0] == ix[0] else ix[0]
                row_summed = lone[0] == ix[0]
                result.append((m.mm(m.transpose(a), ones) if row_summed else m.mm(a, ones), (kept,)))
            else:
                result.append((a, ix))
        self.ops = result

    def _split_high_degree(self) -> bool:
        # a vector at an index shared by three or more: v_i A_ij B_ik = (A' diag(v) B)_jk
        while True:
            counts = self.counts()
            crowded = next((label for label in self._labels() if counts[label] > 2), None)
            if crowded is None:
                return True
            vec = next((k for k, (_, ix) in enumerate(self.ops) if ix == (crowded,)), None)
            if vec is None:
                return False
            new = next(self.fresh)
            self.ops[vec] = (m.func("diag", self.ops[vec][0], orient="m"), (crowded, new))
            self._rename_one(crowded, new, vec)

    def _labels(self) -> list:
        return list(dict.fromkeys(itertools.chain(self.out, *(ix for _, ix in self.ops))))

    def _rename_one(self, label, new, skip: int) -> None:
        for k, (a, ix) in enumerate(self.ops):
            if k != skip and label in ix and len(ix) == 2:
                self.ops[k] = (a, tuple(new if i == label else i for i in ix))
                return
        for k, (a, ix) in enumerate(self.ops):
            if k != skip and label in ix:
                self.ops[k] = (a, (new,))
                return
        self.out[self.out.index(label)] = new

    def _attachments(self) -> dict:
        att: dict = {}
        for k, (_, ix) in enumerate(self.ops):
            for label in ix:
                att.setdefault(label, []).append(("edge" if len(ix) == 2 else "cap", k))
        for p, label in enumerate(self.out):
            att.setdefault(label, []).append(("out", p))
        return att

    def _paths(self) -> M:
        att = self._attachments()
        used: set = set()
        pieces: dict[int, M] = {}
        factors = list(self.scalars)
        for label, items in att.items():
            for item in items:
                if item[0] != "edge" and item not in used:
                    shown, end = self._walk(label, item, att, used)
                    self._place(shown, item, end, pieces, factors)
        for k, (_, ix) in enumerate(self.ops):
            if len(ix) == 2 and ("edge", k) not in used:
                chain, _ = self._chain(ix[0], att, used, start_edge=k)
                factors.append(m.func("tr", m.mm(*chain), orient="s"))
        return m.mm(*factors, self._main(pieces))

    def _chain(self, label, att, used, start_edge: int | None = None) -> tuple[list[M], object]:
        chain, current = [], label
        while True:
            edge = start_edge if start_edge is not None else next(
                (k for kind, k in att[current] if kind == "edge" and ("edge", k) not in used), None)
            start_edge = None
            if edge is None:
                return chain, current
            used.add(("edge", edge))
            a, (i, j) = self.ops[edge]
            chain.append(a if current == i else m.transpose(a))
            current = j if current == i else i

    def _walk(self, label, start, att, used) -> tuple[M, object]:
        used.add(start)
        head = [m.transpose(self.ops[start[1]][0])] if start[0] == "cap" else []
        chain, end_label = self._chain(label, att, used)
        end = next(item for item in att[end_label] if item[0] != "edge" and item not in used)
        used.add(end)
        tail = [self.ops[end[1]][0]] if end[0] == "cap" else []
        return m.mm(*head, *chain, *tail), end

    def _place(self, shown: M, start, end, pieces: dict, factors: list) -> None:
        if start[0] == "cap" and end[0] == "cap":
            factors.append(shown)
        elif start[0] == "out" and end[0] == "out":
            pieces[min(start[1], end[1])] = shown if start[1] < end[1] else m.transpose(shown)
            pieces[-1] = pieces[min(start[1], end[1])]
        elif start[0] == "out":
            pieces[start[1]] = shown
        else:
            pieces[end[1]] = m.transpose(shown)

    def _main(self, pieces: dict) -> M:
        if -1 in pieces:
            return pieces[-1]
        if len(self.out) == 2:
            return m.mm(pieces[0], m.transpose(pieces[1]))
        return pieces[0] if self.out else m.num(1.0)


def _leaf_var(node: Node, args: list[M]) -> M:
    return m.sym(node.params[0], node.rank, node.params[1])


_CONVERT = {
    "var": _leaf_var,
    "const": lambda node, args: m.fill(node.params[0], node.shape),
    "delta": lambda node, args: m.eye(node.shape[0]),
    "basis": lambda node, args: m.stack([m.num(float(k == node.params[0])) for k in range(node.shape[0])]),
    "map": lambda node, args: m.func(node.params[0], args[0]),
    "add": _add,
    "pow": lambda node, args: m.power(args[0], args[1]),
    "max": lambda node, args: m.func("max", *args, orient=m.orient_of_rank(node.rank)),
    "min": lambda node, args: m.func("min", *args, orient=m.orient_of_rank(node.rank)),
    "contract": _contract,
    "logsumexp": lambda node, args: m.func("logsumexp", args[0], orient="s"),
    "inv": lambda node, args: m.func("inv", args[0]),
    "det": lambda node, args: m.func("det", args[0], orient="s"),
    "logdet": lambda node, args: m.func("logdet", args[0], orient="s"),
    "cofactor": lambda node, args: (m.func("cofactor", args[0]) if node.params[0] == 1 else
                                    m.func("cofactor", args[0], m.num(node.params[0]), orient="t")),
    "norm2": lambda node, args: m.func("norm2", args[0], orient="s"),
    "unit": lambda node, args: m.func("unit", args[0]),
}
