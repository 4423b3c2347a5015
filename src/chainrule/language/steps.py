"""The front end shared by `explain` and `trace`: the intermediate variables of an expression, one per operator or
function application, in evaluation order, with their names, operands and formulas.

This is the numbering of Parr & Howard's four-step procedure: u1, u2, ... Each intermediate carries the operation
applied to fresh variables named after its operands (`local`, to take its local derivative with the same engine and
to evaluate it from its operands' values) and the operands themselves with their surface types (so the formula can be
written with the right orientation: `u1 = w'` is a row, and `u2 = u1*x`, not `x'*u1`).

Leaves are told apart by the IR, never by their source text: `(a)` is the variable a, and a subexpression without
variables (`-1`, `2*pi`, a bare `eye`) is a constant operand, not an intermediate.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import DerivativeError, UsageError
from ..ir import Node
from ..simplify import build as b
from ..simplify.substitute import substitute
from .infer import FUNCTIONS, OPERATORS, compile_text, lower_link
from .surface import Syntax, walk
from .types import SType

SYMBOLS = {"add": "+", "sub": "-", "mul": "*", "div": "/", "emul": ".*", "ediv": "./", "pow": "^", "epow": ".^",
           "neg": "-", "transpose": "'", "stack": "[;]",
           "row": "[,]", "index": "()"}
INTERMEDIATE = re.compile(r"u\d+")


@dataclass(frozen=True)
class Operand:
    """One argument of an intermediate's operation."""
    name: str                    # "u1", a variable "x", or a constant as typed ("3", "pi"); einsum's spec string
    stype: SType | None          # its surface type (orientation included); None for a spec string
    var: Node | None             # the fresh variable standing for it in `local`; None for a constant or a spec
    value: Node | str | None     # a constant's IR node, or the spec string; None otherwise


@dataclass(frozen=True)
class Intermediate:
    name: str                    # "u1"
    op: str                      # the operator ("mul", "add", ...) or the function's name ("sin", "sum", ...)
    source: str                  # the subexpression as typed, e.g. "x^2"
    operands: tuple[str, ...]    # operand names: "u1", a variable "x", or a constant's text "3" (no spec strings)
    local: Node                  # the operation applied to fresh variables named after its operands
    operand_vars: tuple          # the fresh variable node of each operand in `operands` (None for a constant)
    stype: SType                 # its shape and orientation
    inputs: tuple[Operand, ...] = ()   # every argument as written, spec strings included

    @property
    def symbol(self) -> str:
        return SYMBOLS.get(self.op, self.op)

    @property
    def shape(self) -> tuple:
        return self.local.shape


@dataclass(frozen=True)
class Steps:
    intermediates: tuple[Intermediate, ...]
    variables: dict              # name -> (shape, symmetric)
    output: str                  # the name of the last intermediate, or the variable/constant the text is
    node: Node                   # the whole expression
    stype: SType | None = None   # the whole expression's surface type

    def free_name(self, preferred: str) -> str:
        """A name for the whole expression's value (y, f, ...) that no variable or intermediate of it has.

        >>> intermediates("y-x", {"x": "scalar", "y": "scalar"}).free_name("y")
        'f'
        """
        taken = set(self.variables) | {u.name for u in self.intermediates}
        candidates = [preferred, "y", "f", "z"] + [f"{preferred}{k}" for k in range(len(taken) + 1)]
        return next(c for c in candidates if c not in taken)

    def expand(self, names: set[str] | None = None) -> dict[str, Node]:
        """The intermediates `names` (all by default) in the original variables: each operation with its operands'
        expansions put in, expanding only what they need."""
        wanted = set(names) if names is not None else {u.name for u in self.intermediates}
        needed = set(wanted)
        for u in reversed(self.intermediates):
            if u.name in needed:
                needed.update(v.params.name for v in u.operand_vars if v is not None)
        done: dict[str, Node] = {}
        for u in self.intermediates:
            if u.name in needed:
                mapping = {v.params.name: done[v.params.name] for v in u.operand_vars if v is not None
                           and v.params.name in done}
                done[u.name] = substitute(u.local, mapping) if mapping else u.local
        return {n: done[n] for n in wanted if n in done}


def source(f: object, declarations: Mapping[str, object] | None, what: str) -> tuple[str, dict]:
    """The text to break into steps and its declarations. An expression (`Expr`) keeps no source text: its printed
    form re-parses, with every variable's shape declared (and symmetric ones declared symmetric)."""
    decls = dict(declarations or {})
    if isinstance(f, str):
        return f, decls
    variables, text = getattr(f, "variables", None), getattr(f, "text", None)
    if isinstance(variables, Mapping) and callable(text):
        own = {name: ("symmetric" if sym else shape) for name, (shape, sym) in variables.items()}
        return text(), {**own, **decls}
    raise UsageError(f"{what} needs an expression (text such as \"x'*A*x\" or a chainrule Expr), "
                     f"not {type(f).__name__}")


def check_names(steps: Steps) -> None:
    """A variable called u1, u2, ... would be ambiguous with the intermediates' names."""
    clash = sorted(n for n in steps.variables if INTERMEDIATE.fullmatch(n))
    if clash:
        raise DerivativeError(f"the expression has a variable called {clash[0]}, the name of an intermediate "
                              "(intermediate variables are called u1, u2, ...)",
                              hint="Rename that variable, e.g. to v1.")


def intermediates(text: str, declarations: Mapping[str, object] | None = None) -> Steps:
    """Break `text` into intermediate variables, in evaluation order.

    >>> [u.source for u in intermediates("sin(x^2)", {"x": "scalar"}).intermediates]
    ['x^2', 'sin(x^2)']
    >>> [(u.name, u.operands) for u in intermediates("(a)*b").intermediates]
    [('u1', ('a', 'b'))]
    """
    compiled = compile_text(text, declarations or {})
    syntax, lowered = compiled.syntax, compiled.lowered
    assert syntax is not None and lowered is not None      # compile_text always keeps them
    constant = _constants(syntax, lowered)
    operands: dict[int, Operand] = {}
    found: list[Intermediate] = []

    def operand(node: Syntax) -> Operand:
        if node.op == "string":
            return Operand(node.value, None, None, node.value.replace(" ", ""))
        if node.op == "empty":           # max(X, [], d)'s placeholder: no value, no derivative
            return Operand("[]", None, None, None)
        if constant[id(node)]:
            return _constant(node, text, lowered)
        return operands[id(node)]

    for node in walk(syntax):
        if constant[id(node)] or node.op in ("string", "empty"):
            continue
        if node.op == "name":
            var, stype = lowered[id(node)]
            operands[id(node)] = Operand(var.params.name, stype, var, None)
        else:
            u = _intermediate(f"u{len(found) + 1}", node, text, [operand(a) for a in node.args],
                              lowered[id(node)][1])
            operands[id(node)] = Operand(u.name, u.stype, b.var(u.name, u.shape), None)
            found.append(u)
    root, stype = lowered[id(syntax)]
    return Steps(tuple(found), compiled.variables, operand(syntax).name, root, stype)


def _constants(syntax: Syntax, lowered: dict) -> dict[int, bool]:
    """Which subexpressions have no variable (by their IR: a name may stand for a constant or for eye)."""
    constant: dict[int, bool] = {}
    for node in walk(syntax):
        if node.op == "name":
            value = lowered[id(node)][0]
            constant[id(node)] = not (isinstance(value, Node) and value.op == "var")
        else:
            constant[id(node)] = all(constant[id(a)] for a in node.args)
    return constant


def _constant(node: Syntax, text: str, lowered: dict) -> Operand:
    """A subexpression without variables is one operand, written as typed; its parts are not intermediates."""
    value, stype = lowered[id(node)]
    if value is None:          # an inner link of a chain a+b-c... or a*b*c..., lowered only as a whole
        value = lower_link(node, lowered)
    return Operand(_unwrapped(text[node.start:node.end]), stype, None, value)


def _unwrapped(s: str) -> str:
    """The text without parentheses around the whole of it: "(2)" -> "2"."""
    s = s.strip()
    while s.startswith("(") and s.endswith(")") and _closes_at_end(s):
        s = s[1:-1].strip()
    return s


def _closes_at_end(s: str) -> bool:
    depth = 0
    for k, c in enumerate(s):
        depth += {"(": 1, ")": -1}.get(c, 0)
        if depth == 0:
            return k == len(s) - 1
    return False


def _intermediate(name: str, node: Syntax, text: str, inputs: list[Operand], stype: SType) -> Intermediate:
    lowering: list = [(a.var if a.var is not None else a.value, a.stype) for a in inputs]
    rule = FUNCTIONS[node.value] if node.op == "call" else OPERATORS[node.op]
    local = rule.lower(lowering, stype)
    shown = [a for a in inputs if a.stype is not None]
    op = node.value if node.op == "call" else node.op
    return Intermediate(name, op, text[node.start:node.end], tuple(a.name for a in shown), local,
                        tuple(a.var for a in shown), stype, tuple(inputs))


__all__ = ["INTERMEDIATE", "SYMBOLS", "Intermediate", "Operand", "Steps", "check_names", "intermediates", "source"]
