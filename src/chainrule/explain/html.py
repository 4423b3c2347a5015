"""A derivation as HTML: explain's own outline (render.outline) with MathML formulas, and the data-flow graph as
inline SVG; no script, no network. Jupyter shows it (`Derivation._repr_html_`), and so does the page of
`chainrule serve`.

>>> from chainrule.explain import explain
>>> html = derivation_html(explain("sin(x^2)", "x", x="scalar"))
>>> "Step 4" in html and "<math" in html and 'data-node="u1"' in html
True
"""
from __future__ import annotations

from html import escape

from ..notation.mathml import STYLE, to_mathml
from ..notation.svg import GEdge, GNode, cut, dims_text, graph_svg
from .render import GAP, Math, outline

# ---- a derivation: explain's outline, one writer per kind of block ----

def _segment(seg) -> str:
    if isinstance(seg, tuple):
        return to_mathml(seg[1]) if seg[0] == "m" else f"<code>{escape(seg[1])}</code>"
    return escape(seg)


def _equations(lines: list) -> str:
    rows = []
    for lhs, rhs in lines:
        if (lhs, rhs) == GAP:
            rows.append('<tr><td></td><td>⋮</td><td></td></tr>')
            continue
        left = to_mathml(lhs) if lhs else ""
        rows.append(f'<tr><td class="lhs">{left}</td><td>=</td><td>{to_mathml(rhs)}</td></tr>')
    return f'<table class="eq">{"".join(rows)}</table>'


_WRITERS = {
    "title": lambda title: f"<h3>{escape(title)}</h3>",
    "h": lambda title: f"<h4>{escape(title)}</h4>",
    "p": lambda prose: f"<p>{escape(prose)}</p>",
    "items": lambda rows: "<ul>" + "".join("<li>" + " · ".join(map(_segment, row)) + "</li>" for row in rows) + "</ul>",
    "eq": _equations,
}


def derivation_html(d, graph: bool = True) -> str:
    """explain's four steps with MathML formulas, and (graph=True) the data-flow graph as inline SVG."""
    d_symbol = "d" if d.rule == "single-variable" else "∂"
    blocks = outline(d, Math(True, d_symbol)).blocks
    body = "".join(_WRITERS[kind](content) for kind, content in blocks)
    if graph:
        body += f'<h4>Data-flow graph</h4><div class="graph">{derivation_svg(d)}</div>'
    return f'<div class="chainrule chainrule-derivation">{STYLE}{body}</div>'


def derivation_svg(d) -> str:
    """The graph of explain's derivation: the same intermediates, edges on the derivative's path highlighted."""
    local = {(e.of, e.by): e for e in d.locals}
    names = {u.name for u in d.definitions}
    variables = list(dict.fromkeys(n for u in d.definitions for n in u.operands if n in d.scope and n not in names))
    if not d.definitions:
        variables = [n for n in d.scope if n == d.wrt] or list(d.scope)[:1]
    nodes = [GNode(n, (n, dims_text(d.scope[n][0])), "wrt" if n == d.wrt else "variable") for n in variables]
    edges = []
    for u in d.definitions:
        role = "output" if u.name == d.output else "op"
        operands = tuple(dict.fromkeys(n for n in u.operands if n in d.scope))
        nodes.append(GNode(u.name, (f"{u.name} = {cut(u.formula.unicode())}", u.kind), role, u.on_path, operands,
                           title=f"{u.name} = {u.source}"))
        for n in operands:
            e = local.get((u.name, n))
            title = f"∂{u.name}/∂{n} = {e.jacobian.unicode()}" if e is not None and e.jacobian is not None else ""
            edges.append(GEdge(n, u.name, e is not None, title))
    return graph_svg(nodes, edges)
