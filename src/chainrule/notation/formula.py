"""The formula of one intermediate variable (`u2 = u1*x`), as explain, trace and the graph all print it.

It is built from the intermediate's operation and operands as written, not from its IR: in the IR a vector has no
orientation, so `w'*x` with u1 = w' would print as `x'*u1`, a row times a row. Each operand is a leaf with its own
orientation (u1 is a row), and the one operation is written literally (no reordering or simplification), so the text
re-parses, with the intermediates declared, to the same operation.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..ir import Node
from ..language.rules import CONSTANTS
from ..language.steps import Intermediate, Operand
from ..language.types import SType
from . import mast as m
from .from_ir import index_items, to_mast
from .mast import M
from .render import STYLES, Renderer


@dataclass(frozen=True)
class Formula:
    """Prints like an `Expr` (text, Unicode, LaTeX), but is only ever printed."""
    tree: M
    shape: tuple

    def text(self) -> str:
        return Renderer(STYLES["text"]).render(self.tree)

    def unicode(self) -> str:
        return Renderer(STYLES["unicode"]).render(self.tree)

    def latex(self) -> str:
        return Renderer(STYLES["latex"]).render(self.tree)

    def __str__(self) -> str:
        return self.text()


def orient_of(stype: SType | None) -> str:
    if stype is None or stype.rank == 0:
        return "s"
    if stype.rank == 1:
        return "r" if stype.orient == "row" else "c"
    return "m" if stype.rank == 2 else "t"


def _leaf(a: Operand) -> M:
    if a.step is not None:                    # an operation fused into this step: written out, as typed
        return tree(a.step)
    if a.stype is None and a.name == "[]":     # max(X, [], d)'s placeholder, written as typed
        return m.mk("sym", (), ("[]", False), "s")
    if a.stype is None:                       # a size given as text: vector(x, "n")
        return m.mk("sym", (), (f'"{a.name}"', False), "s")
    orient = orient_of(a.stype)
    if a.var is not None:
        return m.mk("sym", (), (a.name, bool(a.var.params.symmetric)), orient)
    if a.name in CONSTANTS:                   # pi, not 3.141592653589793
        return m.mk("sym", (), (a.name, False), "s")
    assert isinstance(a.value, Node)
    printed = to_mast(a.value)                # a constant, printed as the engine prints it
    return m.transpose(printed) if orient == "r" and printed.orient == "c" else printed


def _reciprocal(x: M) -> M:
    return m.mk("pow", (x, m.num(-1.0)), None, x.orient)


def _negated(x: M) -> M:
    return m.mk("mm", (m.num(-1.0), x), None, x.orient)


_FLIP = {"r": "c", "c": "r"}
# One literal M node per surface operator: (operands, orientation of the result) -> tree
OPERATORS: dict[str, Callable[[list[M], str], M]] = {
    "add": lambda a, o: m.mk("add", tuple(a), None, o),
    "sub": lambda a, o: m.mk("add", (a[0], _negated(a[1])), None, o),
    "neg": lambda a, o: _negated(a[0]),
    "mul": lambda a, o: m.mk("mm", tuple(a), None, o),
    "div": lambda a, o: m.mk("mm", (a[0], _reciprocal(a[1])), None, o),
    "emul": lambda a, o: m.mk("had", tuple(a), None, o),
    "ediv": lambda a, o: m.mk("had", (a[0], _reciprocal(a[1])), None, o),
    "epow": lambda a, o: m.mk("pow", tuple(a), None, o),
    # written A^k as typed, also for a matrix power: the printer's '^' is chosen by a scalar orientation
    "pow": lambda a, o: m.mk("pow", tuple(a), None, "s"),
    "transpose": lambda a, o: m.mk("T", (a[0],), None, _FLIP.get(a[0].orient, a[0].orient)),
    "stack": lambda a, o: m.mk("stack", tuple(a), None, "c"),
    "row": lambda a, o: m.blocks(a, ",", o),
}


def _call(u: Intermediate, args: list[M], orient: str) -> M:
    spec = [a.value for a in u.inputs if a.stype is None and u.op == "einsum"]
    if spec:
        return m.mk("einsum", tuple(args), spec[0], orient)
    # an element-wise function under its engine name (ln is log), as every other formula prints it
    single = len(u.inputs) == 1 and u.inputs[0].var is not None and u.local.args == (u.inputs[0].var,)
    name = u.local.params.fn if u.local.op == "map" and single else u.op
    return m.mk("func", tuple(args), name, orient)


def _index(u: Intermediate, orient: str) -> M:
    # u1(2, :) as typed: the selection is the one the lowering built (every axis whole where it kept them all)
    operand = u.inputs[0]
    rank = operand.stype.rank if operand.stype is not None else 0
    select = u.local.params.select if u.local.op == "index" else ((0, None),) * rank
    return m.pick(_leaf(operand), index_items(select), orient)


def tree(u: Intermediate) -> M:
    orient = orient_of(u.stype)
    if u.op == "index":
        return _index(u, orient)
    if u.op in OPERATORS:
        return OPERATORS[u.op]([_leaf(a) for a in u.inputs], orient)
    return _call(u, [_leaf(a) for a in u.inputs if not (u.op == "einsum" and a.stype is None)], orient)


def formula(u: Intermediate) -> Formula:
    """u's operation on its operands' names.

    >>> from chainrule.language.steps import intermediates
    >>> [formula(u).text() for u in intermediates("max(0, w'*x+b)", {"b": "scalar"}).intermediates]
    ["w'", 'u1*x', 'u2+b', 'max(0, u3)']
    """
    return Formula(tree(u), u.shape)
