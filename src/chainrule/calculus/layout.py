"""Layouts: how a generalized Jacobian's indices are ordered and how a one-index result is oriented when printed."""
from __future__ import annotations

from ..ir import Node
from ..simplify import build as b

LAYOUTS = ("numerator", "denominator", "mixed")


def arrange(node: Node, n_f: int, n_x: int, order: int, layout: str) -> tuple[Node, str | None]:
    """(the derivative with its indices in the layout's order, "row"/"col" for a one-index result).

    Numerator: f's indices first (the array convention of JAX). Denominator: x's indices first. Mixed:
    as numerator, but a gradient prints as a column, shaped like its variable.
    """
    if layout == "denominator":
        labels = tuple(range(node.rank))
        node = b.transpose(node, labels[n_f:] + labels[:n_f])
    return node, _orientation(n_f, n_x, order, layout)


def _orientation(n_f: int, n_x: int, order: int, layout: str) -> str | None:
    # A 1-index result is a gradient (index from x) or a vector of derivatives (index from f).
    if n_f + order * n_x != 1:
        return None
    from_x = n_x == 1
    if layout == "numerator":
        return "row" if from_x else "col"
    if layout == "denominator":
        return "col" if from_x else "row"
    return "col"
