"""The surface syntax tree: what the text says, with positions, before shapes are known."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, eq=False)
class Syntax:
    op: str                      # number, name, call, stack, add, sub, mul, div, emul, ediv, neg, pow, epow, transpose
    args: tuple[Syntax, ...]
    start: int
    end: int
    value: Any = None            # the number, the name, or the called function's name


def bracket(rows: list[list[Syntax]], start: int, end: int) -> Syntax:
    """[...] from the rows of its blocks: [a; b] a stack, [a, b] a row, [A, B; C, D] a stack of rows (each row spans
    its blocks, the brackets span start to end)."""
    if len(rows) == 1 and len(rows[0]) > 1:
        return Syntax("row", tuple(rows[0]), start, end)
    parts = [r[0] if len(r) == 1 else Syntax("row", tuple(r), r[0].start, r[-1].end) for r in rows]
    return Syntax("stack", tuple(parts), start, end)


def walk(root: Syntax) -> list[Syntax]:
    """Every node once, operands before the node (iterative)."""
    # A pre-order that visits the last operand first, reversed: operands before the node, left to right.
    order: list[Syntax] = []
    stack = [root]
    while stack:
        node = stack.pop()
        order.append(node)
        stack.extend(node.args)
    order.reverse()
    return order


def names_under(node: Syntax) -> list[str]:
    return [n.value for n in walk(node) if n.op == "name"]
