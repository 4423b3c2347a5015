"""What a derivation holds: plain records, one per step of the four (explain/derivation.py builds them).

The printers (explain/render.py: text, Markdown, LaTeX, JSON; explain/graph.py: the data-flow graph) read these
records and nothing else; `Derivation`, the record explain() returns, adds printing methods that call them.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from ..expr import Expr
from ..ir import Node
from ..language.steps import Steps
from ..notation.formula import Formula
from .algebra import jacobian_shape

SHOWN_AT_ENDS = 5       # a summarised derivation shows this many steps at each end of each list


@dataclass(frozen=True)
class Definition:
    """Step 1: u_k, the operation it applies to its operands, and its kind and shape."""
    name: str
    source: str                 # the subexpression as typed
    operands: tuple[str, ...]
    expr: Expr                  # the operation on fresh variables named after its operands (to evaluate it)
    shape: tuple
    kind: str
    on_path: bool               # whether the derivative flows through it
    formula: Formula            # how it is written, e.g. u1*x (the same formula trace and the graph print)


@dataclass(frozen=True)
class Local:
    """Step 2: the local Jacobian of intermediate `of` by its operand `by` (one edge of the data-flow graph).
    Every Local of a Derivation has all its fields; while it is built, an edge that is not shown has only the names."""
    of: str
    by: str
    node: Node | None           # numerator layout, shape of.shape + by.shape
    jacobian: Expr | None       # in the derivation's layout
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
    definition: Formula
    expr: Expr                  # the total after putting the definition in


@dataclass
class DerivationData:
    """The whole derivation, as data; explain() returns it as a `Derivation` (explain/derivation.py), which prints
    itself. The printers (explain/render.py, explain/graph.py) read these fields."""
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
    y: str = "y"                # the name of the expression's value (another when a variable is called y)
    omitted: int = 0            # intermediates beyond the limit explain_steps (see `summarised`)
    gaps: dict = field(default_factory=dict)   # list name -> how many of its rows a summary left out

    @property
    def identical(self) -> bool:
        """Whether substituting back gives the engine's derivative node itself (not only the same values)."""
        return self.substituted.node is self.result.node

    @property
    def summarised(self) -> bool:
        """Whether the expression has more intermediates than `limits().explain_steps`, so that each long list
        keeps only its first and last steps."""
        return self.omitted > 0

    def values(self, at: Mapping[str, object]) -> dict:
        """The values of the variables and of every intermediate, to evaluate any formula of the derivation."""
        values = {k: np.asarray(v, dtype=float) for k, v in at.items()}
        for u in self.steps.intermediates:      # each from its operands' values: linear in the number of steps
            values[u.name] = Expr(u.local, None, self.scope).evaluate(values)
        return values


def shape_of(d: DerivationData) -> str:
    """The shape of the final derivative, as the layout shows it."""
    return jacobian_shape(d.steps.node.shape, d.scope[d.wrt][0], d.layout)
