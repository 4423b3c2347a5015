"""A data-flow graph as inline SVG: variables on the left, each intermediate one column right of its last operand.

Each node is a `<g class="node" data-node="u1">` (the page makes it clickable; its `<title>` is a tooltip anywhere),
each edge a `<path class="edge" data-from="x" data-to="u1">`. explain/html.py draws a derivation with it (edges that
carry the derivative dark), trace/html.py a trace (the page looks every node's numbers up by its name).

>>> svg = graph_svg([GNode("x", ("x", "scalar"), "wrt"), GNode("u1", ("u1 = sin(x)", "scalar"), "op", True, ("x",))],
...                 [GEdge("x", "u1", True)])
>>> svg.startswith("<svg") and 'data-node="u1"' in svg and 'data-from="x"' in svg
True
"""
from __future__ import annotations

from dataclasses import dataclass
from html import escape

CHAR_W, LINE_H, PAD, GAP_X, GAP_Y, MAX_CHARS = 7.0, 16, 8, 56, 18, 30


@dataclass(frozen=True)
class GNode:
    name: str
    lines: tuple[str, ...]      # the label, one line each
    role: str                   # "variable" | "wrt" | "op" | "output"
    on_path: bool = True
    operands: tuple[str, ...] = ()
    title: str = ""


@dataclass(frozen=True)
class GEdge:
    source: str
    target: str
    on_path: bool
    title: str = ""


def dims_text(dims: tuple) -> str:
    return "×".join(map(str, dims)) if dims else "scalar"


def cut(text: str) -> str:
    return text if len(text) <= MAX_CHARS else text[:MAX_CHARS - 1] + "…"


def _columns(nodes: list[GNode]) -> dict[str, int]:
    """Each node's column: 0 for variables, else one past its rightmost operand (nodes come in evaluation order)."""
    column: dict[str, int] = {}
    for n in nodes:
        column[n.name] = 1 + max((column.get(o, 0) for o in n.operands), default=-1) if n.operands else 0
    return column


def graph_svg(nodes: list[GNode], edges: list[GEdge]) -> str:
    """Lay the nodes out in columns and draw them; returns one <svg> element."""
    column = _columns(nodes)
    width = {n.name: PAD * 2 + CHAR_W * max(len(line) for line in n.lines) for n in nodes}
    height = PAD * 2 + LINE_H * max((len(n.lines) for n in nodes), default=1)
    col_x, x = {}, 10.0
    for c in sorted(set(column.values())):
        col_x[c] = x
        x += max(width[n.name] for n in nodes if column[n.name] == c) + GAP_X
    rows: dict[int, int] = {}
    box = {}
    for n in nodes:
        c = column[n.name]
        k = rows[c] = rows.get(c, -1) + 1
        box[n.name] = (col_x[c], 10.0 + k * (height + GAP_Y), width[n.name], height)
    total_w = x - GAP_X + 10
    total_h = 10 + max(rows.values(), default=0) * (height + GAP_Y) + height + 10
    parts = [(f'<svg xmlns="http://www.w3.org/2000/svg" class="chainrule-graph" width="{total_w:.0f}" '
             f'height="{total_h:.0f}" viewBox="0 0 {total_w:.0f} {total_h:.0f}" font-family="sans-serif" '
             'font-size="12" role="img" aria-label="data-flow graph">'),
             ('<defs><marker id="cr-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
             'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>')]
    parts += [_edge(e, box) for e in edges if e.source in box and e.target in box]
    parts += [_node(n, box[n.name]) for n in nodes]
    parts.append("</svg>")
    return "".join(parts)


def _edge(e: GEdge, box: dict) -> str:
    sx, sy, sw, sh = box[e.source]
    tx, ty, _, th = box[e.target]
    x1, y1, x2, y2 = sx + sw, sy + sh / 2, tx, ty + th / 2
    mid = (x1 + x2) / 2
    colour, width = ("#333", 2) if e.on_path else ("#bbb", 1)
    title = f"<title>{escape(e.title)}</title>" if e.title else ""
    return (f'<path class="edge" data-from="{escape(e.source)}" data-to="{escape(e.target)}" fill="none" '
            f'stroke="{colour}" stroke-width="{width}" marker-end="url(#cr-arrow)" '
            f'd="M{x1:.1f},{y1:.1f} C{mid:.1f},{y1:.1f} {mid:.1f},{y2:.1f} {x2:.1f},{y2:.1f}">{title}</path>')


_FILL = {"wrt": "#ffe9a8", "variable": "#eef3fb", "op": "#ffffff", "output": "#e6f5e9"}


def _node(n: GNode, box: tuple) -> str:
    x, y, w, h = box
    stroke, width = ("#222", 2) if n.on_path else ("#999", 1)
    rx = h / 2 if n.role in ("variable", "wrt") else 4
    grey = ' fill="#555"'
    texts = "".join(f'<text x="{x + PAD:.1f}" y="{y + PAD + LINE_H * (k + 1) - 4:.1f}"{grey if k else ""}>'
                    f'{escape(line)}</text>' for k, line in enumerate(n.lines))
    title = escape(n.title or " ".join(n.lines))
    return (f'<g class="node {n.role}" data-node="{escape(n.name)}" tabindex="0" role="button">'
            f'<title>{title}</title><rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" rx="{rx:.1f}" '
            f'fill="{_FILL[n.role]}" stroke="{stroke}" stroke-width="{width}"/>{texts}</g>')
