"""`Expr`: an IR node together with what the user sees of it (orientation, the variables of its source), and the
Python operators that build new ones through the input language's own rules (language/rules.py), so an expression
built in Python is the same IR node as the same text parsed.

Dependencies point one way: builder.py (variables, cr.<function>) imports this module, never the reverse.
"""
from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .boundary import mapping
from .collector import fewer_collections
from .errors import ShapeError, UsageError
from .ir import Node, VarInfo
from .ir import variables as ir_variables
from .ir.validate import checking_on, validate
from .language.infer import check_arguments
from .language.rules import FUNCTIONS, OPERATORS, Ctx, Rule, TypeFailure, selection
from .language.surface import Syntax
from .language.types import SCALAR, DimVar, SType, Unifier
from .notation import mathml, render
from .numeric.evaluate import Evaluator
from .simplify import build as b


class Expr:
    """A matrix expression or a derivative: print it, evaluate it, differentiate it again.

    Two expressions are equal (`==`, and equal hashes) when they are the same IR node shown with the same orientation
    (`x` and `x'` are not equal). Nodes are interned, so this is structural equality, decided in constant time; a
    product is one node whatever its factors' order and the names of its summed indices (`x'*A'*x` is `x'*A*x`). The
    variables' declarations are part of the node; variables that an expression no longer uses (a derivative keeps
    those of its function, so one dict of values serves both) are not compared.

    >>> import chainrule as cr
    >>> f = cr.parse("x'*A*x")
    >>> str(cr.derivative(f, "x"))
    "x'*(A+A')"
    >>> f == cr.parse("x'*A*x"), f == cr.parse("x'*A'*x"), f == cr.parse("x'*B*x")
    (True, True, False)
    >>> abs(cr.vector_var("x")).text()
    'abs(x)'
    """

    __slots__ = ("_evaluator", "node", "notes", "orient", "origins", "variables")

    def __init__(self, node: Node, orient: str | None = None, variables: Mapping[str, tuple] | None = None,
                 origins: Mapping[str, str] | None = None, notes: tuple[str, ...] = ()):
        """`origins`: where each variable's kind came from ("declared", "name": guessed from its name, "use": read
        as another kind because the text needs it; absent: declared); `notes`: what the reading of the text should
        tell the user (a result that is not a scalar only because of a guessed kind)."""
        if checking_on():   # the test suite's checking mode: every expression made passes the validity pass
            validate(node)
        self.node = node
        self.orient = orient if node.rank == 1 else None
        if variables is None:
            variables = {name: VarInfo(v.shape, v.params.symmetric) for name, v in ir_variables(node).items()}
        self.variables = {n: VarInfo(*info) for n, info in variables.items()}
        self._evaluator = Evaluator(node, self.variables)
        self.origins = {name: (origins or {}).get(name, "declared") for name in self.variables}
        self.notes = tuple(notes)

    @property
    def shape(self) -> tuple:
        return self.node.shape

    @property
    def stype(self) -> SType:
        return SType(self.node.shape, self.orient or ("col" if self.node.rank == 1 else None))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Expr):
            return NotImplemented
        return self.node is other.node and self.orient == other.orient

    def __hash__(self) -> int:
        return hash((self.node.digest, self.orient))     # the digest is structural, as node identity is

    # ---- numbers ----
    def evaluate(self, values: Mapping[str, object] | None = None, /, **kwargs: object) -> np.ndarray:
        """The value as a NumPy array (0-d for a scalar), shape self.shape with the sizes of the given values, given
        as a mapping, as keywords, or both (the mapping serves a variable called `values` or `self`).

        >>> import chainrule as cr
        >>> cr.parse("x'*x").evaluate(x=[1.0, 2.0])
        array(5.)
        """
        if values is None:                  # keywords only: the common call, and at small sizes every µs shows
            return self._evaluator(kwargs)
        given = {**mapping(values, "the values", "f.evaluate({'x': [1, 2]}) or f.evaluate(x=[1, 2])"), **kwargs}
        return self._evaluator(given)

    # ---- printing ----
    def text(self, cse: bool = False) -> str:
        return self._render("text", cse)

    def unicode(self, cse: bool = False) -> str:
        return self._render("unicode", cse)

    def latex(self, cse: bool = False) -> str:
        return self._render("latex", cse)

    def _render(self, style: str, cse: bool) -> str:
        with fewer_collections():
            return render(self, style, cse)

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:
        return f"<chainrule.Expr {self.text()} : {self.stype.kind} {self.shape}>"

    def inferred(self) -> list[dict]:
        """What was inferred of each variable: name, kind, shape and origin ("declared"; "name": guessed from its
        first letter or a scalar name of the literature; "use": read as another kind because the text needs it).

        >>> from chainrule import parse
        >>> parse("sin(x^2) + A*y", y=("n",)).inferred()[0]
        {'name': 'x', 'kind': 'scalar', 'shape': [], 'origin': 'use'}
        >>> print(inferred_lines(parse("x'*A*x").inferred(), ()), end="")
        x: vector (n), A: matrix (n×n)  (guessed from the name: x, A)
        """
        return [{"name": name, "kind": _kind(info), "shape": list(info.shape), "origin": self.origins[name]}
                for name, info in self.variables.items()]

    @property
    def inferred_text(self) -> str:
        """inferred() and the notes as lines of text, as the command line prints them before a result."""
        return inferred_lines(self.inferred(), self.notes)

    def _repr_latex_(self) -> str:
        return f"$${self.latex()}$$"

    def _repr_html_(self) -> str | None:
        """Jupyter: typeset as MathML, which renders without scripts or network (None without latex2mathml)."""
        return mathml.expr_html(self) if mathml.available() else None

    # ---- building: @ is the matrix product (the language's *), * / ** are element-wise (.* ./ .^) ----
    @property
    def T(self) -> Expr:
        return apply_operator("transpose", self)

    def __matmul__(self, other: object) -> Expr:
        return apply_operator("mul", self, other)

    def __rmatmul__(self, other: object) -> Expr:
        return apply_operator("mul", other, self)

    def __add__(self, other: object) -> Expr:
        return apply_operator("add", self, other)

    def __radd__(self, other: object) -> Expr:
        return apply_operator("add", other, self)

    def __sub__(self, other: object) -> Expr:
        return apply_operator("sub", self, other)

    def __rsub__(self, other: object) -> Expr:
        return apply_operator("sub", other, self)

    def __mul__(self, other: object) -> Expr:
        return apply_operator("emul", self, other)

    def __rmul__(self, other: object) -> Expr:
        return apply_operator("emul", other, self)

    def __truediv__(self, other: object) -> Expr:
        return apply_operator("ediv", self, other)

    def __rtruediv__(self, other: object) -> Expr:
        return apply_operator("ediv", other, self)

    def __pow__(self, other: object) -> Expr:
        return apply_operator("epow", self, other)

    def __rpow__(self, other: object) -> Expr:
        return apply_operator("epow", other, self)

    def __neg__(self) -> Expr:
        return apply_operator("neg", self)

    def __abs__(self) -> Expr:
        return apply_function("abs", self)

    def __getitem__(self, key: object) -> Expr:
        """Python's indexing, from 0, as the language's from 1: x[1] is x(2), x[1:3] is x(2:3), X[0, :] is X(1, :)
        (a step, a negative index or an index past the end is an error)."""
        items = key if isinstance(key, tuple) else (key,)
        return _apply(OPERATORS["index"], "index", "index", [self, *map(_index_item, items)], text_allowed=False)


def _index_item(item: object) -> Syntax:
    """One Python index (from 0) as the language writes it (from 1): k+1, ':' or first+1:last."""
    k = _whole(item)
    if k is not None:
        return Syntax("number", (), 0, 0, float(k + 1))
    if isinstance(item, slice) and item.step is None:
        if item.start is None and item.stop is None:
            return Syntax("colon", (), 0, 0, None)
        first, last = _whole(0 if item.start is None else item.start), _whole(item.stop)
        if first is not None and last is not None and first < last:
            ends = (Syntax("number", (), 0, 0, float(first + 1)), Syntax("number", (), 0, 0, float(last)))
            return Syntax("range", ends, 0, 0, None)
    raise UsageError(f"an index of a chainrule expression is a whole number from 0, ':' or a slice first:last with "
                     f"both ends given, not {item!r}",
                     hint="x[1] is x(2) of the language, x[1:3] is x(2:3), and X[0, :] is X(1, :); negative indices "
                          "and steps are not read.")



# ---- one rule of the language applied to Python operands ------------------------------------------------------------

def apply_operator(op: str, *operands: object) -> Expr:
    """The operator `op` of the language (language/rules.py OPERATORS: "add", "mul", "transpose", ...) applied to
    expressions and Python numbers.

    >>> import chainrule as cr
    >>> apply_operator("mul", cr.vector_var("x", "n").T, cr.vector_var("y", "n")).text()
    "x'*y"
    """
    return _apply(OPERATORS[op], op, op, operands, text_allowed=False)


def apply_function(name: str, *operands: object) -> Expr:
    """The function `name` of the language (language/rules.py FUNCTIONS) applied to expressions, Python numbers and,
    where the language takes quoted text, Python strings: sizes ("n") and einsum specs.

    >>> import chainrule as cr
    >>> apply_function("einsum", "ij,j->i", cr.matrix_var("A", "m", "n"), cr.vector_var("x", "n")).text()
    'A*x'
    """
    return _apply(FUNCTIONS[name], "call", name, operands, text_allowed=True)


def _apply(rule: Rule, syntax_op: str, name: str, operands: Sequence[object], text_allowed: bool) -> Expr:
    ctx = _PythonOperands(Unifier())
    args = [ctx.placeholder(o, text_allowed) for o in operands]
    node = Syntax(syntax_op, tuple(a for a, _ in args), 0, 0, name)
    types: list[Any] = [t for _, (_, t) in args]
    try:
        check_arguments(node, rule, types)
        result = ctx.unifier.resolve(rule.check(ctx, node, types))
    except TypeFailure as failure:
        raise ShapeError(failure.message, hint=failure.hint or _text_hint(failure.node)) from None
    if any(isinstance(d, DimVar) for d in result.dims):
        raise ShapeError(f"{name}(...) leaves a size unknown, which an expression built in Python cannot have",
                         hint='Give the sizes, as in cr.vector(1, "n"), cr.matrix(0, "m", "n") or cr.eye(3).')
    return Expr(rule.lower([lowered for _, lowered in args], result), result.orient, _variables(operands))


def _text_hint(blamed: Syntax) -> str | None:
    if blamed.op != "string":
        return None
    return ('Text is a size ("n") or an einsum spec; a variable is made by cr.scalar_var("a"), cr.vector_var("x") '
            'or cr.matrix_var("A").')


def _variables(operands: Sequence[object]) -> dict[str, VarInfo]:
    """The variables of all operands; one name must mean one variable."""
    merged: dict[str, VarInfo] = {}
    for o in operands:
        if not isinstance(o, Expr):
            continue
        for name, info in o.variables.items():
            if merged.setdefault(name, info) != info:
                raise ShapeError(f"two different variables are called {name}: of shape {_dims(merged[name])} and "
                                 f"of shape {_dims(info)}", hint="Give them different names, or the same shape.")
    return merged


def _dims(info: VarInfo) -> str:
    shown = "×".join(map(str, info.shape)) or "()"
    return f"{shown}, symmetric" if info.symmetric else shown


# an operand as the language sees it: (IR node, its type), or for quoted text (the text, None)
Lowered = tuple[Any, Any]


@dataclass
class _PythonOperands(Ctx):
    """The context of one rule applied in Python: its operands stand in for the syntax the language would have, and a
    message names each by its text (printed only when a message needs it)."""
    shown: dict[int, Expr | str | float] = field(default_factory=dict)   # id(placeholder) -> the operand it stands for

    def placeholder(self, value: object, text_allowed: bool) -> tuple[Syntax, Lowered]:
        """The syntax node standing for `value`, and `value` lowered."""
        lowered: Lowered
        shown: Expr | str | float
        if isinstance(value, Expr):
            syntax, lowered, shown = Syntax("name", (), 0, 0, None), (value.node, value.stype), value
        elif isinstance(value, str) and text_allowed:
            syntax, lowered, shown = Syntax("string", (), 0, 0, value), (value.replace(" ", ""), None), value
        elif value is None and text_allowed:      # the language's [], as in cr.max(X, None, 2) for max(X, [], 2)
            return Syntax("empty", (), 0, 0, None), (None, None)
        elif isinstance(value, Syntax):           # an index item of x[...], already as the language writes it
            lowered = (b.const(value.value), SCALAR) if value.op == "number" else (selection(value), None)
            if value.op == "number":
                self.shown[id(value)] = value.value
            return value, lowered
        elif isinstance(value, numbers.Real):
            number = _float(value)
            syntax, lowered, shown = Syntax("number", (), 0, 0, number), (b.const(number), SCALAR), number
        else:
            raise ShapeError(f"cannot combine a chainrule expression with {type(value).__name__}")
        self.shown[id(syntax)] = shown
        return syntax, lowered

    def source(self, node: Syntax) -> str:
        if node.op == "empty":
            return "None"
        if node.op in ("colon", "range"):
            return _index_text(node)
        if id(node) in self.shown:
            return _shown(self.shown[id(node)])
        return f"{node.value}({', '.join(map(self.source, node.args))})"


def _whole(value: object) -> int | None:
    """value as a whole number >= 0 (an index from 0), or None."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and int(value) >= 0:
        return int(value)
    return None


def _index_text(item: Syntax) -> str:
    """An index item of x[...] that is not a number, as the language writes it: ':' or 2:3."""
    if item.op == "colon":
        return ":"
    return ":".join(f"{end.value:g}" for end in item.args)


def _float(value: numbers.Real) -> float:
    try:
        return float(value)
    except OverflowError:     # a Python int beyond the largest float
        bits = value.bit_length() if isinstance(value, int) else 1024
        raise UsageError(f"a number of about 10^{int(bits * 0.30103)} is too large for a float") from None  # log10(2)


def _shown(operand: Expr | str | float, width: int = 60) -> str:
    if isinstance(operand, str):
        return f'"{operand}"'
    text = operand.text() if isinstance(operand, Expr) else f"{operand:g}"
    return text if len(text) <= width else text[:width - 3] + "..."


_ORIGIN_WORDS = {"name": "guessed from the name", "use": "fixed by use", "declared": "declared"}


def _kind(info: VarInfo) -> str:
    kinds = {0: "scalar", 1: "vector", 2: "symmetric matrix" if info.symmetric else "matrix"}
    return kinds.get(len(info.shape), f"rank-{len(info.shape)} tensor")


def inferred_lines(report: Sequence[Mapping], notes: Sequence[str]) -> str:
    """`x: vector (n), A: matrix (n×n)`, which kinds were guessed, fixed by use or declared, then the notes."""
    shown = ", ".join(f"{v['name']}: {v['kind']}" + (f" ({'×'.join(map(str, v['shape']))})" if v["shape"] else "")
                      for v in report)
    groups = {origin: [v["name"] for v in report if v["origin"] == origin] for origin in _ORIGIN_WORDS}
    origins = "; ".join(f"{words}: {', '.join(groups[origin])}" for origin, words in _ORIGIN_WORDS.items()
                        if groups[origin])
    lines = [f"{shown}  ({origins})"] if shown else []
    return "\n".join(lines + [f"note: {note}" for note in notes]) + "\n"
