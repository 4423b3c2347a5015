"""Printing: IR -> matrix notation (orientation from the layout) -> text, Unicode or LaTeX; index notation fallback."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from ..ir import Node
from . import mast as m
from .from_ir import to_mast
from .index import IndexForm, index_form
from .render import render_tree

__all__ = ["IndexForm", "index_form", "render", "shown_tree", "to_mast"]


class Shown(Protocol):
    """What is printed: an IR node, and how a vector result is oriented ("row", "col" or None)."""
    @property
    def node(self) -> Node: ...

    @property
    def orient(self) -> str | None: ...


def shown_tree(node: Node, orient: str | None, variables: Mapping | None = None) -> m.M:
    """The notation of node; `variables` (name -> (shape, symmetric)) name the sizes it holds: size(X, 2)."""
    tree = to_mast(node, variables)
    return m.transpose(tree) if orient == "row" else tree


def render(expr: Shown, style: str = "text", cse: bool = False) -> str:
    """expr in the style called `style` ("text", "unicode" or "latex"); see render.render_tree for cse."""
    return render_tree(shown_tree(expr.node, expr.orient, getattr(expr, "variables", None)), style, cse)
