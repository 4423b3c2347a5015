"""Matrix-notation trees -> text (the input language), Unicode and LaTeX."""
from __future__ import annotations

from typing import ClassVar

from ..ir.elementwise import ELEMENTWISE
from .mast import M, split_coefficient

ADD, MUL, NEG, POW, POST, ATOM = 1, 2, 3, 4, 5, 6
_SUPERSCRIPT = str.maketrans("0123456789-.", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻·")


def _number(value: float) -> str:
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


class Style:
    """The plain-text style: the input language itself, so a result can be parsed again."""
    transpose, times, minus, hadamard, divide = "'", "*", "-", ".*", "./"
    plus = "+"

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
        dims = ", ".join(f'"{d}"' if isinstance(d, str) else str(d) for d in shape)
        return f"{kind}({_number(value)}, {dims})"

    def eye(self, dim) -> str:
        return f'eye("{dim}")' if isinstance(dim, str) else f"eye({dim})"

    def post_transpose(self, s: str) -> str:
        return s + self.transpose

    def call(self, name: str, args: list[str]) -> tuple[str, int]:
        return f"{name}({', '.join(args)})", ATOM

    def power(self, base: str, exponent: float | None, exponent_text: str, scalar: bool) -> str:
        return f"{base}{'^' if scalar else '.^'}{exponent_text}"

    def stack(self, entries: list[str]) -> str:
        return "[" + "; ".join(entries) + "]"

    def einsum(self, spec: str, args: list[str]) -> str:
        return f'einsum("{spec}", {", ".join(args)})'

    def scalar_divide(self, top: str, bottom: str) -> str:
        return f"{top}/{bottom}"

    def paren(self, s: str) -> str:
        return f"({s})"


class UnicodeStyle(Style):
    transpose, times, minus, hadamard, divide, plus = "ᵀ", "·", "−", " ⊙ ", " ⊘ ", " + "

    def fill(self, value: float, shape: tuple) -> str:
        return "𝟏" if value == 1 else f"{_number(value)}·𝟏"

    def eye(self, dim) -> str:
        return "I"

    def power(self, base, exponent, exponent_text, scalar):
        if exponent is not None and float(exponent).is_integer():
            return f"{base}{'' if scalar else '^∘'}{_number(exponent).translate(_SUPERSCRIPT)}"
        return f"{base}{'^' if scalar else '^∘'}{exponent_text}"

    def call(self, name, args):
        if name == "inv":
            return (f"{args[0]}⁻¹" if len(args[0]) == 1 else f"({args[0]})⁻¹"), POST
        return super().call(name, args)

    def einsum(self, spec, args):
        inputs, out = spec.split("->")
        summed = "".join(sorted(set(inputs.replace(",", "")) - set(out)))
        factors = " ".join(f"{a}[{ix}]" if len(a) == 1 else f"({a})[{ix}]"
                           for a, ix in zip(args, inputs.split(","), strict=True))
        body = (f"Σ_{summed} " if summed else "") + factors
        return f"[{out}: {body}]" if out else body


class LatexStyle(Style):
    transpose, times, minus, hadamard, divide, plus = "^\\top", " ", "-", " \\odot ", " \\oslash ", " + "
    _names: ClassVar[dict] = {"tr": r"\operatorname{tr}", "det": r"\det", "logdet": r"\log\det", "sum": r"\operatorname{sum}",
              "diag": r"\operatorname{diag}", "max": r"\max", "min": r"\min", "sqrt": None,
              "logsumexp": r"\operatorname{logsumexp}", "inv": None}

    def sym(self, name: str) -> str:
        return name if len(name) == 1 else rf"\mathit{{{name}}}"

    def fill(self, value, shape):
        return r"\mathbf{1}" if value == 1 else rf"{_number(value)}\,\mathbf{{1}}"

    def eye(self, dim):
        return "I"

    def post_transpose(self, s: str) -> str:
        return ("{" + s + "}" if "^" in s else s) + "^{\\top}"  # no double superscript

    def call(self, name, args):
        if name == "sqrt":
            return rf"\sqrt{{{args[0]}}}", ATOM
        if name == "inv":
            return (f"{args[0]}^{{-1}}" if len(args[0]) == 1 else rf"\left({args[0]}\right)^{{-1}}"), ATOM
        command = self._names.get(name) or (ELEMENTWISE[name].latex if name in ELEMENTWISE else
                                           rf"\operatorname{{{name}}}")
        return rf"{command}\left({', '.join(args)}\right)", ATOM

    def power(self, base, exponent, exponent_text, scalar):
        return f"{{{base}}}^{{{'' if scalar else chr(92) + 'circ '}{exponent_text}}}"

    def stack(self, entries):
        return r"\begin{bmatrix}" + r" \\ ".join(entries) + r"\end{bmatrix}"

    def einsum(self, spec, args):
        # index (Einstein) notation, the free indices named outside: (sum_j A_ij x_j)_i
        inputs, out = spec.split("->")
        summed = "".join(sorted(set(inputs.replace(",", "")) - set(out)))
        factors = " ".join(a + f"_{{{ix}}}" if len(a) == 1 else rf"\left[{a}\right]_{{{ix}}}"
                           for a, ix in zip(args, inputs.split(","), strict=True))
        body = (rf"\sum_{{{summed}}} " if summed else "") + factors
        return rf"\left({body}\right)_{{{out}}}" if out else body

    def scalar_divide(self, top, bottom):
        return rf"\frac{{{top}}}{{{bottom}}}"

    def paren(self, s):
        return rf"\left({s}\right)"


STYLES = {"text": Style(), "unicode": UnicodeStyle(), "latex": LatexStyle()}


class Renderer:
    """Renders each tree node once (children first, no recursion), wrapping children in parentheses by precedence."""

    def __init__(self, style: Style, names: dict[int, str] | None = None):
        self.style, self.names = style, names or {}
        # keyed by id(); the nodes are kept alive in `self.kept` so an id is never reused while it is a key
        self.done: dict[int, tuple[str, int]] = {}
        self.kept: list[M] = []

    def render(self, root: M, define: bool = False) -> str:
        self._ensure(root)
        if not define and id(root) in self.names:
            return self.names[id(root)]
        return self.done[id(root)][0]

    def _ensure(self, root: M) -> None:
        """Render root and whatever below it is not rendered yet, children first, without recursion."""
        stack = [(root, False)]
        while stack:
            node, expanded = stack.pop()
            if id(node) in self.done:
                continue
            if expanded:
                self.done[id(node)] = self._node(node)
                self.kept.append(node)
            else:
                stack.append((node, True))
                stack.extend((a, False) for a in node.args if id(a) not in self.done)

    def _get(self, node: M, min_prec: int) -> str:
        if id(node) not in self.done and id(node) not in self.names:
            self.render(node)
        text, prec = (self.names[id(node)], ATOM) if id(node) in self.names else self.done[id(node)]
        return self.style.paren(text) if prec < min_prec else text

    def _node(self, x: M) -> tuple[str, int]:
        return getattr(self, "_" + x.kind)(x)

    def _sym(self, x):
        return self.style.sym(x.data[0]), ATOM

    def _num(self, x):
        return (self.style.minus + self.style.num(-x.data), NEG) if x.data < 0 else (self.style.num(x.data), ATOM)

    def _fill(self, x):
        return self.style.fill(*x.data), ATOM

    def _eye(self, x):
        return self.style.eye(x.data), ATOM

    def _T(self, x):
        return self.style.post_transpose(self._get(x.args[0], POST)), POST

    def _func(self, x):
        return self.style.call(x.data, [self._get(a, 0) for a in x.args])

    def _stack(self, x):
        return self.style.stack([self._get(a, 0) for a in x.args]), ATOM

    def _einsum(self, x):
        return self.style.einsum(x.data, [self._get(a, 0) for a in x.args]), ATOM

    def _pow(self, x):
        base, exponent = x.args
        value = exponent.data if exponent.kind == "num" else None
        text = self._get(exponent, POW if value is None or value >= 0 else NEG)
        if isinstance(self.style, LatexStyle):
            text = self._get(exponent, 0)
        return self.style.power(self._get(base, POW + 1), value, text, x.orient == "s"), POW

    def _mm(self, x):
        coefficient, rest = split_coefficient(x)
        factors = list(rest.args) if rest.kind == "mm" else [rest]
        # scalars commute: they go first, and those with a negative power become divisors at the end
        if all(f.orient == "s" or _is_reciprocal(f) for f in factors) and any(f.orient != "s" for f in factors):
            return self._had(x)       # 2*x.^-1 reads 2./x
        divisors = [f for f in factors if f.orient == "s" and _is_reciprocal(f)]
        scalars = [f for f in factors if f.orient == "s" and not _is_reciprocal(f)]
        factors = scalars + [f for f in factors if f.orient != "s"]
        parts = [self._get(f, MUL if k == 0 else MUL + 1) for k, f in enumerate(factors)]
        if not parts:
            parts, coefficient = [self._get_number(coefficient)], 1.0
        body = self.style.times.join(parts)
        if divisors:
            bottoms = [self._get(_reciprocal(f), MUL + 1) for f in divisors]
            body = self.style.scalar_divide(body, self.style.times.join(bottoms)) \
                if isinstance(self.style, LatexStyle) else body + "".join("/" + b for b in bottoms)
        if coefficient == -1:
            return self.style.minus + body, MUL
        if coefficient != 1:
            return self._get_number(coefficient) + self.style.times + body, MUL
        return body, MUL

    def _get_number(self, value: float) -> str:
        text = self.style.num(abs(value))
        return (self.style.minus + text) if value < 0 else text

    def _had(self, x):
        tops, bottoms = [], []
        for f in (x.args if x.kind == "had" else _factors_of(x)):
            if f.kind == "pow" and f.args[1].kind == "num" and f.args[1].data < 0:
                exponent = -f.args[1].data
                bottoms.append(f.args[0] if exponent == 1 else _powered(f, exponent))
            else:
                tops.append(f)
        scalar = x.orient == "s"
        times = self.style.times if scalar else self.style.hadamard
        divide = "/" if scalar else self.style.divide
        top = times.join(self._get(f, MUL if k == 0 else MUL + 1) for k, f in enumerate(tops)) if tops else "1"
        if not bottoms:
            return top, MUL
        if scalar and isinstance(self.style, LatexStyle):
            bottom = self.style.times.join(self._get(f, MUL + 1) for f in bottoms)
            return self.style.scalar_divide(top, bottom), ATOM
        return top + "".join(divide + self._get(f, MUL + 1) for f in bottoms), MUL

    def _add(self, x):
        parts = []
        for k, t in enumerate(x.args):
            coefficient, rest = split_coefficient(t)
            if k > 0 and coefficient < 0:
                positive = _scaled(-coefficient, rest)
                parts.append(f" {self.style.minus.strip()} " if self.style.plus.strip() != self.style.plus else
                             self.style.minus)
                parts.append(self._get(positive, ADD + 1))
            else:
                if k > 0:
                    parts.append(self.style.plus)
                parts.append(self._get(t, ADD))
        return "".join(parts), ADD


def _scaled(c: float, x: M) -> M:
    from .mast import mm, num
    return mm(num(c), x)


def _powered(f: M, exponent: float) -> M:
    from .mast import num, power
    return power(f.args[0], num(exponent))


def _is_reciprocal(f: M) -> bool:
    return f.kind == "pow" and f.args[1].kind == "num" and f.args[1].data < 0


def _reciprocal(f: M) -> M:
    from .mast import num, power
    return power(f.args[0], num(-f.args[1].data))


def _factors_of(x: M) -> list[M]:
    from .mast import num
    coefficient, rest = split_coefficient(x)
    factors = list(rest.args) if rest.kind == "mm" else [rest]
    return ([num(coefficient)] if coefficient != 1 else []) + factors
