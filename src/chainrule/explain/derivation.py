"""Build a step-by-step chain-rule derivation (Parr & Howard's four steps) from the engine's own pieces.

1. intermediate variables: `language.steps.intermediates`;
2. local derivatives: `calculus.jacobian` of each intermediate by each operand (numerator layout, shape U + V);
3. combine: products of local Jacobians along every data-flow path, contracted with `simplify.build.contract`,
   and the same total accumulated forward (from x) or in reverse (from y);
4. substitute the intermediates back and arrive at exactly `chainrule.derivative(f, wrt, layout=...)`.
Nothing is derived by hand: every formula shown is an engine expression.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .. import api
from ..calculus import jacobian
from ..errors import DerivativeError
from ..expr import Expr
from ..ir import Node
from ..language.steps import Intermediate, Steps, intermediates
from ..simplify import build as b
from ..simplify.substitute import substitute
from .algebra import compose, dims_text, in_layout, jacobian_shape, kind_text, mentions
from .rules import rule_name

ORDERS = ("reverse", "forward")
MAX_PATHS = 32
CHAIN_RULES = {
    "constant": "no chain rule: y does not depend on {x}, so the derivative is zero",
    "identity": "no chain rule: y is {x} itself, so the derivative is the identity",
    "single-variable": "single-variable chain rule: {x} reaches y along one data-flow path only, so the local "
                       "derivatives along it multiply (operands off the path do not depend on {x} and act as "
                       "constants)",
    "total-derivative": "single-variable total-derivative chain rule: {x} reaches y along {n} paths, and a change "
                        "in {x} moves y along all of them at once, so the products of the paths add up",
    "vector": "vector chain rule: the local derivatives are Jacobians (vectors and matrices), and the Jacobian of "
              "the composition is their matrix product{paths}",
    "tensor": "tensor chain rule: some intermediates are matrices or tensors, so the Jacobians are generalized "
              "Jacobians of shape (M1×…×MDy)×(N1×…×NDx), and each product sums over the indices of the intermediate "
              "in the middle{paths}",
}


@dataclass(frozen=True)
class Definition:
    """Step 1: u_k, the operation it applies to its operands, and its kind and shape."""
    name: str
    source: str                 # the subexpression as typed
    operands: tuple[str, ...]
    expr: Expr                  # the operation on its operands, e.g. sin(u1)
    shape: tuple
    kind: str
    on_path: bool               # whether the derivative flows through it


@dataclass(frozen=True)
class Local:
    """Step 2: the local Jacobian of intermediate `of` by its operand `by` (one edge of the data-flow graph)."""
    of: str
    by: str
    node: Node                  # numerator layout, shape of.shape + by.shape
    jacobian: Expr              # in the derivation's layout
    shape: str                  # e.g. "1×n"
    rule: str
    copy: str | None = None     # the name of this use of wrt when wrt is used in several places


@dataclass(frozen=True)
class Product:
    """One data-flow path from wrt to y and the product of the local Jacobians along it."""
    edges: tuple[Local, ...]    # from wrt to y
    factors: tuple[Local, ...]  # in the order the product is written
    expr: Expr
    shapes: str                 # e.g. "(1×n)(n×n) → 1×n"


@dataclass(frozen=True)
class Accumulated:
    """One line of the forward (∂u_k/∂x) or reverse (∂y/∂u_k) accumulation: a sum of products of two factors."""
    num: str
    den: str
    terms: tuple[tuple[tuple[str, str], tuple[str, str]], ...]   # ((∂a/∂b), (∂c/∂d)) pairs, in written order
    expr: Expr


@dataclass(frozen=True)
class Copy:
    """A use of a shared variable, treated as its own copy (Goodfellow §6.5), and what flows through it."""
    name: str
    consumer: str
    contribution: Expr          # in the intermediates
    value: Expr                 # in the original variables


@dataclass(frozen=True)
class Substitution:
    name: str
    definition: Expr
    expr: Expr                  # the total after putting the definition in


@dataclass
class Derivation:
    """The whole derivation; print it with .text(), .markdown(), .latex(), .json(), .dot()."""
    expression: str
    wrt: str
    layout: str
    order: str
    output: str
    scope: dict                 # variable name -> (shape, symmetric), the intermediates included
    steps: Steps
    definitions: tuple[Definition, ...]
    locals: tuple[Local, ...]
    rule: str
    reason: str
    copies: tuple[Copy, ...]
    paths: tuple[Product, ...] | None    # None when there are too many to list
    accumulation: tuple[Accumulated, ...]
    total: Expr
    substitutions: tuple[Substitution, ...]
    substituted: Expr
    result: Expr

    @property
    def identical(self) -> bool:
        """Whether substituting back gives the engine's derivative node itself (not only the same values)."""
        return self.substituted.node is self.result.node

    @property
    def all_scalar(self) -> bool:
        return all(not d.shape for d in self.definitions if d.on_path) and not self.scope[self.wrt][0]

    def values(self, at: Mapping[str, object]) -> dict:
        """The values of the variables and of every intermediate, to evaluate any formula of the derivation."""
        values = {k: np.asarray(v, dtype=float) for k, v in at.items()}
        for u in self.steps.intermediates:
            values[u.name] = Expr(u.node, None, self.scope).evaluate(values)
        return values

    def text(self) -> str:
        from .render import render
        return render(self, "text")

    def markdown(self) -> str:
        from .render import render
        return render(self, "markdown")

    def latex(self) -> str:
        from .render import render
        return render(self, "latex")

    def json(self) -> str:
        from .render import render
        return render(self, "json")

    def dot(self) -> str:
        from .graph import dot
        return dot(self)

    def _repr_markdown_(self) -> str:   # Jupyter shows the Markdown rendering, math included
        return self.markdown()

    def __str__(self) -> str:
        return self.text()


def explain(f: Expr | str, wrt: str, layout: str = "numerator", order: str = "reverse",
            **declarations: object) -> Derivation:
    """The step-by-step chain-rule derivation of d f / d wrt, ending in exactly `chainrule.derivative(f, wrt)`.

    >>> d = explain("ln(sin(x^3)^2)", "x", x="scalar")
    >>> [u.name for u in d.definitions], d.rule, d.result.text()
    (['u1', 'u2', 'u3', 'u4'], 'single-variable', '6*x^2*cos(x^3)/sin(x^3)')
    """
    if order not in ORDERS:
        raise DerivativeError(f"unknown order '{order}'", hint="Use 'reverse' (from y back to x) or 'forward'.")
    text, decls = _source(f, declarations)
    expr = api.parse(text, **decls)
    result = api.derivative(expr, wrt, layout=layout)    # also checks wrt and layout
    steps = intermediates(text, decls)
    _check_names(steps)
    return _Builder(text, wrt, layout, order, steps, result).build()


def _source(f: Expr | str, declarations: dict) -> tuple[str, dict]:
    if isinstance(f, str):
        return f, declarations
    # An Expr keeps no source text: its printed form re-parses, with every variable's shape declared.
    decls = {name: ("symmetric" if sym else shape) for name, (shape, sym) in f.variables.items()}
    return f.text(), {**decls, **declarations}


def _check_names(steps: Steps) -> None:
    clash = sorted(n for n in steps.variables if re.fullmatch(r"u\d+", n))
    if clash:
        raise DerivativeError(f"explain names its intermediate variables u1, u2, ..., and the expression has a "
                              f"variable called {clash[0]}", hint="Rename that variable, e.g. to v1.")


class _Builder:
    """Holds what the four steps share while they are built (one derivation, then discarded)."""

    def __init__(self, text: str, wrt: str, layout: str, order: str, steps: Steps, result: Expr):
        self.text, self.wrt, self.layout, self.order, self.steps = text, wrt, layout, order, steps
        self.result = result
        self.scope = {**steps.variables, **{u.name: (u.node.shape, False) for u in steps.intermediates}}
        self.x_shape = steps.variables[wrt][0]
        self.active = self._active()

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
                if v is not None and v.params[0] in self.reached and v.params[0] not in seen:
                    seen.add(v.params[0])      # x.*x: the engine's local derivative already adds both uses
                    edges.append((u, k, v))
        return edges

    # ---- step 1 and 2 ----
    def _definition(self, u: Intermediate) -> Definition:
        expr = Expr(u.local, u.stype.orient, self.scope)
        return Definition(u.name, u.source, u.operands, expr, u.node.shape, kind_text(u.node.shape, u.stype.orient),
                          u in self.active)

    def _local(self, u: Intermediate, k: int, v: Node, copy: str | None) -> Local:
        node = jacobian(u.local, v)
        shown = in_layout(node, u.node.rank, v.rank, self.layout, self.scope)
        shape = jacobian_shape(u.node.shape, v.shape, self.layout)
        return Local(u.name, v.params[0], node, shown, shape, rule_name(u, k), copy)

    def _locals(self) -> list[Local]:
        edges = self._edges()
        uses = [i for i, (_, _, v) in enumerate(edges) if v.params[0] == self.wrt]
        copy = {i: f"{self.wrt}_{n + 1}" for n, i in enumerate(uses)} if len(uses) > 1 else {}
        return [self._local(u, k, v, copy.get(i)) for i, (u, k, v) in enumerate(edges)]

    # ---- step 3 ----
    def _rank(self, name: str) -> int:
        return len(self.scope[name][0])

    def _paths(self, locals_: list[Local]) -> list[list[Local]] | None:
        out: dict[str, list[Local]] = {}
        for e in locals_:
            out.setdefault(e.by, []).append(e)
        found, stack = [], [(self.wrt, [])]
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
        # A numerator-layout product runs from y down to x; the denominator layout transposes every factor, which
        # reverses the order (Goodfellow's (∂y/∂x)' ∇_y z). Scalars commute, so forward order may write x first.
        x_first = self.layout == "denominator" or (self.order == "forward" and self.all_scalar)
        return list(edges) if x_first else list(reversed(edges))

    def _product(self, edges: list[Local]) -> Product:
        node = edges[0].node
        for e in edges[1:]:
            node = compose(e.node, node, self._rank(e.of))
        factors = self._written(edges)
        y_dims, x_dims = self.scope[edges[-1].of][0], self.scope[edges[0].by][0]
        shapes = "".join(f"({f.shape})" for f in factors) + " → " + jacobian_shape(y_dims, x_dims, self.layout)
        return Product(tuple(edges), tuple(factors), self._shown(node, edges[-1].of), shapes)

    def _shown(self, node: Node, of: str, by: str | None = None) -> Expr:
        by = by or self.wrt
        return in_layout(node, self._rank(of), self._rank(by), self.layout, self.scope)

    def _reverse(self, locals_: list[Local]) -> tuple[list[Accumulated], dict[str, Node]]:
        y = self.steps.output
        adjoint = {y: b.identity(self.scope[y][0])}
        lines = [Accumulated("y", y, (), self._shown(adjoint[y], y, y))]
        names = [u.name for u in reversed(self.active) if u.name != y] + [self.wrt]
        for name in names:
            edges = [e for e in locals_ if e.by == name]
            parts = [compose(adjoint[e.of], e.node, self._rank(y)) for e in edges]
            adjoint[name] = b.add(*parts)
            terms = tuple(self._pair(("y", e.of), (e.of, e.by)) for e in edges)
            lines.append(Accumulated("y", name, terms, self._shown(adjoint[name], y, name)))
        return lines, adjoint

    def _forward(self, locals_: list[Local]) -> list[Accumulated]:
        tangent = {self.wrt: b.identity(self.x_shape)}
        lines = []
        for u in self.active:
            edges = [e for e in locals_ if e.of == u.name]
            tangent[u.name] = b.add(*(compose(e.node, tangent[e.by], u.node.rank) for e in edges))
            terms = tuple(self._pair((u.name, e.by), (e.by, self.wrt)) for e in edges)
            lines.append(Accumulated(u.name, self.wrt, terms, self._shown(tangent[u.name], u.name)))
        return lines

    def _pair(self, outer: tuple[str, str], inner: tuple[str, str]) -> tuple:
        x_first = self.layout == "denominator" or (self.order == "forward" and self.all_scalar)
        return (inner, outer) if x_first else (outer, inner)

    def _copies(self, locals_: list[Local], adjoint: dict[str, Node]) -> list[Copy]:
        y = self.steps.output
        copies = []
        for e in (e for e in locals_ if e.copy):
            node = compose(adjoint[e.of], e.node, self._rank(y))
            copies.append(Copy(e.copy, e.of, self._shown(node, y), self._shown(self._substituted(node), y)))
        return copies

    def _classify(self, paths: list | None) -> str:
        if self.steps.output == self.wrt:
            return "identity"
        if not self.active:
            return "constant"
        shapes = [self.x_shape] + [u.node.shape for u in self.active]
        if any(len(s) >= 2 for s in shapes):
            return "tensor"
        if any(shapes):
            return "vector"
        return "single-variable" if paths is not None and len(paths) == 1 else "total-derivative"

    def _reason(self, rule: str, paths: list | None) -> str:
        n = "many" if paths is None else len(paths)
        several = "" if paths is not None and len(paths) <= 1 else f"; {self.wrt} reaches y along {n} paths, " \
                                                                     "whose products add (total derivative)"
        return CHAIN_RULES[rule].format(x=self.wrt, n=n, paths=several)

    # ---- step 4 ----
    def _substituted(self, node: Node) -> Node:
        for u in reversed(self.steps.intermediates):
            if mentions(node, u.name):
                node = substitute(node, {u.name: u.local})
        return node

    def _substitutions(self, total: Node) -> list[Substitution]:
        y = self.steps.output
        lines, node = [], total
        for u in reversed(self.steps.intermediates):
            if mentions(node, u.name):
                node = substitute(node, {u.name: u.local})
                definition = Expr(u.local, u.stype.orient, self.scope)
                lines.append(Substitution(u.name, definition, self._shown(node, y)))
        return lines

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
        products = None if paths is None else tuple(self._product(p) for p in paths)
        reverse, adjoint = self._reverse(locals_) if self.active else ([], {})
        accumulation = reverse if self.order == "reverse" else (self._forward(locals_) if self.active else [])
        total = self._total(adjoint)
        y_rank = self.steps.node.rank
        shown = in_layout(total, y_rank, len(self.x_shape), self.layout, self.scope)
        subs = self._substitutions(total)
        substituted = subs[-1].expr if subs else shown
        rule = self._classify(paths)
        return Derivation(self.text, self.wrt, self.layout, self.order, self.steps.output, self.scope, self.steps,
                          tuple(self._definition(u) for u in self.steps.intermediates), tuple(locals_), rule,
                          self._reason(rule, paths), tuple(self._copies(locals_, adjoint)), products,
                          tuple(accumulation), shown, tuple(subs), substituted, self.result)

    @property
    def all_scalar(self) -> bool:
        return not self.x_shape and all(not u.node.shape for u in self.active)


def shape_of(d: Derivation) -> str:
    """The shape of the final derivative, as the layout shows it."""
    return jacobian_shape(d.steps.node.shape, d.scope[d.wrt][0], d.layout)


__all__ = ["ORDERS", "Derivation", "dims_text", "explain", "shape_of"]
