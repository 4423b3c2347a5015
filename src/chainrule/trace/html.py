"""A trace as HTML: the sections of trace/render.py as tables, and the forward pass's graph as inline SVG; no script.
Jupyter shows it (`Trace._repr_html_`), and so does the page of `chainrule serve`.

>>> from chainrule.trace import trace
>>> html = trace_html(trace("sin(x)'*y", "x", at={"x": [1.0, 2.0], "y": [3.0, 4.0]}))
>>> html.count("<table") >= 3 and "all checks ok" in html
True
"""
from __future__ import annotations

from html import escape

from ..notation.mathml import STYLE
from ..notation.svg import GEdge, GNode, cut, dims_text, graph_svg
from . import render as trace_render


def trace_html(t, full: bool = False) -> str:
    """The forward and backward tables of a trace (the same sections as its text), and the verdict."""
    lines = trace_render.heading(t, full)
    parts = [f"<h3>{escape(lines[0])}</h3>"] + [f"<p>{escape(line)}</p>" for line in lines[1:]]
    for s in trace_render.sections(t, full):
        head = "".join(f"<th>{escape(h)}</th>" for h in s.headers)
        rows = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in s.rows)
        parts.append(f'<h4>{escape(s.title)}</h4><p><em>{escape(s.note)}</em></p>'
                     f'<table data-section="{escape(s.title)}"><tr>{head}</tr>{rows}</table>')
    verdict = "all checks ok" if t.ok else "MISMATCH: some check failed (see the tables above)"
    if t.not_finite is not None:
        parts.append(f'<p class="bad">not finite: {escape(t.not_finite)}</p>')
    parts.append(f'<p class="{"ok" if t.ok else "bad"}"><strong>{escape(verdict)}</strong></p>')
    return f'<div class="chainrule chainrule-trace">{STYLE}{"".join(parts)}</div>'


def trace_svg(t) -> str:
    """The graph of a trace's forward pass (the same intermediates as explain's)."""
    steps = {s.name for s in t.forward}
    variables = list(dict.fromkeys(n for s in t.forward for n in s.operands if n in t.values and n not in steps))
    nodes = [GNode(n, (n, dims_text(tuple(t.variables.get(n, ())))), "wrt" if n in t.wrt else "variable")
             for n in variables or list(t.values)[:1]]
    edges = []
    for s in t.forward:
        operands = tuple(dict.fromkeys(n for n in s.operands if n in steps or n in t.values))
        role = "output" if s.name == t.output else "op"
        nodes.append(GNode(s.name, (f"{s.name} = {cut(s.formula)}", dims_text(s.dims)), role, True, operands,
                           title=f"{s.name} = {s.source}"))
        edges += [GEdge(n, s.name, True) for n in operands]
    return graph_svg(nodes, edges)
