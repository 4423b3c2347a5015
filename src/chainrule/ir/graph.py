"""Iterative graph walks: deep expressions must never hit Python's recursion limit."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from .node import Node
from .ops import Op

T = TypeVar("T")


def topological(roots: Iterable[Node]) -> list[Node]:
    """Every node reachable from roots, each after its operands."""
    order: list[Node] = []
    seen: set[int] = set()
    stack: list[tuple[Node, bool]] = [(r, False) for r in reversed(list(roots))]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        stack.extend((a, False) for a in reversed(node.args) if id(a) not in seen)
    return order


def fold(root: Node, combine: Callable[[Node, list[T]], T]) -> T:
    """Bottom-up evaluation: combine(node, results of its operands), each node once."""
    results: dict[int, T] = {}
    for node in topological([root]):
        results[id(node)] = combine(node, [results[id(a)] for a in node.args])
    return results[id(root)]


def variables(root: Node) -> dict[str, Node]:
    """The variable nodes of an expression, by name."""
    return {n.params.name: n for n in topological([root]) if n.op is Op.VAR}


def depends_on(root: Node, target: Node) -> set[int]:
    """Ids of the nodes of root's graph whose value depends on target."""
    deps: set[int] = set()
    for node in topological([root]):
        if node is target or any(id(a) in deps for a in node.args):
            deps.add(id(node))
    return deps
