"""Normal form of the generalized product `contract` (one einsum).

Every constructor result goes through here, so derivatives never hold the forms these rules remove. A product is a
list of operands (node, index labels) and the output labels; RULES rewrite that list, one after the other and round
after round, until none of them changes it (a fixpoint), and `_canonical` builds the node from what is left:

    inline products       nested products are flattened into one
    fold constants        constant factors become one coefficient; a zero factor makes the product zero
    eliminate deltas      identities (Kronecker deltas) are absorbed by renaming indices
    merge powers          equal factors of a Hadamard product become a power
    sigmoid of exp        exp(u) .* sigmoid(-u) becomes sigmoid(u), without the inf*0 of exp(u)./(1+exp(u))

The rules build their results with build.py's constructors, which build.py passes in (`Constructors`): build.py calls
`normal_form`, so this module cannot import it.
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Hashable, Iterator, Sequence

from ..errors import InternalError
from ..ir import Node, Op, make
from ..ir.ops import ConstParams, ContractParams
from .constructors import Constructors
from .symmetric import is_symmetric

Label = Hashable
Operand = tuple[Node, tuple]


def normal_form(operands: Sequence[Operand], out: Sequence[Label], dims: dict | None, build: Constructors) -> Node:
    """The tensor sum_{labels not in out} prod_k operands[k][labels_k], with out's labels in order.

    An output label that no operand carries broadcasts (its size must be in `dims`).
    """
    ops = [(n, tuple(ix)) for n, ix in operands]
    out = tuple(out)
    sizes = _sizes(ops, dims)
    product = Product(out, sizes, _fresh(ops, out), build)
    ops = _settle(ops, product)
    if product.coeff == 0.0:
        return make(Op.CONST, (), ConstParams(0.0), tuple(sizes[i] for i in out))
    return _canonical(ops, out, product.coeff, sizes)


class Product:
    """What the rules read besides the operands, while one product is normalised: the output labels, every label's
    size, fresh labels for inlined products, the constructors, and the coefficient folded out so far. Only the
    coefficient and the sizes (of fresh labels) change. Made and dropped inside `normal_form`."""

    __slots__ = ("build", "coeff", "fresh", "out", "sizes")

    def __init__(self, out: tuple, sizes: dict, fresh: Iterator[Label], build: Constructors):
        self.out, self.sizes, self.fresh, self.build = out, sizes, fresh, build
        self.coeff = 1.0


# A rule returns the operands rewritten, or the very list it was given when it does not apply.
Rule = Callable[[list[Operand], Product], list[Operand]]
MAX_ROUNDS = 64   # a product settles in a few rounds; one that does not has two rules undoing each other: a bug


def _settle(ops: list[Operand], product: Product) -> list[Operand]:
    """Apply RULES in order, round after round, until as many rules in a row as there are left the operands as they
    are. A rule marked idempotent has nothing left to do on its own result, so it counts as done once it applied:
    a product where only inlining changed anything settles in one round."""
    settled = 0
    for _ in range(MAX_ROUNDS):
        for rule, idempotent in RULES:
            rewritten = rule(ops, product)
            if rewritten is not ops:
                ops, settled = rewritten, int(idempotent)
                continue
            settled += 1
            if settled == len(RULES):
                return ops
    raise InternalError(f"the product normal form did not settle in {MAX_ROUNDS} rounds; its operands are now "
                        f"{[(node.op.value, ix) for node, ix in ops]} (simplify/contract.py RULES); a bug of chainrule")


def _sizes(ops: list[Operand], dims: dict | None) -> dict:
    sizes = dict(dims or {})
    for node, ix in ops:
        if len(ix) != node.rank:
            raise ValueError(f"{len(ix)} indices for a rank-{node.rank} operand")
        for label, dim in zip(ix, node.shape, strict=True):
            sizes.setdefault(label, dim)
    return sizes


def _fresh(ops: list[Operand], out: tuple) -> Iterator[Label]:
    # the labels in use are gathered when the first fresh one is asked for (only inlining asks)
    used = set(out).union(*(ix for _, ix in ops))
    yield from (("_", k) for k in itertools.count() if ("_", k) not in used)


def _occurrences(ops: list[Operand], out: tuple, skip: int = -1) -> dict:
    count: dict = dict.fromkeys(out, 1)
    for k, (_, ix) in enumerate(ops):
        if k != skip:
            for label in ix:
                count[label] = count.get(label, 0) + 1
    return count


# ---- the rules -----------------------------------------------------------------------------------------------------

MAX_FUSED = 12   # flattening a product longer than this is left undone: a chain of n products stays linear in n


def _inline(ops: list[Operand], product: Product) -> list[Operand]:
    # sum_k (sum_j A[i,j] B[j,k]) C[k] = sum_jk A[i,j] B[j,k] C[k]: an operand that is itself a product is replaced
    # by its operands, its summed labels renamed to fresh ones. Idempotent: inlining adds operands and fresh labels,
    # which never lets a product it refused fit.
    inlined, changed = list(ops), False
    k = 0
    while k < len(inlined):
        node, ix = inlined[k]
        fits = node.op is Op.CONTRACT and len(inlined) + len(node.args) <= MAX_FUSED
        if fits and _keeps_labels(node, ix, inlined, product.out, k):
            inlined[k:k + 1] = _inline_one(node, ix, product)   # judged against the operands as they are now
            changed = True
        else:
            k += 1
    return inlined if changed else ops


def _inline_one(node: Node, ix: tuple, product: Product) -> list[Operand]:
    in_specs, out_spec = node.params.specs, node.params.out
    rename = dict(zip(out_spec, ix, strict=True))
    for spec, arg in zip(in_specs, node.args, strict=True):
        for label, dim in zip(spec, arg.shape, strict=True):
            if label not in rename:
                rename[label] = next(product.fresh)
                product.sizes[rename[label]] = dim
    return [(arg, tuple(rename[label] for label in spec)) for spec, arg in zip(in_specs, node.args, strict=True)]


def _keeps_labels(node: Node, ix: tuple, ops: list[Operand], out: tuple, k: int) -> bool:
    # A broadcast label of the inner product that nothing else carries would become a bare sum (a size factor; of
    # size 1 it is no factor, so such a label may go: the sum of a scalar spread over one entry is the scalar).
    in_specs, out_spec = node.params.specs, node.params.out
    carried = set().union(*in_specs)
    broadcast = [outer for label, outer, d in zip(out_spec, ix, node.shape, strict=True)
                 if label not in carried and d != 1]
    if not broadcast:
        return True       # the usual case: no need to count the other operands' labels
    others = _occurrences(ops, out, skip=k)
    return all(outer in others for outer in broadcast)


def _fold_constants(ops: list[Operand], product: Product) -> list[Operand]:
    # c * T[..] = c T[..]: constant operands leave the list for the coefficient, and 0 * T = 0. A filled tensor may go
    # only while every index it carries is still carried by something else (else dropping it would drop a sum's number
    # of terms). Idempotent: dropping operands never lets a constant it kept go.
    coeff, folded = 1.0, list(ops)
    k = 0
    while k < len(folded):
        node, ix = folded[k]
        if node.op is Op.CONST and node.params.value == 0.0:
            product.coeff = 0.0
            return []
        if node.op is Op.CONST and set(ix) <= _occurrences(folded, product.out, skip=k).keys():
            coeff *= node.params.value
            del folded[k]
        else:
            k += 1
    if len(folded) == len(ops):
        return ops
    if coeff == 0.0:       # the constants' product underflowed
        product.coeff = 0.0
        return []
    product.coeff *= coeff
    return folded


def _eliminate_deltas(ops: list[Operand], product: Product) -> list[Operand]:
    # sum_gone delta(keep, gone) * T[..gone..] = T[..keep..], one delta at a time
    for k, (node, ix) in enumerate(ops):
        if node.op is not Op.DELTA or ix[0] == ix[1]:
            continue
        others = _occurrences(ops, product.out, skip=k)
        rest = ops[:k] + ops[k + 1:]
        for keep, gone in (ix, ix[::-1]):
            if gone not in product.out and (others.get(gone, 0) or others.get(keep, 0)):
                return [(n, tuple(keep if label == gone else label for label in jx)) for n, jx in rest]
    return ops


def _merge_powers(ops: list[Operand], product: Product) -> list[Operand]:
    # x^a .* x^b = x^(a+b) for factors on the same indices (a true Hadamard product, not a final dot product)
    if len(ops) < 2 or (len(set(ops)) == len(ops) and not any(node.op is Op.POW for node, _ in ops)):
        return ops          # no two factors on the same indices with the same base (the links of long chains)
    groups: dict = {}
    for k, (node, ix) in enumerate(ops):
        if node.op is Op.CONST or node.op is Op.DELTA:
            continue
        base, exponent = _as_power(node) if node.op is Op.POW else (node, 1.0)
        groups.setdefault((id(base), ix), []).append((k, base, exponent))
    candidates = [g for g in groups.values() if len(g) > 1]
    if not candidates:
        return ops
    count = _occurrences(ops, product.out)
    merged = [g for g in candidates if _is_hadamard(ops[g[0][0]][1], count, len(g))]
    if not merged:
        return ops
    power, const = product.build.power, product.build.const
    drop = {k for g in merged for k, _, _ in g}
    kept = [op for k, op in enumerate(ops) if k not in drop]
    return kept + [(power(g[0][1], const(sum(e for _, _, e in g))), ops[g[0][0]][1]) for g in merged]


def _as_power(node: Node) -> tuple[Node, float | None]:
    if node.op is Op.POW and node.args[1].op is Op.CONST and node.args[1].rank == 0:
        return node.args[0], node.args[1].params.value
    if node.op is Op.CONST or node.op is Op.DELTA:
        return node, None
    return node, 1.0


def _is_hadamard(ix: tuple, count: dict, group_size: int) -> bool:
    return all(count[label] > group_size for label in ix)


def _sigmoid_of_exp(ops: list[Operand], product: Product) -> list[Operand]:
    # exp(u) .* sigmoid(-u) = sigmoid(u) on the same indices: exp(u)./(1+exp(u)) is inf*0 for a large u
    exps = {ix for node, ix in ops if _is_map(node, "exp")}
    if not exps:
        return ops
    apply, neg = product.build.apply, product.build.neg
    for k, (node, ix) in enumerate(ops):
        if not _is_map(node, "sigmoid") or ix not in exps:
            continue
        u = neg(node.args[0])
        partner = next((j for j, (other, jx) in enumerate(ops) if jx == ix and _is_map(other, "exp")
                        and other.args[0] is u), None)
        if partner is not None:
            rest = [op for j, op in enumerate(ops) if j not in (k, partner)]
            return [*rest, (apply("sigmoid", u), ix)]
    return ops


def _is_map(node: Node, fn: str) -> bool:
    return node.op is Op.MAP and node.params.fn == fn


# The rules in the order they run, each with whether it is idempotent (see _settle). Deltas and sigmoids go one at a
# time, and a merged power may be a new factor, so those three run again after they applied.
RULES: tuple[tuple[Rule, bool], ...] = (
    (_inline, True),
    (_fold_constants, True),
    (_eliminate_deltas, False),
    (_merge_powers, False),
    (_sigmoid_of_exp, False),
)


# ---- the node ------------------------------------------------------------------------------------------------------

def _canonical(ops: list[Operand], out: tuple, coeff: float, sizes: dict) -> Node:
    shape = tuple(sizes[label] for label in out)
    if coeff != 1.0 or not ops:
        ops = [(make(Op.CONST, (), ConstParams(coeff), ()), ())] + ops
    if len(ops) == 1 and ops[0][1] == out and len(set(out)) == len(out):
        return ops[0][0]
    if len({node.digest for node, _ in ops}) == len(ops):
        ops = sorted(ops, key=lambda op: op[0].digest)    # distinct digests: the pattern never breaks a tie
        in_specs, out_spec = _numbered(ops, out)
    else:
        position = _positions(out)
        ops = sorted(ops, key=lambda op: (op[0].digest, tuple([position.get(label, -1) for label in op[1]])))
        ops, (in_specs, out_spec) = _first_numbering(ops, out, position)
    if len(ops) == 1 and in_specs[0] == out_spec and len(set(out_spec)) == len(out_spec):
        return ops[0][0]     # one operand in its own order, up to its symmetry (S' of a symmetric S)
    params = ContractParams(in_specs, out_spec)
    return make(Op.CONTRACT, tuple([n for n, _ in ops]), params, shape)


def _numbered(ops: Sequence[Operand], out: tuple) -> tuple[tuple, tuple]:
    """(each operand's labels, the output's), renumbered in order of appearance, the output's first."""
    names: dict = {}
    for label in out:
        names.setdefault(label, len(names))
    for _, ix in ops:
        for label in ix:
            if label not in names:
                names[label] = len(names)
    in_specs = tuple([_symmetric_order(node, tuple(map(names.__getitem__, ix))) for node, ix in ops])
    return in_specs, tuple(map(names.__getitem__, out))


MAX_ORDERS = 720   # orders of equal factors tried for the first numbering; beyond, the sorted order is kept


def _first_numbering(ops: list[Operand], out: tuple, position: dict) -> tuple[list[Operand], tuple[tuple, tuple]]:
    """The order of equal factors (the same node, the same pattern of output indices: all summed, say) whose
    numbering comes first, and that numbering: a product and its relabelling then build one node. The gradient of
    norm2(V'*V*x)^2 reaches V'*V*V'*V*x through two chain rules, with the summed indices named two ways; ordering the
    equal factors as they came made two nodes, and their sum was never 2 times one."""
    groups = [list(g) for _, g in itertools.groupby(
        ops, key=lambda op: (op[0].digest, tuple([position.get(label, -1) for label in op[1]])))]
    # equal factors with the same indices (x'*x) number alike in any order
    if all(len({ix for _, ix in g}) == 1 for g in groups) or \
            math.prod(math.factorial(len(g)) for g in groups) > MAX_ORDERS:
        return ops, _numbered(ops, out)
    orders = itertools.product(*map(itertools.permutations, groups))
    first = min(([op for group in order for op in group] for order in orders), key=lambda ops: _numbered(ops, out))
    return first, _numbered(first, out)


def _positions(out: tuple) -> dict:
    # where each output label first appears (out.index), -1 for a summed label: equal factors sort by this pattern
    position: dict = {}
    for k, label in enumerate(out):
        position.setdefault(label, k)
    return position


def _symmetric_order(node: Node, spec: tuple) -> tuple:
    # A' = A for a symmetric matrix: its indices may be listed in either order, so list them sorted. The k-th
    # derivative of det, cofactor(A, k), is symmetric in its k pairs of axes (one pair per differentiation, and the
    # order of differentiation does not matter), so its pairs are listed sorted.
    if len(spec) == 2 and is_symmetric(node):
        return tuple(sorted(spec))
    if node.op is Op.COFACTOR and node.params.order >= 2:
        return tuple(label for pair in sorted(zip(spec[::2], spec[1::2], strict=True)) for label in pair)
    return spec


