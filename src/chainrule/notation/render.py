"""Matrix-notation trees -> text (the input language), Unicode and LaTeX.

One generic `Renderer` decides, for each kind of tree node, what is written and where parentheses go (one precedence
rule: `Renderer.parenthesize`). A `Style` is the table of how one notation writes each piece: its symbols, calls,
powers, quotients and index notation. Another notation (code, say) is one more `Style`.
"""
from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import ClassVar

from ..ir.elementwise import ELEMENTWISE
from . import mast as m
from .mast import M, split_coefficient

# How tightly the operator at the top of a printed piece binds. A piece placed where a tighter binding is needed
# (its precedence below the place's minimum) is put in parentheses: (a+b)*c, but a*b+c.
ADD, MUL, NEG, POW, POST, ATOM = 1, 2, 3, 4, 5, 6
Printed = tuple[str, int]     # a piece of text and its precedence


class _Joined:
    """The text of a product, not joined yet: the first factor's text (a str, or another product's _Joined) and the
    rest, separators included. mast keeps a long chain x'*A*...*A*x as products nested on their first factor, and
    joining each level's text would copy all the text below it again (quadratic: 0.25 s for 50,000 factors, 0.07 s
    for 25,000); joined on demand, the whole left spine is joined once."""
    __slots__ = ("head", "rest")

    def __init__(self, head: str | _Joined, rest: list[str]):
        self.head, self.rest = head, rest

    def text(self) -> str:
        tails: list[list[str]] = []
        piece: str | _Joined = self
        while isinstance(piece, _Joined):
            tails.append(piece.rest)
            piece = piece.head
        return "".join(itertools.chain([piece], *reversed(tails)))


Lazy = tuple[str | _Joined, int]     # Printed, its text maybe a product not joined yet


def _text(piece: str | _Joined) -> str:
    return piece.text() if isinstance(piece, _Joined) else piece

_SUPERSCRIPT = str.maketrans("0123456789-.", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻·")


def _number(value: float) -> str:
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def _dims(shape: tuple) -> str:
    return ", ".join(f'"{d}"' if isinstance(d, str) else str(d) for d in shape)


# ---- styles --------------------------------------------------------------------------------------------------------

class Style:
    """The plain-text style: the input language itself, so that a result parses again."""
    transpose = "'"
    times = "*"               # matrix product, and a scalar times anything
    hadamard = ".*"
    divide = "./"             # element-wise quotient
    plus = "+"
    minus = "-"               # the sign of a number or a term: -x
    subtract = "-"            # between two terms: a-b
    assign = " = "            # a named shared part: t0 = ...
    line_break = "\n"         # between the lines of a result with named parts

    def sym(self, name: str) -> str:
        return name

    def num(self, value: float) -> str:
        return _number(value)

    def fill(self, value: float, shape: tuple) -> str:
        kind = {1: "vector", 2: "matrix"}.get(len(shape))
        if kind is None:
            # no tensor literal: c_ijk = c * 1_i * 1_j * 1_k, an outer product of filled vectors, carries the sizes
            letters = "ijklmnopqrstuvwxyzabcdefgh"[:len(shape)]
            vectors = [self.fill(value if k == 0 else 1.0, (d,)) for k, d in enumerate(shape)]
            return self.einsum(",".join(letters) + "->" + letters, vectors)
        return f"{kind}({_number(value)}, {_dims(shape)})"

    def eye(self, dim: object) -> str:
        return f'eye("{dim}")' if isinstance(dim, str) else f"eye({dim})"

    def post_transpose(self, s: str) -> str:
        return s + self.transpose

    def call(self, name: str, args: list[str]) -> Printed:
        return f"{name}({', '.join(args)})", ATOM

    def exponent_precedence(self, value: float | None) -> int:
        # x^-1 needs no parentheses around a negative number, x^(-y) needs them around a negated expression
        return POW if value is None or value >= 0 else NEG

    def power(self, base: str, exponent: float | None, exponent_text: str, scalar: bool) -> str:
        return f"{base}{'^' if scalar else '.^'}{exponent_text}"

    def quotient(self, top: str, bottoms: list[str]) -> Printed:
        """Scalars divided by scalars: a/b/c."""
        return top + "".join("/" + b for b in bottoms), MUL

    def stack(self, entries: list[str]) -> str:
        return "[" + "; ".join(entries) + "]"

    def einsum(self, spec: str, args: list[str]) -> str:
        return f'einsum("{spec}", {", ".join(args)})'

    def blocks(self, parts: list[str], separator: str) -> str:
        return "[" + f"{separator} ".join(parts) + "]"

    def block_matrix(self, rows: list[list[str]]) -> str:
        """[A, B; C, D]: rows of blocks."""
        return "[" + "; ".join(", ".join(row) for row in rows) + "]"

    def pick(self, base: str, items: tuple[str, ...]) -> str:
        return f"{base}({', '.join(items)})"

    def paren(self, s: str) -> str:
        return f"({s})"


class MathStyle(Style):
    """A typeset notation (Unicode, LaTeX): what has no matrix form is written in index notation, the free indices
    named outside: [ij: Σ_k A[ik] B[kj]]. Subclasses say how an index, a sum and the free indices are written."""
    kronecker = "δ"           # the identity matrix, in index notation

    def einsum(self, spec: str, args: list[str]) -> str:
        inputs, out = spec.split("->")
        summed = "".join(sorted(set(inputs.replace(",", "")) - set(out)))
        factors = " ".join(self.subscript(a if len(a) == 1 else self.bracket(a), ix)
                           for a, ix in zip(args, inputs.split(","), strict=True))
        return self.free(out, self.summed(summed, factors))

    def subscript(self, base: str, indices: str) -> str:
        return f"{base}[{indices}]"

    def bracket(self, s: str) -> str:
        """A compound operand, before its indices."""
        return self.paren(s)

    def summed(self, labels: str, body: str) -> str:
        return f"Σ_{labels} {body}" if labels else body

    def free(self, labels: str, body: str) -> str:
        return f"[{labels}: {body}]" if labels else body


class UnicodeStyle(MathStyle):
    transpose, times, hadamard, divide = "ᵀ", "·", " ⊙ ", " ⊘ "
    plus, minus, subtract = " + ", "−", " − "

    def fill(self, value: float, shape: tuple) -> str:
        return "𝟏" if value == 1 else f"{_number(value)}·𝟏"

    def eye(self, dim: object) -> str:
        return "I"

    def power(self, base: str, exponent: float | None, exponent_text: str, scalar: bool) -> str:
        if exponent is not None and float(exponent).is_integer():
            return f"{base}{'' if scalar else '^∘'}{_number(exponent).translate(_SUPERSCRIPT)}"
        return f"{base}{'^' if scalar else '^∘'}{exponent_text}"

    def call(self, name: str, args: list[str]) -> Printed:
        if name == "inv":
            return (f"{args[0]}⁻¹" if len(args[0]) == 1 else f"({args[0]})⁻¹"), POST
        return super().call(name, args)


class LatexStyle(MathStyle):
    transpose, times, hadamard, divide = "^\\top", " ", " \\odot ", " \\oslash "
    plus, minus, subtract = " + ", "-", " - "
    assign, line_break, kronecker = " &= ", " \\\\\n", r"\delta"
    _names: ClassVar[dict[str, str | None]] = {
        "tr": r"\operatorname{tr}", "det": r"\det", "logdet": r"\log\det", "sum": r"\operatorname{sum}",
        "diag": r"\operatorname{diag}", "max": r"\max", "min": r"\min", "sqrt": None,
        "logsumexp": r"\operatorname{logsumexp}", "inv": None}

    def sym(self, name: str) -> str:
        return name if len(name) == 1 else rf"\mathit{{{name}}}"

    def fill(self, value: float, shape: tuple) -> str:
        return r"\mathbf{1}" if value == 1 else rf"{_number(value)}\,\mathbf{{1}}"

    def eye(self, dim: object) -> str:
        return "I"

    def post_transpose(self, s: str) -> str:
        return ("{" + s + "}" if "^" in s else s) + "^{\\top}"  # no double superscript

    def call(self, name: str, args: list[str]) -> Printed:
        if name == "sqrt":
            return rf"\sqrt{{{args[0]}}}", ATOM
        if name == "inv":
            return (f"{args[0]}^{{-1}}" if len(args[0]) == 1 else rf"\left({args[0]}\right)^{{-1}}"), ATOM
        return rf"{self._command(name)}\left({', '.join(args)}\right)", ATOM

    def _command(self, name: str) -> str:
        named = self._names.get(name) or (ELEMENTWISE[name].latex if name in ELEMENTWISE else None)
        return named or rf"\operatorname{{{name}}}"

    def exponent_precedence(self, value: float | None) -> int:
        return 0                  # the exponent is set in braces: x^{a+b}

    def power(self, base: str, exponent: float | None, exponent_text: str, scalar: bool) -> str:
        return f"{{{base}}}^{{{'' if scalar else chr(92) + 'circ '}{exponent_text}}}"

    def quotient(self, top: str, bottoms: list[str]) -> Printed:
        return rf"\frac{{{top}}}{{{self.times.join(bottoms)}}}", ATOM

    def stack(self, entries: list[str]) -> str:
        return r"\begin{bmatrix}" + r" \\ ".join(entries) + r"\end{bmatrix}"

    def blocks(self, parts: list[str], separator: str) -> str:
        return r"\begin{bmatrix}" + (r" \\ " if separator == ";" else " & ").join(parts) + r"\end{bmatrix}"

    def block_matrix(self, rows: list[list[str]]) -> str:
        return r"\begin{bmatrix}" + r" \\ ".join(" & ".join(row) for row in rows) + r"\end{bmatrix}"

    def pick(self, base: str, items: tuple[str, ...]) -> str:
        return f"{{{base}}}_{{{','.join(items)}}}"

    def subscript(self, base: str, indices: str) -> str:
        return f"{base}_{{{indices}}}"

    def bracket(self, s: str) -> str:
        return rf"\left[{s}\right]"

    def summed(self, labels: str, body: str) -> str:
        return rf"\sum_{{{labels}}} {body}" if labels else body

    def free(self, labels: str, body: str) -> str:
        return rf"\left({body}\right)_{{{labels}}}" if labels else body

    def paren(self, s: str) -> str:
        return rf"\left({s}\right)"


UNICODE, LATEX = UnicodeStyle(), LatexStyle()
STYLES: dict[str, Style] = {"text": Style(), "unicode": UNICODE, "latex": LATEX}
INDEX_STYLES: dict[str, MathStyle] = {"unicode": UNICODE, "latex": LATEX}


# ---- the renderer --------------------------------------------------------------------------------------------------

class Renderer:
    """Prints trees in one style: each node once, children first (no recursion), each child in parentheses where it
    binds less tightly than its place needs. `names` maps the ids of shared nodes to the names printed for them."""

    def __init__(self, style: Style, names: dict[int, str] | None = None):
        self.style, self.names = style, names or {}
        # keyed by id(); the nodes are kept alive in `self.kept` so an id is never reused while it is a key
        self.done: dict[int, Lazy] = {}
        self.kept: list[M] = []

    def render(self, root: M, define: bool = False) -> str:
        """root's text; a named root prints as its name unless `define` asks for what the name stands for."""
        self._ensure(root)
        if not define and id(root) in self.names:
            return self.names[id(root)]
        return _text(self.done[id(root)][0])       # what a name stands for, where define asks for it

    def _ensure(self, root: M) -> None:
        """Render root and whatever below it is not rendered yet, children first."""
        for node in m.postorder(root, self.done):
            if id(node) not in self.done:       # rendering a node may have rendered a later one already
                self.done[id(node)] = _KINDS[node.kind](self, node)
                self.kept.append(node)

    def parenthesize(self, node: M, min_prec: int) -> str:
        """node's text, in parentheses if it binds less tightly than min_prec (a named node is an atom)."""
        text, prec = self._printed(node)
        return self.style.paren(text) if prec < min_prec else text

    def _printed(self, node: M) -> Printed:
        """node's text as a str, and its precedence."""
        text, prec = self._lazy(node)
        if isinstance(text, _Joined):           # joined once, and kept so
            text = text.text()
            self.done[id(node)] = text, prec
        return text, prec

    def _lazy(self, node: M) -> Lazy:
        """node's text (maybe a product not joined yet) and its precedence; a named node is an atom."""
        if id(node) in self.names:
            return self.names[id(node)], ATOM
        if id(node) not in self.done:       # operands are printed before the node: almost always there
            self._ensure(node)
        return self.done[id(node)]

    def _first_factor(self, node: M) -> str | _Joined:
        """A product's first factor, which needs no parentheses there unless it binds less tightly: as printed, a
        product not joined yet included (the caller joins it on to its own text)."""
        text, prec = self._lazy(node)
        return text if prec >= MUL else self.style.paren(self._printed(node)[0])

    # ---- one method per kind of node ----

    def _sym(self, x: M) -> Printed:
        return self.style.sym(x.data[0]), ATOM

    def _num(self, x: M) -> Printed:
        if x.data < 0:
            return self.style.minus + self.style.num(-x.data), NEG
        return self.style.num(x.data), ATOM

    def _fill(self, x: M) -> Printed:
        return self.style.fill(*x.data), ATOM

    def _eye(self, x: M) -> Printed:
        return self.style.eye(x.data), ATOM

    def _transpose(self, x: M) -> Printed:
        return self.style.post_transpose(self.parenthesize(x.args[0], POST)), POST

    def _func(self, x: M) -> Printed:
        return self.style.call(x.data, [self.parenthesize(a, 0) for a in x.args])

    def _stack(self, x: M) -> Printed:
        return self.style.stack([self.parenthesize(a, 0) for a in x.args]), ATOM

    def _blocks(self, x: M) -> Printed:
        rows = [_block_row(p) for p in x.args] if x.data == ";" else []
        if any(row is not None for row in rows):      # [[A, B]; [C, D]] is [A, B; C, D]
            return self.style.block_matrix([[self.parenthesize(a, 0) for a in row or (p,)]
                                            for row, p in zip(rows, x.args, strict=True)]), ATOM
        return self.style.blocks([self.parenthesize(a, 0) for a in x.args], x.data), ATOM

    def _pick(self, x: M) -> Printed:
        # only a name is indexed as it stands: exp(x)(2) would not parse, (exp(x))(2) does
        base = x.args[0]
        text, _ = self._printed(base)
        shown = text if base.kind == "sym" or id(base) in self.names else self.style.paren(text)
        return self.style.pick(shown, x.data), ATOM

    def _einsum(self, x: M) -> Printed:
        return self.style.einsum(x.data, [self.parenthesize(a, 0) for a in x.args]), ATOM

    def _pow(self, x: M) -> Printed:
        base, exponent = x.args
        value = exponent.data if exponent.kind == "num" else None
        shown = self.parenthesize(exponent, self.style.exponent_precedence(value))
        return self.style.power(self.parenthesize(base, POW + 1), value, shown, x.orient == "s"), POW

    def _mm(self, x: M) -> Lazy:
        coefficient, factors = _coefficient_and_factors(x)
        if _is_elementwise_quotient(factors):
            return self._had(x)       # 2*x.^-1 reads 2./x
        kept, divisors = _arranged(factors)
        if kept:
            body = self._product(kept, self.style.times)
        else:
            body, coefficient = self._signed_number(coefficient), 1.0
        body, _ = self._quotient(body, divisors)
        return self._scaled(coefficient, body), MUL

    def _had(self, x: M) -> Lazy:
        tops, bottoms = _above_and_below(x)
        if x.orient == "s":
            return self._quotient(self._product(tops, self.style.times) if tops else "1", bottoms)
        top = self._hadamard_product(tops) if tops else "1"
        return top + "".join(self.style.divide + self.parenthesize(f, MUL + 1) for f in bottoms), MUL

    def _add(self, x: M) -> Printed:
        first, *others = x.args
        parts = [self.parenthesize(first, ADD)]
        for term in others:
            parts.extend(self._signed_term(term))
        return "".join(parts), ADD

    # ---- pieces of products and sums ----

    def _product(self, factors: list[M], sign: str) -> str | _Joined:
        """Factors joined by sign; only the first may be a product itself: a*b*c, a*(b*c)."""
        first, *others = factors
        rest: list[str] = []
        for f in others:
            rest += (sign, self.parenthesize(f, MUL + 1))
        return _Joined(self._first_factor(first), rest)

    def _hadamard_product(self, factors: list[M]) -> str:
        """Factors joined by .*; a matrix product among them is parenthesized, (R*W').*S, although * and .* bind
        alike, because R*W'.*S reads as R*(W'.*S) to many."""
        return self.style.hadamard.join(
            self.parenthesize(f, MUL + 1 if k or f.kind == "mm" else MUL) for k, f in enumerate(factors))

    def _quotient(self, top: str | _Joined, bottoms: list[M]) -> Lazy:
        if not bottoms:
            return top, MUL
        return self.style.quotient(_text(top), [self.parenthesize(f, MUL + 1) for f in bottoms])

    def _scaled(self, coefficient: float, body: str | _Joined) -> str | _Joined:
        """-x, 2*x or x."""
        if coefficient == -1:
            return self.style.minus + _text(body)
        if coefficient != 1:
            return self._signed_number(coefficient) + self.style.times + _text(body)
        return body

    def _signed_number(self, value: float) -> str:
        text = self.style.num(abs(value))
        return (self.style.minus + text) if value < 0 else text

    def _signed_term(self, term: M) -> tuple[str, str]:
        """A term after the first, with its sign: a-2*b, not a+-2*b."""
        coefficient, rest = split_coefficient(term)
        if coefficient < 0:
            return self.style.subtract, self.parenthesize(m.mm(m.num(-coefficient), rest), ADD + 1)
        return self.style.plus, self.parenthesize(term, ADD)


def _block_row(x: M) -> tuple[M, ...] | None:
    """The blocks of a row of a block matrix: [A, B], or [c; d]' (which is [c', d]); None for anything else."""
    if x.kind == "blocks" and x.data == ",":
        return x.args
    if x.kind == "T" and x.args[0].kind == "blocks" and x.args[0].data == ";":
        return tuple(m.transpose(a) for a in x.args[0].args)
    return None


# ---- whole results: written out, or with their shared parts named ---------------------------------------------------

# Written out in full, a deep expression repeats its shared parts: past this many nodes, name them instead.
AUTO_CSE_SIZE = 20_000


def render_tree(tree: M, style: str, cse: bool = False) -> str:
    """tree in the style called `style`; with cse (or when it is large), its shared parts named: t0 = ..."""
    if not cse and tree.size <= AUTO_CSE_SIZE:
        return Renderer(STYLES[style]).render(tree)
    return _render_with_names(tree, STYLES[style])


def _render_with_names(tree: M, style: Style) -> str:
    order = m.postorder(tree)
    uses = _uses(order, tree)
    # a shared part is named when it is worth a line: four nodes or more, or any call (p = softmax(z) in the
    # softmax Jacobian diag(p)-p*p'); one written only once in the lines that remain is not named
    shared = [n for n in order if uses.get(id(n), 0) > 1 and (n.size >= 4 or n.kind == "func") and n is not tree
              and not _thin(n)]
    shared = _written_twice(shared, tree)
    names = {id(n): f"t{k}" for k, n in enumerate(shared)}
    renderer = Renderer(style, names)
    lines = [names[id(n)] + style.assign + renderer.render(n, define=True) for n in shared]
    lines.append(renderer.render(tree, define=True))
    return style.line_break.join(lines)


def _written_twice(shared: list[M], tree: M) -> list[M]:
    """The shared parts that appear at least twice in the text once they are named: in the result and the named
    definitions, not looking inside a named part. Dropping one may leave another once, so until none changes."""
    while True:
        named = {id(n) for n in shared}
        count: dict[int, int] = {}
        for top in [tree, *shared]:
            for node in m.postorder(top, named):      # top itself is walked, though named
                for child in node.args:
                    count[id(child)] = count.get(id(child), 0) + 1
        kept = [n for n in shared if count.get(id(n), 0) >= 2]
        if len(kept) == len(shared):
            return shared
        shared = kept


def _uses(order: list[M], tree: M) -> dict[int, int]:
    """How many times each node would be written out in full (by id)."""
    uses = {id(tree): 1}
    for node in reversed(order):
        for child in node.args:
            uses[id(child)] = uses.get(id(child), 0) + uses.get(id(node), 0)
    return uses


def _thin(n: M) -> bool:
    """A transpose or a scaled copy of something: naming it would only add a line."""
    return n.kind == "T" or (n.kind == "mm" and len(n.args) == 2 and m.is_num(n.args[0]))


_KINDS: dict[str, Callable[[Renderer, M], Lazy]] = {
    "sym": Renderer._sym, "num": Renderer._num, "fill": Renderer._fill, "eye": Renderer._eye,
    "T": Renderer._transpose, "func": Renderer._func, "stack": Renderer._stack, "einsum": Renderer._einsum,
    "blocks": Renderer._blocks, "pick": Renderer._pick,
    "pow": Renderer._pow, "mm": Renderer._mm, "had": Renderer._had, "add": Renderer._add,
}


# ---- factors of products -------------------------------------------------------------------------------------------

def _coefficient_and_factors(x: M) -> tuple[float, list[M]]:
    coefficient, rest = split_coefficient(x)
    return coefficient, list(rest.args) if rest.kind == "mm" else [rest]


def _with_coefficient(x: M) -> list[M]:
    """x's factors, its numeric coefficient first (where it is not 1)."""
    coefficient, factors = _coefficient_and_factors(x)
    return ([m.num(coefficient)] if coefficient != 1 else []) + factors


def _is_reciprocal(f: M) -> bool:
    return f.kind == "pow" and f.args[1].kind == "num" and f.args[1].data < 0


def _reciprocal(f: M) -> M:
    """x for x^-1, x^2 for x^-2."""
    return m.power(f.args[0], m.num(-f.args[1].data))


def _is_elementwise_quotient(factors: list[M]) -> bool:
    """Scalars and reciprocals, one of them not a scalar: an element-wise quotient (2*x.^-1 is 2./x). Of two that
    are not scalars the product is a matrix product: x'.^-1*y.^-1 is not 1/x'/y, which divides by a vector."""
    return all(f.orient == "s" or _is_reciprocal(f) for f in factors) and sum(f.orient != "s" for f in factors) == 1


def _arranged(factors: list[M]) -> tuple[list[M], list[M]]:
    """(the factors to multiply, the divisors): scalars commute, so they go first, and those with a negative power
    go below the quotient bar: a^-1*x*b reads b*x/a."""
    divisors = [_reciprocal(f) for f in factors if f.orient == "s" and _is_reciprocal(f)]
    scalars = [f for f in factors if f.orient == "s" and not _is_reciprocal(f)]
    return scalars + [f for f in factors if f.orient != "s"], divisors


def _above_and_below(x: M) -> tuple[list[M], list[M]]:
    """The factors of an element-wise product above and below the quotient bar: x.*y.^-2 is x./y.^2."""
    factors = list(x.args) if x.kind == "had" else _with_coefficient(x)
    return [f for f in factors if not _is_reciprocal(f)], [_reciprocal(f) for f in factors if _is_reciprocal(f)]
