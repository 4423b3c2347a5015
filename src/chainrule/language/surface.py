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
