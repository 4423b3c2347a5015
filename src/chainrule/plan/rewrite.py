"""Rewrites of the IR before it is evaluated or written as code, each chosen by the flop model at the given sizes.

Distribution of a product over a sum: `(T - U*V')*V` becomes `T*V - U*(V'*V)` when that costs fewer multiply-adds
(U and V thin: the gradient of norm2(T-U*V')^2 by U never forms the n×m matrix U*V'). Only a sum that nothing else
reads is distributed: one that is computed anyway (for the value, say) is reused instead.

>>> import chainrule as cr
>>> g = cr.derivative(cr.parse("norm2(T-U*V')^2", U=("n", "r"), V=("m", "r")), "U")
>>> [new], applied = distribute([g.node], {"n": 1000, "m": 1000, "r": 10})
>>> new.op, [sorted(a.params.name for a in term.args if a.op == "var") for term in new.args]
(<Op.ADD: 'add'>, [['T', 'V'], ['U', 'V', 'V']])
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..ir import Node, Op, make, topological
from ..simplify import build as b
from ..simplify.substitute import REBUILD
from .contract import entries, label_dims, product_flops

NOTE = "(A+B)*C distributed as A*C+B*C where cheaper"


def distribute(roots: Sequence[Node], plan_sizes: Mapping[str, int]) -> tuple[list[Node], set[str]]:
    """The roots with products distributed over the sums only they read, where that saves multiply-adds."""
    order = topological(list(roots))
    users: dict[int, int] = {}
    for node in order:
        for arg in set(map(id, node.args)):
            users[arg] = users.get(arg, 0) + 1
    for root in roots:
        users[id(root)] = users.get(id(root), 0) + 1
    new: dict[int, Node] = {}
    applied: set[str] = set()
    for node in order:
        args = [new[id(a)] for a in node.args]
        if any(x is not y for x, y in zip(args, node.args, strict=True)):
            new[id(node)] = REBUILD[node.op](node, args)
            continue
        better = _distributed(node, users, plan_sizes) if node.op is Op.CONTRACT else None
        if better is not None:
            applied.add(NOTE)
        new[id(node)] = better if better is not None else node
    return [new[id(r)] for r in roots], applied


def _distributed(node: Node, users: dict[int, int], sizes: Mapping[str, int]) -> Node | None:
    specs, out = node.params.specs, node.params.out
    dims = label_dims(node)
    for k, arg in enumerate(node.args):
        if arg.op is not Op.ADD or users.get(id(arg), 0) != 1 or any(t.shape != arg.shape for t in arg.args):
            continue
        before = product_flops(node, sizes) + entries(arg.shape, sizes) + sum(
            product_flops(t, sizes) for t in arg.args if t.op is Op.CONTRACT and users.get(id(t), 0) == 1)
        parts = [b.contract([(t if j == k else a, s) for j, (a, s) in enumerate(zip(node.args, specs, strict=True))],
                            out, dims) for t in arg.args]
        after = sum(product_flops(p, sizes) if p.op is Op.CONTRACT else 0 for p in parts) \
            + entries(node.shape, sizes) * (len(parts) - 1)
        if after < before:
            # built as it is: b.add would factor the common C out again, undoing the rewrite
            return make(Op.ADD, tuple(parts), (), node.shape)
    return None

