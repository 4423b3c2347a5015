"""Normal form of the generalized product `contract` (one einsum).

Every constructor result goes through here, so derivatives never hold the forms these rules remove:
nested products are flattened, identities (Kronecker deltas) are absorbed by renaming indices, constants fold into one
coefficient, zeros annihilate, equal factors of a Hadamard product become a power, and
exp(u) .* sigmoid(-u) becomes sigmoid(u) (simplify/stable.py).
"""
from __future__ import annotations

import itertools
from collections.abc import Hashable, Sequence

from ..ir import Node, make
from .stable import sigmoid_of_product

Label = Hashable
Operand = tuple[Node, tuple]


def contract(operands: Sequence[Operand], out: Sequence[Label], dims: dict | None = None) -> Node:
    """The tensor sum_{labels not in out} prod_k operands[k][labels_k], with out's labels in order.

    An output label that no operand carries broadcasts (its size must be in `dims`).
    """
    ops = [(n, tuple(ix)) for n, ix in operands]
    out = tuple(out)
    sizes = _sizes(ops, dims)
    fresh = _fresh(ops, out)
    coeff = 1.0
    for _ in range(64):
        inlined = _inline(ops, out, fresh, sizes)
        folded, c = _fold_constants(inlined, out)
        if c == 0.0:
            return make("const", (), (0.0,), tuple(sizes[i] for i in out))
        coeff *= c
        ops2 = sigmoid_of_product(_merge_powers(_eliminate_deltas(folded, out), out))
        if ops2 == ops:
            break
        ops = ops2
        if ops2 is folded and len(folded) == len(inlined):
            # Only inlining changed the operands. Inlining again finds nothing (it adds operands and fresh labels,
            # which never lets a product it refused fit), so a second pass would repeat this one: settled.
            break
    return _canonical(ops, out, coeff, sizes)


def _sizes(ops: list[Operand], dims: dict | None) -> dict:
    sizes = dict(dims or {})
    for node, ix in ops:
        if len(ix) != node.rank:
            raise ValueError(f"{len(ix)} indices for a rank-{node.rank} operand")
        for label, dim in zip(ix, node.shape, strict=True):
            sizes.setdefault(label, dim)
    return sizes


def _fresh(ops: list[Operand], out: tuple):
    used = set(out).union(*(ix for _, ix in ops))
    return (("_", k) for k in itertools.count() if ("_", k) not in used)


def _occurrences(ops: list[Operand], out: tuple, skip: int = -1) -> dict:
    count: dict = {label: 1 for label in out}
    for k, (_, ix) in enumerate(ops):
        if k != skip:
            for label in ix:
                count[label] = count.get(label, 0) + 1
    return count


MAX_FUSED = 12   # flattening a product longer than this is left undone: a chain of n products stays linear in n


def _inline(ops: list[Operand], out: tuple, fresh, sizes: dict) -> list[Operand]:
    ops = list(ops)
    k = 0
    while k < len(ops):
        node, ix = ops[k]
        fits = node.op == "contract" and len(ops) + len(node.args) <= MAX_FUSED
        if fits and _keeps_labels(node, ix, ops, out, k):
            ops[k:k + 1] = _inline_one(node, ix, fresh, sizes)   # judged against the operands as they are now
        else:
            k += 1
    return ops


def _inline_one(node: Node, ix: tuple, fresh, sizes: dict) -> list[Operand]:
    in_specs, out_spec = node.params
    rename = dict(zip(out_spec, ix, strict=True))
    for spec, arg in zip(in_specs, node.args, strict=True):
        for label, dim in zip(spec, arg.shape, strict=True):
            if label not in rename:
                rename[label] = next(fresh)
                sizes[rename[label]] = dim
    return [(arg, tuple(rename[label] for label in spec)) for spec, arg in zip(in_specs, node.args, strict=True)]


def _keeps_labels(node: Node, ix: tuple, ops: list[Operand], out: tuple, k: int) -> bool:
    # A broadcast label of the inner product that nothing else carries would become a bare sum (a size factor).
    in_specs, out_spec = node.params
    carried = set().union(*in_specs)
    broadcast = [outer for label, outer in zip(out_spec, ix, strict=True) if label not in carried]
    if not broadcast:
        return True       # the usual case: no need to count the other operands' labels
    others = _occurrences(ops, out, skip=k)
    return all(outer in others for outer in broadcast)


def _fold_constants(ops: list[Operand], out: tuple) -> tuple[list[Operand], float]:
    """Constant operands become one coefficient; a filled tensor may go only while every index it carries is
    still carried by something else (else dropping it would drop a sum's number of terms)."""
    coeff, ops = 1.0, list(ops)
    k = 0
    while k < len(ops):
        node, ix = ops[k]
        if node.op == "const" and node.params[0] == 0.0:
            return [], 0.0
        if node.op == "const" and set(ix) <= _occurrences(ops, out, skip=k).keys():
            coeff *= node.params[0]
            del ops[k]
        else:
            k += 1
    return ops, coeff


def _eliminate_deltas(ops: list[Operand], out: tuple) -> list[Operand]:
    for k, (node, ix) in enumerate(ops):
        if node.op != "delta" or ix[0] == ix[1]:
            continue
        others = _occurrences(ops, out, skip=k)
        rest = ops[:k] + ops[k + 1:]
        for keep, gone in (ix, ix[::-1]):
            if gone not in out and (others.get(gone, 0) or others.get(keep, 0)):
                # sum_gone delta(keep, gone) * T[..gone..] = T[..keep..]
                return [(n, tuple(keep if label == gone else label for label in jx)) for n, jx in rest]
    return ops


def _merge_powers(ops: list[Operand], out: tuple) -> list[Operand]:
    # x^a .* x^b = x^(a+b) for factors on the same indices (a true Hadamard product, not a final dot product)
    if len(ops) < 2:
        return ops
    groups: dict = {}
    for k, (node, ix) in enumerate(ops):
        if node.op == "const" or node.op == "delta":
            continue
        base, exponent = _as_power(node) if node.op == "pow" else (node, 1.0)
        groups.setdefault((id(base), ix), []).append((k, base, exponent))
    candidates = [g for g in groups.values() if len(g) > 1]
    if not candidates:
        return ops
    count = _occurrences(ops, out)
    merged = [g for g in candidates if _is_hadamard(ops[g[0][0]][1], count, len(g))]
    if not merged:
        return ops
    from .build import const, power
    drop = {k for g in merged for k, _, _ in g}
    result = [op for k, op in enumerate(ops) if k not in drop]
    for g in merged:
        result.append((power(g[0][1], const(sum(e for _, _, e in g))), ops[g[0][0]][1]))
    return result


def _as_power(node: Node) -> tuple[Node, float | None]:
    if node.op == "pow" and node.args[1].op == "const" and node.args[1].rank == 0:
        return node.args[0], node.args[1].params[0]
    if node.op in ("const", "delta"):
        return node, None
    return node, 1.0


def _is_hadamard(ix: tuple, count: dict, group_size: int) -> bool:
    return all(count[label] > group_size for label in ix)


def _canonical(ops: list[Operand], out: tuple, coeff: float, sizes: dict) -> Node:
    shape = tuple(sizes[label] for label in out)
    if coeff != 1.0 or not ops:
        ops = [(make("const", (), (coeff,), ()), ())] + ops
    if len(ops) == 1 and ops[0][1] == out and len(set(out)) == len(out):
        return ops[0][0]
    if len({node.digest for node, _ in ops}) == len(ops):
        ops = sorted(ops, key=lambda op: op[0].digest)    # distinct digests: the pattern never breaks a tie
    else:
        position = _positions(out)
        ops = sorted(ops, key=lambda op: (op[0].digest, tuple(position.get(label, -1) for label in op[1])))
    names: dict = {}
    for label in out:
        names.setdefault(label, len(names))
    for _, ix in ops:
        for label in ix:
            if label not in names:
                names[label] = len(names)
    in_specs = tuple(_symmetric_order(node, tuple([names[label] for label in ix])) for node, ix in ops)
    params = (in_specs, tuple([names[label] for label in out]))
    return make("contract", tuple([n for n, _ in ops]), params, shape)


def _positions(out: tuple) -> dict:
    # where each output label first appears (out.index), -1 for a summed label: equal factors sort by this pattern
    position: dict = {}
    for k, label in enumerate(out):
        position.setdefault(label, k)
    return position



def _symmetric_order(node: Node, spec: tuple) -> tuple:
    # A' = A for a symmetric matrix: its indices may be listed in either order, so list them sorted.
    return tuple(sorted(spec)) if node.op == "var" and node.params[1] and len(spec) == 2 else spec
