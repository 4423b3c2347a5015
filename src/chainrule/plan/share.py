"""Partial products shared between products, chosen by the flop model at the given sizes.

A product that contains, as a partial product, a node computed anyway (elsewhere in the same program, or known: a
temporary that a forward pass saved) reads that node instead of recomputing it, where that saves multiply-adds:
`x'*A*x` and its gradient `(A+A')*x` share `A*x`, so value_and_grad computes it once and a torch backward reads the
`A*x` that its forward saved.

A partial product that no node computes yet, but that the planned order of one product computes and another product
can read, becomes a node that both read, where two do: the gradient by a layer's weights, `X'*((G*W').*D)`, and the one
by its bias, the column sums of the same `(G*W').*D`, compute that backpropagated signal once. A product may read a
partial product that keeps indices nothing else carries; it then sums them.

Sums likewise: a sum whose terms include all the terms of another sum computed anyway reads that sum (`t1 = a + b`,
then `a + b + c` is written `t1 + c`: the logits with their bias, and the log-softmax that subtracts their
log-sum-exp).

With `split`, every product of three or more arrays is written as a tree of products of two, in the planned order,
each partial product a node of its own (a statement of the generated code): what a forward pass computes on its way
becomes a value that its backward can reuse.

Rewritten nodes are built as they are (ir.make), not through the normal form, which would flatten the nested products
again; `origin` maps each to the node whose value it is.

>>> import chainrule as cr
>>> f, g = cr.parse("x'*A*x"), cr.derivative("x'*A*x", "x")
>>> [value, grad], origin, applied = share([f.node, g.node], [], {"n": 100})
>>> value is f.node, origin[id(value)] is f.node, [a.op.value for a in value.args]    # x . (A*x), A*x shared
(False, True, ['contract', 'var'])
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from itertools import combinations, islice, permutations, product

from ..errors import InternalError
from ..ir import Node, Op, make
from ..ir.ops import ContractParams
from ..simplify import build as b
from .contract import _members, _postorder, label_dims, pairing_of, product_flops

Operand = tuple[Node, tuple]
MAX_KEPT = 3        # a partial product is looked for in every order of its indices: up to 3! = 6 orders
MAX_CHOICES = 1000  # ways to pick a partial product's operands among a product's, tried per partial product
NOTE = "partial products computed once and reused by the products that contain them"
SUM_NOTE = "partial sums computed once and reused by the sums that contain them"


def share(roots: Sequence[Node], known: Iterable[Node], plan_sizes: Mapping[str, int],
          split: bool = False, flops: dict | None = None) -> tuple[list[Node], dict[int, Node], set[str]]:
    """(the roots with products reading the partial products they share with the program or with `known`, and with
    `split` as trees of products of two; origin: id of each rewritten node -> the node whose value it is; the
    rewrites applied, for a docstring). Known nodes are values already, never rewritten. `flops`, where given, keeps
    the multiply-adds of each product layout weighed, for the next share of programs over the same products."""
    known = list(known)
    fixed = {id(n) for n in known}
    reads, applied = _reads(_order(roots, {}, fixed), known, fixed, _Flops(plan_sizes, flops), split)
    new: dict[int, Node] = {}
    origin: dict[int, Node] = {}
    for node in _order(roots, reads, fixed):
        if id(node) in reads and node.op is Op.ADD:
            built = make(Op.ADD, tuple(new.get(id(t), t) for t, _ in reads[id(node)]), node.params, node.shape)
        elif id(node) in reads:
            built = _built(node, reads[id(node)], new, plan_sizes, split, origin)
        elif id(node) not in fixed and any(new.get(id(a), a) is not a for a in node.args):
            built = make(node.op, tuple(new.get(id(a), a) for a in node.args), node.params, node.shape)
        else:
            built = node
        new[id(node)] = built
        if built is not node:
            origin[id(built)] = node
    return [new[id(r)] for r in roots], origin, applied


def _reads(order: list[Node], known: list[Node], fixed: set[int], flops: _Flops,
           split: bool) -> tuple[dict[int, list[Operand]], set[str]]:
    """(id of each node to rewrite -> the operands it reads, the rewrites applied), for the nodes of the program
    (`order`: nothing inside a known node); a sum's terms are listed as operands with no labels.

    Besides the nodes there are, products may read the partial products that the planned order of another product
    computes on its way (see _planned_partials); such a partial product is kept only where two products read it."""
    partials = [] if split else _planned_partials(order, [*order, *known], fixed, flops)
    while True:
        # the partial products read others too: a deeper layer's signal is the next one's times its weights
        reads, applied = _read_pass([*order, *partials], [*order, *known, *partials], fixed, flops, split)
        readers = Counter(id(n) for operands in reads.values() for n, _ in operands)
        shared = [c for c in partials if readers[id(c)] >= 2]
        if len(shared) == len(partials):
            return reads, applied
        partials = shared


def _read_pass(order: list[Node], pool_nodes: list[Node], fixed: set[int], flops: _Flops,
               split: bool) -> tuple[dict[int, list[Operand]], set[str]]:
    pool = _Pool(pool_nodes)
    sums = _SumPool(pool_nodes)
    reads: dict[int, list[Operand]] = {}
    applied: set[str] = set()
    for node in order:
        if node.op is Op.ADD and id(node) not in fixed:
            terms = sums.reused(node)
            if terms is not None:
                reads[id(node)] = [(t, ()) for t in terms]
                applied.add(SUM_NOTE)
        elif _plain_product(node) and id(node) not in fixed:
            operands = _reused(node, pool, flops)
            if operands is not None:
                applied.add(NOTE)
            if operands is not None or (split and _arrays(list(_operands(node))) >= 3):
                reads[id(node)] = operands if operands is not None else list(_operands(node))
    return reads, applied


def _planned_partials(order: list[Node], nodes: list[Node], fixed: set[int],
                      flops: _Flops) -> list[Node]:
    """The partial products of the planned orders of the program's products that are no node yet and that another
    product can read, saving work: the backpropagated signal `(G2*W2').*(1-A.^2)` that the gradient by a layer's
    weights multiplies by X' and the gradient by its bias sums, computed once for both."""
    products = [n for n in order if id(n) not in fixed and _plain_product(n)]
    sources: dict[int, set[int]] = {}       # id of a partial product -> the products whose planned order computes it
    found: dict[int, Node] = {}
    existing = {id(n) for n in nodes}
    for p in products:
        for c in _partials_of(p, flops.plan_sizes):
            if id(c) not in existing:
                found[id(c)] = c
                sources.setdefault(id(c), set()).add(id(p))
    if not found:
        return []
    pool = _Pool(found.values())
    adopted: dict[int, Node] = {}
    for q in products:
        own = {k for k, owners in sources.items() if owners == {id(q)}}
        operands = _reused(q, pool, flops, skip=own)
        for n, _ in operands or ():
            if id(n) in found:
                adopted[id(n)] = n
    return list(adopted.values())


def _partials_of(p: Node, plan_sizes: Mapping[str, int]) -> list[Node]:
    """The partial products (as canonical nodes) that a product of three or more arrays computes in its planned
    order; each also with the product's numbers, if it has any (the upstream gradient of a torch backward, which
    every product there has: the partial product then takes it where it costs least)."""
    operands = list(_operands(p))
    arrays = [k for k, (_, s) in enumerate(operands) if s]
    numbers = [op for op in operands if not op[1]]
    if len(arrays) < 3:
        return []
    tree = pairing_of([operands[k][1] for k in arrays], p.params.out, label_dims(p), plan_sizes)
    found = []
    for sub in _postorder(tree):
        if isinstance(sub, int) or sub is tree:
            continue
        leaves = {arrays[k] for k in _members(sub)}
        inside = [operands[k] for k in sorted(leaves)]
        outside = [op for k, op in enumerate(operands) if k not in leaves]
        kept = _kept(inside, outside, p.params.out)
        built = [b.contract(inside, kept), *([b.contract(inside + numbers, kept)] if numbers else [])]
        found += [c for c in built
                  if _plain_product(c) and len(c.shape) <= MAX_KEPT and _arrays(list(_operands(c))) >= 2]
    return found


class _Flops:
    """product_flops at the planning sizes, once per product layout: the passes of a share weigh the same products
    again, so do a module's programs (forward, backward, grad), and the products of a deep network's layers differ in
    their operands, not in their labels and sizes. `found`: the layouts weighed before, at any planning sizes."""

    def __init__(self, plan_sizes: Mapping[str, int], found: dict | None = None):
        self.plan_sizes = plan_sizes
        self.found: dict[tuple, int] = {} if found is None else found
        self.sizes_key = tuple(sorted(plan_sizes.items()))

    def __call__(self, node: Node) -> int:
        # what product_flops reads: the labels of each array operand and of the output (renumbered in order of
        # appearance, as each product numbers its own), and each label's dimension
        specs = [spec for spec in node.params.specs if spec]
        number: dict = {}
        for r in (r for spec in [*specs, node.params.out] for r in spec):
            number.setdefault(r, len(number))
        dims = label_dims(node)
        key = (tuple(tuple(number[r] for r in spec) for spec in specs), tuple(number[r] for r in node.params.out),
               tuple(dims[r] for r in number), self.sizes_key)
        if key not in self.found:
            self.found[key] = product_flops(node, self.plan_sizes)
        return self.found[key]


def _operands(node: Node) -> Iterable[Operand]:
    return zip(node.args, node.params.specs, strict=True)


def _arrays(operands: Sequence[Operand]) -> int:
    return sum(1 for _, spec in operands if spec)


def _plain_product(node: Node) -> bool:
    """A product of arrays and numbers, no identity or unit vector among them, no index repeated (no diagonal)."""
    if node.op is not Op.CONTRACT or len(set(node.params.out)) < len(node.params.out):
        return False
    return all(a.op not in (Op.DELTA, Op.BASIS) and len(set(s)) == len(s) for a, s in _operands(node))


class _Pool:
    """The products a product may read: plain products of two or more arrays (and any numbers), found by array."""

    def __init__(self, nodes: Iterable[Node]):
        self.by_arg: dict[int, list[Node]] = {}
        seen: set[int] = set()
        for node in nodes:
            if id(node) in seen or not _plain_product(node) or len(node.shape) > MAX_KEPT:
                continue
            seen.add(id(node))
            if _arrays(list(_operands(node))) >= 2:
                for arg in dict.fromkeys(a for a, s in _operands(node) if s):
                    self.by_arg.setdefault(id(arg), []).append(node)

    def within(self, operands: Sequence[Operand]) -> list[Node]:
        """The products whose operands are some (or all) of these."""
        have = Counter(id(n) for n, _ in operands)
        found = dict.fromkeys(c for n, s in operands if s for c in self.by_arg.get(id(n), ()))
        return [c for c in found if not Counter(map(id, c.args)) - have]


class _SumPool:
    """The sums a sum may read, found by term."""

    def __init__(self, nodes: Iterable[Node]):
        self.by_term: dict[int, list[Node]] = {}
        for node in dict.fromkeys(n for n in nodes if n.op is Op.ADD):
            for term in dict.fromkeys(node.args):
                self.by_term.setdefault(id(term), []).append(node)

    def reused(self, node: Node) -> list[Node] | None:
        """The sum's terms with those of other sums replaced by these sums, the sum with most terms first, while some
        sum's terms are all among those left; None when none is. Each sum read has fewer terms than the one reading
        it, so no sum reads itself, however the sums nest."""
        left, read = Counter(map(id, node.args)), []
        while True:
            fits = [c for t in node.args if left[id(t)] for c in self.by_term.get(id(t), ())
                    if len(c.args) < len(node.args) and c.shape == node.shape and not Counter(map(id, c.args)) - left]
            if not fits:
                break
            chosen = max(fits, key=lambda c: len(c.args))
            left -= Counter(map(id, chosen.args))
            read.append(chosen)
        if not read:
            return None
        rest = []
        for t in node.args:
            if left[id(t)] > 0:
                left[id(t)] -= 1
                rest.append(t)
        return [*read, *rest]


def _reused(node: Node, pool: _Pool, flops: _Flops,
            skip: set[int] | frozenset[int] = frozenset()) -> list[Operand] | None:
    """The node's operands with partial products replaced by the pool's nodes (other than the node itself and those
    in `skip`), one after the other while that saves multiply-adds, or saves arrays to read at the same multiply-adds
    (the column sums of a product computed anyway, rather than the product again inside an einsum); None when none
    does. Of two that save as much, the one of more operands: it holds more of the product's work (a partial product
    of it would leave the rest)."""
    operands = list(_operands(node))
    least = (flops(node), _arrays(operands))
    changed = False
    while True:
        choice, best = None, (*least, -math.inf)
        for c in pool.within(operands):
            if c is node or id(c) in skip:
                continue
            for trial in _matches(c, operands, node.params.out):
                cost = (flops(_product(trial, node.params.out, node.shape)), _arrays(trial), -len(c.args))
                if cost < best:
                    best, choice = cost, trial
        if choice is None:
            break
        operands, least, changed = choice, best[:2], True
    return operands if changed else None


def _matches(c: Node, operands: list[Operand], out: tuple) -> Iterable[list[Operand]]:
    """The operand lists in which some of `operands` are replaced by c, where their product is c's value."""
    places = [[k for k, (n, _) in enumerate(operands) if n is arg] for arg in c.args]
    # The same operands chosen in another order are the same partial product; c has as many indices as the labels
    # it keeps (this bounds the orders tried to MAX_KEPT!). A product that repeats an operand many times has many
    # choices: the first MAX_CHOICES are tried, a sharing missed at worst.
    tried: set[tuple[int, ...]] = set()
    for chosen in islice(product(*places), MAX_CHOICES):
        key = tuple(sorted(chosen))
        if len(set(key)) < len(key) or key in tried:
            continue
        tried.add(key)
        inside = [operands[k] for k in key]
        outside = [op for k, op in enumerate(operands) if k not in key]
        # c may keep labels that nothing outside it carries: the product then sums them (the bias's gradient, a sum
        # over the batch of the signal that the weights' gradient multiplies). Of all the operands, c must keep more
        # labels than the product: otherwise it is the product, or its transpose, which could read it back
        kept = _kept(inside, outside, out)
        free = [r for r in dict.fromkeys(r for _, s in inside for r in s) if r not in kept]
        extra = len(c.shape) - len(kept)
        if not 0 <= extra <= len(free) or (not outside and extra == 0):
            continue
        for more in combinations(free, extra):
            for labels in permutations(kept + more):
                if b.contract(inside, labels) is c:
                    yield [(c, labels), *outside]


def _kept(inside: Sequence[Operand], outside: Sequence[Operand], out: tuple) -> tuple:
    """The labels of a partial product: those of its operands that the output or another operand carries."""
    needed = set(out).union(*(s for _, s in outside))
    return tuple(dict.fromkeys(r for _, s in inside for r in s if r in needed))


def _product(operands: Sequence[Operand], out: tuple, shape: tuple) -> Node:
    return make(Op.CONTRACT, tuple(n for n, _ in operands), ContractParams(tuple(s for _, s in operands), out), shape)


def _order(roots: Sequence[Node], reads: dict[int, list[Operand]], fixed: set[int]) -> list[Node]:
    """Every node reachable from roots, each after what it reads (a rewritten product: its new operands; a known
    node: nothing)."""
    order: list[Node] = []
    state: dict[int, bool] = {}          # False: being visited, True: done
    for root in roots:
        stack = [(root, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                state[id(node)] = True
                order.append(node)
                continue
            if state.get(id(node)) is not None:
                if state[id(node)] is False:
                    raise InternalError("a shared partial product reads the product it is part of: a bug of chainrule")
                continue
            state[id(node)] = False
            stack.append((node, True))
            inputs = [n for n, _ in reads[id(node)]] if id(node) in reads else [] if id(node) in fixed else node.args
            stack += [(a, False) for a in reversed(inputs) if state.get(id(a)) is not True]
    return order


def _built(node: Node, reads: list[Operand], new: dict[int, Node], plan_sizes: Mapping[str, int], split: bool,
           origin: dict[int, Node]) -> Node:
    """The product reading its new operands; with split, as a tree of products of two."""
    current = [(new.get(id(n), n), s) for n, s in reads]
    if not split or _arrays(reads) < 3:
        return _product(current, node.params.out, node.shape)
    dims = label_dims(_product(reads, node.params.out, node.shape))
    arrays = [k for k, (_, s) in enumerate(reads) if s]
    tree = pairing_of([reads[k][1] for k in arrays], node.params.out, dims, plan_sizes)
    parts: dict = {}         # subtree of the pairing -> (its value, its canonical node, its operands' positions)
    for sub in _postorder(tree):
        if isinstance(sub, int):
            parts[sub] = (current[arrays[sub]], reads[arrays[sub]], [arrays[sub]])
            continue
        (left, left_canonical, a), (right, right_canonical, c) = parts[sub[0]], parts[sub[1]]
        leaves = a + c
        if sub is tree:
            scalars = [current[k] for k, (_, s) in enumerate(reads) if not s]
            return _product([*scalars, left, right], node.params.out, node.shape)
        labels = _kept([reads[k] for k in leaves], [op for k, op in enumerate(reads) if k not in leaves],
                       node.params.out)
        canonical = b.contract([reads[k] for k in leaves], labels)
        shape = tuple(dims[r] for r in labels)
        value = canonical
        if canonical.op is Op.CONTRACT and (left[0] is not left_canonical[0] or right[0] is not right_canonical[0]):
            value = _product([left, right], labels, shape)
            origin[id(value)] = canonical
        parts[sub] = ((value, labels), (canonical, labels), leaves)
    raise AssertionError("a pairing tree ends at its root")
