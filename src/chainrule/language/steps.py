"""The front end shared by `explain` and `trace`: the intermediate variables of an expression, one per operator or
function application, in evaluation order, with their names, operands and formulas.

This is the numbering of Parr & Howard's four-step procedure: u1, u2, ... Each intermediate carries the operation
applied to fresh variables named after its operands (`local`, to take its local derivative with the same engine and
to evaluate it from its operands' values) and the operands themselves with their surface types (so the formula can be
written with the right orientation: `u1 = w'` is a row, and `u2 = u1*x`, not `x'*u1`).

Leaves are told apart by the IR, never by their source text: `(a)` is the variable a, and a subexpression without
variables (`-1`, `2*pi`, a bare `eye`) is a constant operand, not an intermediate.

The steps follow the engine's stable rewrites. Where the constructors rewrote an operation through one of its operand
operations (log of sigmoid(z) is built as -softplus(-z), which holds no sigmoid(z)), that operand's step is fused into
the operation's: `u1 = log(sigmoid(z))`, one step with operand z, whose `local` is the stable form and whose local
derivative is that form's (finite at z = -1000, where log(u) of u = sigmoid(z) = 0 is not). See `_fused`.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import DerivativeError, UsageError
from ..ir import Node, Op
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
    step: Intermediate | None = None  # a fused operation written in this argument's place (its formula is nested)


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
    def fused(self) -> bool:
        """Whether operations of the text are fused into this step (the engine rewrote through them)."""
        return any(a.step is not None for a in self.inputs)

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
    >>> [(u.source, u.operands) for u in intermediates("log(1-sigmoid(z))", {"z": "scalar"}).intermediates]
    [('log(1-sigmoid(z))', ('z',))]
    """
    compiled = compile_text(text, declarations or {})
    syntax, lowered = compiled.syntax, compiled.lowered
    assert syntax is not None and lowered is not None      # compile_text always keeps them
    constant = _constants(syntax, lowered)
    fused = _fused(syntax, lowered, constant)
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
        elif id(node) in fused:          # written inside its user's step, never a step of its own
            part = _intermediate("", node, text, [operand(a) for a in node.args], lowered[id(node)][1])
            operands[id(node)] = Operand(part.source, part.stype, None, None, part)
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
    # a fused operand enters as its own local (over the operands that remain), so the constructors rewrite the
    # composition exactly as they did in the whole expression's IR
    lowering: list = [(a.step.local if a.step is not None else a.var if a.var is not None else a.value, a.stype)
                      for a in inputs]
    rule = FUNCTIONS[node.value] if node.op == "call" else OPERATORS[node.op]
    local = rule.lower(lowering, stype)
    shown = [leaf for a in inputs if a.stype is not None for leaf in _leaves(a)]
    op = node.value if node.op == "call" else node.op
    return Intermediate(name, op, text[node.start:node.end], tuple(n for n, _ in shown), local,
                        tuple(v for _, v in shown), stype, tuple(inputs))


def _leaves(a: Operand) -> list[tuple[str, Node | None]]:
    """(name, fresh variable) of the operands `a` stands for: itself, or the variables and intermediates left in a
    fused operation (already flattened in its step)."""
    if a.step is None:
        return [(a.name, a.var)]
    return [(n, v) for n, v in zip(a.step.operands, a.step.operand_vars, strict=True) if v is not None]


# ---- fusing the steps the engine rewrote through ----

# The constructors regroup sums and products (associativity, constant factors folded, transposes as index orders,
# x^2*x built as x^3, picking and stacking): an operand regrouped so is no rewrite, all its parts are still there.
_REGROUPED = frozenset({Op.ADD, Op.CONTRACT, Op.POW, Op.INDEX, Op.STACK})
_CONSTANT = frozenset({Op.CONST, Op.DELTA, Op.BASIS})


def _fused(syntax: Syntax, lowered: dict, constant: dict[int, bool]) -> set[int]:
    """The operations whose step is fused into their user's: those the user's IR node was rewritten through.

    An operand operation is rewritten through when the user's node holds neither the operand's node nor one of its
    parts (`_parts`): log(sigmoid(z)) is -softplus(-z), without sigmoid(z). Fusing is transitive: the operand
    operations left in a fused one are tried against the same user (log(1-sigmoid(z)) holds neither 1-sigmoid(z)
    nor sigmoid(z), so both fuse and z remains). The text's syntax is a tree, so an operation has one user and a
    fused step is never needed elsewhere. The links of a chain a+b+c (lowered only as a whole) are never fused.
    """
    fused: set[int] = set()
    search = _Containment()

    def is_step(n: Syntax) -> bool:
        return n.op not in ("name", "string", "empty") and not constant[id(n)]

    for node in walk(syntax):
        if node.op == "index":      # its constructor moves the selection into its operand, (exp(x))(1) = exp(x(1)):
            continue                # a regrouping, not a rewrite through the operand
        whole = lowered[id(node)][0] if is_step(node) else None
        if not isinstance(whole, Node):
            continue
        pending = [a for a in node.args if is_step(a)]
        while pending:
            a = pending.pop()
            if a.op == "index":     # written from its own selection, which a user rewritten through no longer has
                continue
            part = lowered[id(a)][0]
            if isinstance(part, Node) and search.rewritten_through(whole, part):
                fused.add(id(a))
                pending.extend(c for c in _remaining(a, fused) if is_step(c))
    return fused


def _remaining(node: Syntax, fused: set[int]) -> list[Syntax]:
    """The operands left in a fused operation: its arguments, those fused into it replaced by theirs."""
    found, stack = [], list(node.args)
    while stack:
        a = stack.pop()
        if id(a) in fused:
            stack.extend(a.args)
        else:
            found.append(a)
    return found


class _Containment:
    """Whether one IR node holds another, searching only where it can be: a node lies only under nodes taller than
    itself (the heights are remembered for one front end run)."""

    def __init__(self) -> None:
        self.heights: dict[Node, int] = {}

    def rewritten_through(self, whole: Node, part: Node) -> bool:
        return not self.holds(whole, part) and not all(self.holds(whole, p) for p in _parts(part))

    def holds(self, whole: Node, part: Node) -> bool:
        least = self.height(part)
        stack, seen = [whole], set()
        while stack:
            n = stack.pop()
            if n is part:
                return True
            if n not in seen:
                seen.add(n)
                stack.extend(a for a in n.args if self.height(a) >= least)
        return False

    def height(self, node: Node) -> int:
        known, stack = self.heights, [node]
        while stack:
            n = stack[-1]
            todo = [a for a in n.args if a not in known]
            if todo:
                stack.extend(todo)
                continue
            known[n] = 1 + max((known[a] for a in n.args), default=0)
            stack.pop()
        return known[node]


def _parts(node: Node) -> list[Node]:
    """The non-constant parts under the regrouped structure of `node` (_REGROUPED): variables and applications of
    functions, reductions and matrix functions."""
    found, stack, seen = [], [node], set()
    while stack:
        n = stack.pop()
        if n in seen or n.op in _CONSTANT:
            continue
        seen.add(n)
        if n.op in _REGROUPED:
            stack.extend(n.args)
        else:
            found.append(n)
    return found


__all__ = ["INTERMEDIATE", "SYMBOLS", "Intermediate", "Operand", "Steps", "check_names", "intermediates", "source"]
