"""Build a step-by-step chain-rule derivation (Parr & Howard's four steps) from the engine's own pieces.

1. intermediate variables: `language.steps.intermediates`;
2. local derivatives: `calculus.jacobian` of each intermediate by each operand (numerator layout, shape U + V);
3. combine: products of local Jacobians along every data-flow path, contracted with `simplify.build.contract`,
   and the same total accumulated forward (from x) or in reverse (from y);
4. substitute the intermediates back and arrive at exactly `chainrule.derivative(f, wrt, layout=...)`.
Nothing is derived by hand: every formula shown is an engine expression.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from .. import api, boundary
from ..calculus import jacobian
from ..errors import DerivativeError
from ..expr import Expr
from ..ir import Node, topological
from ..language.steps import Intermediate, Steps, check_names, intermediates, source
from ..limits import current_limits
from ..notation import mathml
from ..notation.formula import formula
from ..simplify import build as b
from ..simplify.substitute import substitute
from . import graph, html
from .algebra import compose, dims_text, in_layout, jacobian_shape, kind_text
from .model import (
    SHOWN_AT_ENDS,
    Accumulated,
    Copy,
    Definition,
    DerivationData,
    Local,
    Product,
    Substitution,
    shape_of,
)
from .render import render
from .rules import rule_name

ORDERS = ("reverse", "forward")
MAX_PATHS = 32
CHAIN_RULES = {
    "constant": "no chain rule: {y} does not depend on {x}, so the derivative is zero",
    "identity": "no chain rule: {y} is {x} itself, so the derivative is the identity",
    "single-variable": "single-variable chain rule: {x} reaches {y} along one data-flow path only, so the local "
                       "derivatives along it multiply (operands off the path do not depend on {x} and act as "
                       "constants)",
    "total-derivative": "single-variable total-derivative chain rule: {x} reaches {y} along {n} paths, and a change "
                        "in {x} moves {y} along all of them at once, so the products of the paths add up",
    "vector": "vector chain rule: the local derivatives are Jacobians (vectors and matrices), and the Jacobian of "
              "the composition is their matrix product{paths}",
    "tensor": "tensor chain rule: some intermediates are matrices or tensors, so the Jacobians are generalized "
              "Jacobians of shape (M1×…×MDy)×(N1×…×NDx), and each product sums over the indices of the intermediate "
              "in the middle{paths}",
}


class Derivation(DerivationData):
    """The whole derivation; print it with .text(), .markdown(), .latex(), .json(), .dot()."""

    def text(self) -> str:
        return render(self, "text")

    def markdown(self) -> str:
        return render(self, "markdown")

    def latex(self) -> str:
        return render(self, "latex")

    def json(self) -> str:
        return render(self, "json")

    def dot(self) -> str:
        return graph.dot(self)

    def _repr_markdown_(self) -> str:   # Jupyter shows the Markdown rendering, math included
        return self.markdown()

    def _repr_html_(self) -> str | None:
        """Jupyter: the steps with MathML formulas and the graph as inline SVG (None without latex2mathml)."""
        return html.derivation_html(self) if mathml.available() else None

    def __str__(self) -> str:
        return self.text()


def explain(f: Expr | str, wrt: str, /, layout: str = "numerator", order: str = "reverse", *,
            declarations: Mapping[str, object] | None = None, **kinds: object) -> Derivation:
    """The step-by-step chain-rule derivation of d f / d wrt, ending in exactly `chainrule.derivative(f, wrt)`.
    Declarations as keywords, as a mapping, or both (the mapping serves variables called `layout`, `order`, ...).

    >>> d = explain("ln(sin(x^3)^2)", "x", x="scalar")
    >>> [u.name for u in d.definitions], d.rule, d.result.text()
    (['u1', 'u2', 'u3', 'u4'], 'single-variable', '6*x^2*cos(x^3)/sin(x^3)')
    """
    if not isinstance(order, str) or order not in ORDERS:
        raise DerivativeError(f"unknown order '{order}'", hint="Use 'reverse' (from y back to x) or 'forward'.")
    wrt = boundary.name(wrt, "the variable explain differentiates by")
    text, decls = source(f, boundary.declarations(declarations, kinds), "explain")
    expr = api.parse(text, decls)
    result = api.derivative(expr, wrt, layout=layout)    # also checks wrt and layout
    steps = intermediates(text, decls)
    check_names(steps)
    return _Builder(text, wrt, layout, order, steps, result).build()


class _Builder:
    """Holds what the four steps share while they are built (one derivation, then discarded)."""

    def __init__(self, text: str, wrt: str, layout: str, order: str, steps: Steps, result: Expr):
        self.text, self.wrt, self.layout, self.order, self.steps = text, wrt, layout, order, steps
        self.result = result
        self.scope = {**steps.variables, **{u.name: (u.shape, False) for u in steps.intermediates}}
        self.x_shape = steps.variables[wrt][0]
        self.y = steps.free_name("y")
        self.active = self._active()
        self.on_path = {u.name for u in self.active}
        self.by_name = {u.name: u for u in steps.intermediates}
        all_scalar = not self.x_shape and all(not u.shape for u in self.active)
        # A numerator-layout product runs from y down to x; the denominator layout transposes every factor, which
        # reverses the order (Goodfellow's (∂y/∂x)' ∇_y z). Scalars commute, so forward order may write x first.
        self.x_first = layout == "denominator" or (order == "forward" and all_scalar)
        self.limit = current_limits().explain_steps
        self.omitted = max(0, len(steps.intermediates) - self.limit)
        self.gaps: dict[str, int] = {}
        self.jacobians: dict[tuple[str, str], Node] = {}

    # ---- which intermediates and edges carry the derivative ----
    def _active(self) -> list[Intermediate]:
        reached = {self.wrt}
        for u in self.steps.intermediates:
            if reached.intersection(u.operands):
                reached.add(u.name)
        needed = {self.steps.output}
        for u in reversed(self.steps.intermediates):
            if u.name in needed:
                needed.update(u.operands)
        self.reached = reached
        return [u for u in self.steps.intermediates if u.name in reached and u.name in needed]

    def _edges(self) -> list[tuple[Intermediate, int, Node]]:
        edges = []
        for u in self.active:
            seen = set()
            for k, v in enumerate(u.operand_vars):
                if v is not None and v.params.name in self.reached and v.params.name not in seen:
                    seen.add(v.params.name)      # x.*x: the engine's local derivative already adds both uses
                    edges.append((u, k, v))
        return edges

    # ---- step 1 and 2 ----
    def _definition(self, u: Intermediate) -> Definition:
        expr = Expr(u.local, u.stype.orient, self.scope)
        return Definition(u.name, u.source, u.operands, expr, u.shape, kind_text(u.shape, u.stype.orient),
                          u.name in self.on_path, formula(u))

    def _local(self, u: Intermediate, v: Node, copy: str | None) -> Local:
        # an edge only: its Jacobian is taken when needed (_node), printed only if it is shown (_shown_local)
        return Local(u.name, v.params.name, None, None, "", "", copy)

    def _node(self, e: Local) -> Node:
        """The local Jacobian of an edge, numerator layout (taken once)."""
        key = (e.of, e.by)
        if key not in self.jacobians:
            u = self.by_name[e.of]
            fresh = next(v for v in u.operand_vars if v is not None and v.params.name == e.by)
            self.jacobians[key] = jacobian(u.local, fresh)
        return self.jacobians[key]

    def _shown_local(self, e: Local) -> Local:
        u = self.by_name[e.of]
        k = next(k for k, v in enumerate(u.operand_vars) if v is not None and v.params.name == e.by)
        node = self._node(e)
        shown = in_layout(node, u.local.rank, self._rank(e.by), self.layout, self.scope)
        shape = jacobian_shape(u.shape, self.scope[e.by][0], self.layout)
        return dataclasses.replace(e, node=node, jacobian=shown, shape=shape, rule=rule_name(u, k))

    def _locals(self) -> list[Local]:
        edges = self._edges()
        uses = [i for i, (_, _, v) in enumerate(edges) if v.params.name == self.wrt]
        copy = {i: f"{self.wrt}_{n + 1}" for n, i in enumerate(uses)} if len(uses) > 1 else {}
        return [self._local(u, v, copy.get(i)) for i, (u, _, v) in enumerate(edges)]

    # ---- step 3 ----
    def _rank(self, name: str) -> int:
        return len(self.scope[name][0])

    def _paths(self, locals_: list[Local]) -> list[list[Local]] | None:
        out: dict[str, list[Local]] = {}
        for e in locals_:
            out.setdefault(e.by, []).append(e)
        found: list[list[Local]] = []
        stack: list[tuple[str, list[Local]]] = [(self.wrt, [])]
        while stack:
            name, path = stack.pop()
            if name == self.steps.output and path:
                found.append(path)
                if len(found) > MAX_PATHS:
                    return None
                continue
            stack.extend((e.of, path + [e]) for e in reversed(out.get(name, [])))
        return found

    def _written(self, edges: list[Local]) -> list[Local]:
        return list(edges) if self.x_first else list(reversed(edges))

    def _product(self, edges: list[Local]) -> Product:
        node = self._node(edges[0])
        for e in edges[1:]:
            node = compose(self._node(e), node, self._rank(e.of))
        factors = [self._shown_local(e) for e in self._written(edges)]
        y_dims, x_dims = self.scope[edges[-1].of][0], self.scope[edges[0].by][0]
        shapes = "".join(f"({f.shape})" for f in factors) + " → " + jacobian_shape(y_dims, x_dims, self.layout)
        return Product(tuple(edges), tuple(factors), self._shown(node, edges[-1].of), shapes)

    def _shown(self, node: Node, of: str, by: str | None = None) -> Expr:
        by = by or self.wrt
        return in_layout(node, self._rank(of), self._rank(by), self.layout, self.scope)

    def _reverse(self, locals_: list[Local]) -> tuple[list[Accumulated], dict[str, Node]]:
        y = self.steps.output
        adjoint = {y: b.identity(self.scope[y][0])}
        into = _grouped(locals_, "by")
        rows: list[tuple[str, tuple, Node]] = [(y, (), adjoint[y])]
        names = [u.name for u in reversed(self.active) if u.name != y] + [self.wrt]
        for k, name in enumerate(names):
            edges = into.get(name, [])
            terms = tuple(self._pair((self.y, e.of), (e.of, e.by)) for e in edges)
            if self.omitted and len(rows) > SHOWN_AT_ENDS:     # the rest is the engine's result
                end = tuple(self._pair((self.y, e.of), (e.of, e.by)) for e in into.get(self.wrt, []))
                return self._ending(rows, (self.y, self.wrt), len(names) - k - 1, end), adjoint
            adjoint[name] = b.add(*(compose(adjoint[e.of], self._node(e), self._rank(y)) for e in edges))
            rows.append((name, terms, adjoint[name]))
        kept = self._kept(rows, "accumulation")
        return [Accumulated(self.y, name, terms, self._shown(node, y, name)) for name, terms, node in kept], adjoint

    def _forward(self, locals_: list[Local]) -> list[Accumulated]:
        tangent = {self.wrt: b.identity(self.x_shape)}
        out_of = _grouped(locals_, "of")
        rows: list[tuple[str, tuple, Node]] = []
        for k, u in enumerate(self.active):
            edges = out_of.get(u.name, [])
            terms = tuple(self._pair((u.name, e.by), (e.by, self.wrt)) for e in edges)
            if self.omitted and len(rows) >= SHOWN_AT_ENDS:
                last = self.active[-1].name
                end = tuple(self._pair((last, e.by), (e.by, self.wrt)) for e in out_of.get(last, []))
                return self._ending(rows, (last, self.wrt), len(self.active) - k - 1, end)
            tangent[u.name] = b.add(*(compose(self._node(e), tangent[e.by], u.local.rank) for e in edges))
            rows.append((u.name, terms, tangent[u.name]))
        return [Accumulated(name, self.wrt, terms, self._shown(node, name))
                for name, terms, node in self._kept(rows, "accumulation")]

    def _ending(self, rows: list, last: tuple[str, str], left_out: int, terms: tuple) -> list[Accumulated]:
        """A summarised accumulation: its first steps, then its last one, whose value is the engine's derivative."""
        self.gaps["accumulation"] = left_out
        reverse = self.order == "reverse"
        first = [Accumulated(self.y if reverse else name, name if reverse else self.wrt, t,
                             self._shown(node, self.steps.output, name) if reverse else self._shown(node, name))
                 for name, t, node in rows]
        return first + [Accumulated(*last, terms, self.result)]

    def _pair(self, outer: tuple[str, str], inner: tuple[str, str]) -> tuple:
        return (inner, outer) if self.x_first else (outer, inner)

    def _kept(self, rows: Sequence, key: str) -> list:
        """All rows, or only the first and last few when the derivation is summarised (noted in self.gaps)."""
        if not self.omitted or len(rows) <= 2 * SHOWN_AT_ENDS:
            return list(rows)
        self.gaps[key] = len(rows) - 2 * SHOWN_AT_ENDS
        return list(rows[:SHOWN_AT_ENDS]) + list(rows[-SHOWN_AT_ENDS:])

    def _copies(self, locals_: list[Local], adjoint: dict[str, Node]) -> list[Copy]:
        y = self.steps.output
        copies = []
        for e in self._kept([e for e in locals_ if e.copy], "copies"):
            node = compose(adjoint[e.of], self._node(e), self._rank(y))
            copies.append(Copy(e.copy, e.of, self._shown(node, y), self._shown(self._substituted(node), y)))
        return copies

    def _classify(self, paths: list | None) -> str:
        if self.steps.output == self.wrt:
            return "identity"
        if not self.active:
            return "constant"
        shapes = [self.x_shape] + [u.shape for u in self.active]
        if any(len(s) >= 2 for s in shapes):
            return "tensor"
        if any(shapes):
            return "vector"
        return "single-variable" if paths is not None and len(paths) == 1 else "total-derivative"

    def _reason(self, rule: str, paths: list | None) -> str:
        n = "many" if paths is None else len(paths)
        several = "" if paths is not None and len(paths) <= 1 else f"; {self.wrt} reaches {self.y} along {n} paths, " \
                                                                     "whose products add (total derivative)"
        return CHAIN_RULES[rule].format(x=self.wrt, y=self.y, n=n, paths=several)

    # ---- step 4 ----
    def _substituted(self, node: Node) -> Node:
        # the last node of the walk has every intermediate put back
        return next(reversed([put for _, put in self._putting_back(node)]), node)

    def _putting_back(self, node: Node):
        """(u, the node with u put back) for each intermediate the node mentions, from the last one."""
        present = _names(node)
        for u in reversed(self.steps.intermediates):
            if u.name in present:
                node = substitute(node, {u.name: u.local})
                present = _names(node)
                yield u, node

    def _substitutions(self, total: Node) -> list[Substitution]:
        y = self.steps.output
        return [Substitution(u.name, formula(u), self._shown(node, y)) for u, node in self._putting_back(total)]

    def _total(self, adjoint: dict[str, Node]) -> Node:
        y = self.steps.output
        if y == self.wrt:
            return b.identity(self.x_shape)
        if not self.active:
            return b.zeros(self.steps.node.shape + self.x_shape)
        return adjoint[self.wrt]

    def build(self) -> Derivation:
        locals_ = self._locals()
        paths = self._paths(locals_) if self.active else []
        # a summarised derivation lists no path: each would be as long as the expression
        products = None if paths is None or self.omitted else tuple(self._product(p) for p in paths)
        reverse, adjoint = self._reverse(locals_) if self.active else ([], {})
        accumulation = reverse if self.order == "reverse" else (self._forward(locals_) if self.active else [])
        if self.omitted:   # the total is the engine's derivative: every intermediate is put back at once
            shown, subs, substituted, copies = self.result, [], self.result, []
        else:
            total = self._total(adjoint)
            shown = in_layout(total, self.steps.node.rank, len(self.x_shape), self.layout, self.scope)
            subs = self._substitutions(total)
            substituted = subs[-1].expr if subs else shown
            copies = self._copies(locals_, adjoint)
        rule = self._classify(paths)
        definitions = tuple(self._definition(u) for u in self._kept(self.steps.intermediates, "definitions"))
        return Derivation(self.text, self.wrt, self.layout, self.order, self.steps.output, self.scope, self.steps,
                          definitions, tuple(map(self._shown_local, self._kept(locals_, "locals"))), rule,
                          self._reason(rule, paths), tuple(copies), products, tuple(accumulation), shown,
                          tuple(subs), substituted, self.result, self.y, self.omitted, self.gaps)


def _grouped(locals_: list[Local], key: str) -> dict[str, list[Local]]:
    groups: dict[str, list[Local]] = {}
    for e in locals_:
        groups.setdefault(getattr(e, key), []).append(e)
    return groups


def _names(node: Node) -> set[str]:
    return {n.params.name for n in topological([node]) if n.op == "var"}



__all__ = ["ORDERS", "Derivation", "dims_text", "explain", "shape_of"]
