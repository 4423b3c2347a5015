"""The data-flow graph of a derivation: nodes u_k with their operation and shape, edges labelled with local
derivatives, the edges that carry the derivative highlighted (and coloured by path when several paths add).

DOT text is always available; SVG/PNG need the optional `graphviz` Python package and Graphviz's `dot` program.
"""
from __future__ import annotations

import shutil

from ..errors import ChainruleError
from .algebra import dims_text
from .model import DerivationData

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


def _quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _path_colours(d: DerivationData) -> dict[tuple[str, str], str]:
    colours: dict[tuple[str, str], str] = {}
    for k, p in enumerate(d.paths or ()):
        for e in p.edges:
            colours.setdefault((e.of, e.copy or e.by), PALETTE[k % len(PALETTE)])
    return colours


def _leaves(d: DerivationData) -> list[str]:
    own = {u.name for u in d.definitions}
    names = [n for u in d.definitions for n in u.operands if n not in own and n in d.scope]
    return list(dict.fromkeys(names or [d.expression]))


def dot(d: DerivationData) -> str:
    """The derivation's data-flow graph in Graphviz's DOT language.

    >>> from chainrule.explain import explain
    >>> dot(explain("sin(x^2)", "x", x="scalar")).splitlines()[0]
    'digraph derivation {'
    """
    lines = ["digraph derivation {", "  rankdir=LR;", '  node [shape=box, fontname="Helvetica"];',
             '  edge [fontname="Helvetica", fontsize=10];']
    lines += _leaf_lines(d) + _node_lines(d) + _edge_lines(d)
    title = f"d({d.expression})/d{d.wrt}: {d.rule} chain rule; result {d.result.text()}"
    if d.summarised:
        title += f" (the first and last of {len(d.steps.intermediates)} intermediates; raise explain_steps for all)"
    lines += [f"  labelloc=t; label={_quote(title)};", "}"]
    return "\n".join(lines) + "\n"


def _leaf_lines(d: DerivationData) -> list[str]:
    lines = []
    for name in _leaves(d):
        shape = dims_text(d.scope[name][0]) if name in d.scope else "1"
        style = ', style=filled, fillcolor="#ffe9a8"' if name == d.wrt else ""
        lines.append(f"  {_quote(name)} [shape=ellipse, label={_quote(f'{name}  ({shape})')}{style}];")
    for e in d.locals:
        if e.copy:   # a shared variable: one copy per use, each fed by the variable itself
            lines.append(f"  {_quote(e.copy)} [shape=ellipse, style=dashed, label={_quote(e.copy)}];")
            lines.append(f"  {_quote(e.by)} -> {_quote(e.copy)} [style=dashed, label=\"copy\"];")
    return lines


def _node_lines(d: DerivationData) -> list[str]:
    lines = []
    for u in d.definitions:
        label = f"{u.name} = {u.formula.text()}\n{u.kind}" + (f"\n({d.y})" if u.name == d.output else "")
        style = ", penwidth=2" if u.on_path else ', color="#999999"'
        lines.append(f"  {_quote(u.name)} [label={_quote(label)}{style}];")
    return lines


def _edge_lines(d: DerivationData) -> list[str]:
    colours = _path_colours(d)
    local = {(e.of, e.by): e for e in d.locals}
    lines = []
    for u in d.definitions:
        for name in dict.fromkeys(u.operands):
            if name not in d.scope:
                continue      # constants are not drawn
            e = local.get((u.name, name))
            if e is None or e.jacobian is None:
                lines.append(f'  {_quote(name)} -> {_quote(u.name)} [color="#bbbbbb"];')
                continue
            source = e.copy or name
            colour = colours.get((u.name, source), "black")
            label = f"∂{u.name}/∂{name} = {e.jacobian.unicode()}"
            lines.append(f"  {_quote(source)} -> {_quote(u.name)} [label={_quote(label)}, color={_quote(colour)}, "
                         f"fontcolor={_quote(colour)}, penwidth=2];")
    return lines


def render_graph(d: DerivationData, fmt: str = "svg") -> bytes:
    """The graph drawn as SVG or PNG (needs `pip install graphviz` and Graphviz's `dot` on the PATH)."""
    try:
        import graphviz
    except ImportError:
        raise ChainruleError(
            "drawing the graph needs the Python package 'graphviz'",
            hint="Install it with `pip install graphviz`, or use the DOT text (--graph dot).") from None
    if shutil.which("dot") is None:
        raise ChainruleError("drawing the graph needs Graphviz's 'dot' program on the PATH",
                             hint="Install Graphviz (e.g. `apt-get install graphviz`), or use the DOT text.")
    return graphviz.Source(dot(d)).pipe(format=fmt)
