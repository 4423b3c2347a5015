"""Printing: IR -> matrix notation (orientation from the layout) -> text, Unicode or LaTeX; index notation fallback."""
from __future__ import annotations

from ..ir import Node, topological
from . import mast as m
from .from_ir import to_mast
from .render import STYLES, Renderer

__all__ = ["render", "shown_tree", "to_mast"]


def shown_tree(node: Node, orient: str | None) -> m.M:
    tree = to_mast(node)
    return m.transpose(tree) if orient == "row" else tree


# Written out in full, a deep expression repeats its shared parts: past this many nodes, name them instead.
AUTO_CSE_SIZE = 20_000


def render(expr, style: str = "text", cse: bool = False) -> str:
    tree = shown_tree(expr.node, expr.orient)
    if not cse and tree.size <= AUTO_CSE_SIZE:
        return Renderer(STYLES[style]).render(tree)
    return _render_with_names(tree, style)


def _render_with_names(tree: m.M, style: str) -> str:
    order = topological([tree])
    uses = {id(tree): 1}
    for node in reversed(order):
        for child in node.args:
            uses[id(child)] = uses.get(id(child), 0) + uses.get(id(node), 0)
    shared = [n for n in order if uses.get(id(n), 0) > 1 and n.size >= 4 and n is not tree and not _thin(n)]
    names = {id(n): f"t{k}" for k, n in enumerate(shared)}
    renderer = Renderer(STYLES[style], names)
    assign = {"text": " = ", "unicode": " = ", "latex": " &= "}[style]
    lines = [names[id(n)] + assign + renderer.render(n, define=True) for n in shared]
    lines.append(renderer.render(tree, define=True))
    separator = " \\\\\n" if style == "latex" else "\n"
    return separator.join(lines)


def _thin(n: m.M) -> bool:
    """A transpose or a scaled copy of something: naming it would only add a line."""
    return n.kind == "T" or (n.kind == "mm" and len(n.args) == 2 and m.is_num(n.args[0]))
