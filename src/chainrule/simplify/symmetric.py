"""Which square matrices equal their transpose, read from how they are built.

A product lists a symmetric operand's two indices in one order (S' is S), so that S and S' are one node: the inverse
of a covariance X*X' + s*I then prints and computes once, where inv(K) + inv(K)' was two terms. Symmetric are: a
variable declared so, the identity, a constant matrix, an element-wise function or inverse of a symmetric matrix, a
sum whose terms are symmetric or pair up with their transposes (A + A'), and a product equal to its own transpose
(X'*X, A*S*A' for a symmetric S, diag(v)). Structure is read a few levels deep; deeper matrices count as not
symmetric, which is always sound (their indices keep their order).
"""
from __future__ import annotations

import itertools

from ..ir import Node, Op

DEPTH = 3             # levels of structure read below the matrix asked about
MAX_SUMMED = 4        # a product with more summed indices is not compared (4! renamings)
MAX_TERMS = 8         # a sum with more terms is not paired up


def is_symmetric(node: Node, depth: int = DEPTH) -> bool:
    """node is a square matrix with node' = node (for every value of its variables)."""
    if node.rank != 2 or node.shape[0] != node.shape[1]:
        return False
    if node.op is Op.VAR:
        return node.params.symmetric
    if node.op in (Op.DELTA, Op.CONST):
        return True
    if depth == 0:
        return False
    if node.op in (Op.INV, Op.MAP):             # inv(S)' = inv(S'); f(S) acts on each entry
        return is_symmetric(node.args[0], depth - 1)
    if node.op is Op.ADD:
        return _sum_is_symmetric(node, depth - 1)
    if node.op is Op.CONTRACT:
        return node.params.out[0] == node.params.out[1] or _transposes(node, node, depth - 1)   # diag(v), X'*X
    return False


def _sum_is_symmetric(node: Node, depth: int) -> bool:
    """Every term is symmetric (a scalar term is the same number at every entry), or is the transpose of another
    term, each used once: A + A', X*Y' + Y*X'."""
    unpaired = [a for a in node.args if a.rank and not is_symmetric(a, depth)]
    if len(unpaired) > MAX_TERMS:
        return False
    while unpaired:
        first = unpaired.pop()
        partner = next((k for k, a in enumerate(unpaired) if _transposes(first, a, depth)), None)
        if partner is None:
            return False
        unpaired.pop(partner)
    return True


def _transposes(p: Node, q: Node, depth: int) -> bool:
    """p' = q for matrices p and q, read as products (any other matrix is the product of itself alone): p's output
    indices, exchanged, and some renaming of its summed indices map its operands, with their indices, onto q's (a
    symmetric operand's indices in either order)."""
    p_ops, (p_row, p_column) = _product(p)
    q_ops, (q_row, q_column) = _product(q)
    p_summed = sorted({label for _, spec in p_ops for label in spec} - {p_row, p_column})
    q_summed = sorted({label for _, spec in q_ops for label in spec} - {q_row, q_column})
    if len(p_ops) != len(q_ops) or len(p_summed) != len(q_summed) or len(p_summed) > MAX_SUMMED:
        return False
    either = {id(a): a.rank == 2 and is_symmetric(a, depth) for a, _ in p_ops + q_ops}
    target = _listed(q_ops, {}, either)
    swap = {p_row: q_column, p_column: q_row}
    return any(_listed(p_ops, {**swap, **dict(zip(p_summed, renamed, strict=True))}, either) == target
               for renamed in itertools.permutations(q_summed))


def _product(x: Node) -> tuple[list[tuple[Node, tuple]], tuple]:
    """x as a product: its operands with their indices, and its two output indices."""
    if x.op is Op.CONTRACT:
        return list(zip(x.args, x.params.specs, strict=True)), x.params.out
    return [(x, (0, 1))], (0, 1)


def _listed(ops: list[tuple[Node, tuple]], rename: dict, either: dict) -> list:
    """The operands with their indices renamed, in one order (a symmetric operand's indices sorted)."""
    listed = []
    for a, spec in ops:
        renamed = tuple(rename.get(label, label) for label in spec)
        listed.append((a.digest, tuple(sorted(renamed)) if either[id(a)] else renamed))
    return sorted(listed)
