"""Print a derivation as terminal text, Markdown (with $...$ math), LaTeX or JSON.

The formulas are the engine's own printouts (`Expr.unicode()` / `Expr.latex()`, and notation.index_form for a tensor
Jacobian in index notation); this module only arranges them and shows the intermediates' names with subscripts
(u1 -> u₁, u_{1}). A derivation is first an `Outline` of blocks (headings, prose, lists, equations), and each format
is one table of writers, one per kind of block.
"""
from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ..expr import Expr
from ..limits import ENVIRONMENT_VARIABLE
from ..notation import index_form
from ..notation.render import STYLES
from .model import SHOWN_AT_ENDS, Local, Product, shape_of
from .model import DerivationData as Derivation  # the record every Derivation is

FORMATS = ("text", "markdown", "latex", "json")
_SUB = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
GAP = ("", "…")      # the row that stands for the steps a summarised list leaves out
_NAME = re.compile(r"(?<![\w.])(u|[A-Za-z][A-Za-z0-9]*_)([0-9]+)(?![0-9A-Za-z_])")


# ---- math in two notations -----------------------------------------------------------------------------------------

class Printable(Protocol):
    """A formula: an `Expr`, or the `Formula` of an intermediate."""
    @property
    def shape(self) -> tuple: ...

    def text(self) -> str: ...

    def unicode(self) -> str: ...

    def latex(self) -> str: ...


@dataclass(frozen=True)
class Math:
    """How one notation writes names, derivatives and expressions."""
    latex: bool
    d: str = "∂"

    @property
    def notation(self) -> str:
        """The style of the engine's printer that this notation uses."""
        return "latex" if self.latex else "unicode"

    def name(self, n: str) -> str:
        m = re.fullmatch(r"(u|.+_)(\d+)", n)
        if not m:
            return STYLES["latex"].sym(n) if self.latex else n
        stem = m.group(1).rstrip("_")
        return f"{stem}_{{{m.group(2)}}}" if self.latex else stem + m.group(2).translate(_SUB)

    def deriv(self, num: str, den: str) -> str:
        if self.latex:
            d = r"\partial " if self.d == "∂" else "d"
            return rf"\frac{{{d}{self.name(num)}}}{{{d}{self.name(den)}}}"
        return f"{self.d}{self.name(num)}/{self.d}{self.name(den)}"

    def expr(self, e: Printable) -> str:
        return self.names(e.latex() if self.latex else e.unicode())

    def names(self, printed: str) -> str:
        """The engine's printout with the intermediates' names subscripted: u1 -> u₁ (u_{1})."""
        if self.latex:
            return re.sub(r"\\mathit\{(u|[A-Za-z]\w*?_)(\d+)\}", lambda m: self.name(m.group(1) + m.group(2)),
                          printed)
        return _NAME.sub(lambda m: self.name(m.group(1) + m.group(2)), printed)

    @property
    def times_sign(self) -> str:
        return r"\," if self.latex else " "

    def times(self, parts: list[str]) -> str:
        return self.times_sign.join(parts)

    def words(self, s: str) -> str:
        """Prose inside math."""
        return rf"\text{{{s}}}" if self.latex else s

    def aside(self, s: str) -> str:
        """A remark after an equation: (u1 = x^3)."""
        return rf"\quad {s}" if self.latex else f"    {s}"

    def paren(self, s: str) -> str:
        return STYLES[self.notation].paren(s)

    def sym(self, s: str) -> str:
        table = {"→": r"\to", "×": r"\times", "+": "+", "=": "="}
        return table.get(s, s) if self.latex else s


def _plain(n: str) -> str:
    """A name in prose: u1 -> u₁ in every format (LaTeX prose maps the subscript digits)."""
    return Math(False).name(n)


def _same_or_both(m: Math, first: Printable, second: Printable) -> str:
    a, b_ = m.expr(first), m.expr(second)
    return a if a == b_ else f"{a} = {b_}"


def _labels(m: Math, edges) -> str:
    return m.times([m.deriv(e.of, e.copy or e.by) for e in edges])


# ---- a format-neutral outline of the derivation -------------------------------------------------------------------

@dataclass
class Outline:
    """Blocks: ("title", title), ("h", heading), ("p", prose), ("items", [[segments]]), ("eq", [(lhs, rhs)]).
    Segments: prose (str), ("m", math) or ("code", source)."""
    blocks: list

    def title(self, title: str) -> None:
        self.blocks.append(("title", title))

    def h(self, title: str) -> None:
        self.blocks.append(("h", title))

    def p(self, prose: str) -> None:
        self.blocks.append(("p", prose))

    def items(self, rows: list) -> None:
        if rows:
            self.blocks.append(("items", rows))

    def eq(self, lines: list) -> None:
        if lines:
            self.blocks.append(("eq", lines))


def outline(d: Derivation, m: Math) -> Outline:
    o = Outline([])
    o.title(f"Derivative of {d.expression} by {d.wrt}")
    route = f"from {d.y} back to {d.wrt}" if d.order == "reverse" else f"from {d.wrt} to {d.y}"
    o.p(f"Layout: {d.layout}; order: {d.order} ({route}). The result is the generalized Jacobian, shape {shape_of(d)}.")
    if d.summarised:
        _summary_note(d, o)
    _step1(d, m, o)
    _step2(d, m, o)
    _step3(d, m, o)
    _step4(d, m, o)
    return o


def _summary_note(d: Derivation, o: Outline) -> None:
    n = len(d.steps.intermediates)
    o.p(f"This expression has {n} intermediate variables, more than the {n - d.omitted} shown step by step "
        f"(the limit explain_steps): each list below keeps its first and last steps, and the result is complete. "
        f"To see every step, raise the limit: cr.limits(explain_steps={n}) in Python, --limit explain_steps={n} "
        f"on the command line, or {ENVIRONMENT_VARIABLE}='explain_steps={n}'.")


def _gap(d: Derivation, key: str, rows: list, at: int, blank) -> list:
    """rows with a '…' row where a summarised list left steps out (after its first `at` rows)."""
    if not d.gaps.get(key):
        return rows
    return rows[:at] + [blank] + rows[at:]


def _step1(d: Derivation, m: Math, o: Outline) -> None:
    o.h("Step 1. Introduce intermediate variables")
    if not d.definitions:
        o.p(f"{d.y} = {d.expression} applies no operation, so there is nothing to break up.")
        return
    o.p("One per operator or function application, in evaluation order." + _fused_note(d))
    rows = []
    for u in d.definitions:
        row = [("m", f"{m.name(u.name)} = {m.expr(u.formula)}"), ("code", u.source), u.kind]
        if u.name == d.output:
            row.append(("m", f"{m.name(d.y)} = {m.name(u.name)}"))
        if not u.on_path:
            row.append(f"does not depend on {d.wrt}")
        rows.append(row)
    o.items(_gap(d, "definitions", rows, SHOWN_AT_ENDS, ["…"]))


def _fused_note(d: Derivation) -> str:
    """Where the engine rewrote an operation through its operand (log(sigmoid(z)) is -softplus(-z)), the two are
    one step (language/steps.py): said only when some step is."""
    if not any(u.fused for u in d.steps.intermediates):
        return ""
    return (" Where the engine rewrites a composition as a whole (log(sigmoid(z)) is -softplus(-z), finite where "
            "sigmoid(z) rounds to 0), the composition is one step.")


def _step2(d: Derivation, m: Math, o: Outline) -> None:
    o.h("Step 2. Local derivatives")
    if not d.locals:
        o.p(f"No intermediate depends on {d.wrt}.")
        return
    o.p(f"Each intermediate by each operand that depends on {d.wrt}, as a Jacobian in the {d.layout} layout "
        "with its shape, and the rule that gives it.")
    rows: list[list] = []
    middle = 0
    for k, e in enumerate(d.locals):
        middle = len(rows) if k == SHOWN_AT_ENDS else middle
        row = [("m", f"{m.deriv(e.of, e.by)} = {m.expr(_jacobian(e))}"), e.shape, e.rule]
        if e.copy:
            row.append(f"{e.by} used as the copy {_plain(e.copy)}")
        rows.append(row)
        rows.extend(_index_rows(e, m))
    o.items(_gap(d, "locals", rows, middle, ["…"]))


def _jacobian(e: Local) -> Expr:
    assert e.jacobian is not None, "every Local of a Derivation has its Jacobian"
    return e.jacobian


def _index_rows(e: Local, m: Math) -> list[list]:
    """A tensor Jacobian (a generalized product) again, in index notation: (∂u/∂X)[ijkl] = A[ik] δ[jl]."""
    form = index_form(e.node, m.notation) if e.node is not None and e.node.rank >= 3 else None
    if form is None:
        return []
    return [[("m", f"{form.entry(m.deriv(e.of, e.by))} = {m.names(form.body(m.times_sign))}"), "in index notation"]]


def _step3(d: Derivation, m: Math, o: Outline) -> None:
    o.h("Step 3. Combine")
    o.p(d.reason[0].upper() + d.reason[1:] + ".")
    if d.rule == "tensor":
        o.p("In index notation, each product of a Jacobian of z by Y and one of Y by X sums over Y's indices j: "
            "∇_X z = Σ_j (∇_X Y_j) ∂z/∂Y_j (Goodfellow §6.5.2).")
    if d.rule == "total-derivative":
        o.p(f"In the paper's notation, a direct use of {d.wrt} counts as one more intermediate "
            f"u_(n+1) = {d.wrt} with derivative 1, so every path starts at an intermediate.")
    _copies(d, m, o)
    _paths(d, m, o)
    _accumulation(d, m, o)


def _copies(d: Derivation, m: Math, o: Outline) -> None:
    if not d.copies:
        return
    uses = ", ".join(f"{_plain(c.name)} in {_plain(c.consumer)}" for c in d.copies)
    o.p(f"{d.wrt} is used in {len(d.copies)} places. As Goodfellow §6.5 does for shared parameters, treat each use "
        f"as its own copy ({uses}), differentiate by each copy, and add the contributions.")
    lines = [(m.deriv(d.y, c.name), _same_or_both(m, c.contribution, c.value)) for c in d.copies]
    total = " + ".join(m.deriv(d.y, c.name) for c in d.copies)
    if d.gaps.get("copies"):
        lines = _gap(d, "copies", lines, SHOWN_AT_ENDS, GAP)
        total = " + … + ".join([m.deriv(d.y, d.copies[0].name), m.deriv(d.y, d.copies[-1].name)])
    lines.append((m.deriv(d.y, d.wrt), f"{total} = {m.expr(d.total)}"))
    o.eq(lines)


def _paths(d: Derivation, m: Math, o: Outline) -> None:
    if d.paths is None:
        why = "are too long" if d.summarised else "are too many"
        o.p(f"The paths from {d.wrt} to {d.y} {why} to list; the accumulation below adds them all.")
        return
    if not d.paths:
        return
    lines = []
    for k, p in enumerate(d.paths):
        lhs = m.deriv(d.y, d.wrt) if len(d.paths) == 1 else m.words(f"path {k + 1}")
        lines.extend(_path_lines(p, m, lhs))
    if len(d.paths) > 1:
        names = " + ".join(m.words(f"path {k + 1}") for k in range(len(d.paths)))
        lines.append((m.deriv(d.y, d.wrt), f"{names} = {m.expr(d.total)}"))
    o.eq(lines)


def _path_lines(p: Product, m: Math, lhs: str) -> list:
    names = [p.edges[0].copy or p.edges[0].by] + [e.of for e in p.edges]
    route = f" {m.sym('→')} ".join(m.name(n) for n in names)
    lines = [(lhs, _labels(m, p.factors) + m.aside(f"({route})"))]
    if len(p.factors) > 1:
        factors = m.times([m.paren(m.expr(_jacobian(f))) for f in p.factors])
        shapes = p.shapes.replace("×", r"\times ").replace("→", r"\to ") if m.latex else p.shapes
        lines.append(("", factors + m.aside(shapes)))
    lines.append(("", m.expr(p.expr)))
    return lines


def _accumulation(d: Derivation, m: Math, o: Outline) -> None:
    if not d.accumulation:
        return
    if d.order == "reverse":
        o.p(f"Reverse accumulation (backpropagation): start from {d.y} and compute ∂{d.y}/∂u for each intermediate, "
            f"from the last to {d.wrt}; each is the sum, over the intermediates that use it, of the already known "
            "derivative times the local one.")
    else:
        o.p(f"Forward accumulation: start from {d.wrt} and compute ∂u/∂{d.wrt} for each intermediate in "
            "evaluation order; each is the sum, over its operands, of the local derivative times the operand's "
            "already known derivative.")
    lines = []
    for a in d.accumulation:
        terms = [_term(d, m, pair) for pair in a.terms]
        rhs = " + ".join(terms) if terms != [m.deriv(a.num, a.den)] else ""
        lines.append((m.deriv(a.num, a.den), f"{rhs} = {m.expr(a.expr)}" if rhs else m.expr(a.expr)))
    o.eq(_gap(d, "accumulation", lines, len(lines) - 1, GAP))    # a summary keeps the first steps and the last


def _term(d: Derivation, m: Math, pair) -> str:
    # ∂x/∂x and ∂y/∂y are the identity: leave them out of the written product
    kept = [q for q in pair if not (q[0] == q[1] or (q[0] == d.y and q[1] == d.output))]
    return m.times([m.deriv(*q) for q in kept])


def _step4(d: Derivation, m: Math, o: Outline) -> None:
    o.h("Step 4. Substitute back and simplify")
    lhs = m.deriv(d.y, d.wrt)
    lines = [(lhs, m.expr(d.total))]
    if d.summarised and d.rule not in ("constant", "identity"):
        lines[0] = (lhs, m.expr(d.total) + m.aside(f"({m.words('every intermediate put back at once')})"))
    lines += [("", m.expr(s.expr) + m.aside(f"({m.name(s.name)} = {m.expr(s.definition)})")) for s in d.substitutions]
    if not d.identical:
        lines.append(("", m.expr(d.result) + m.aside(m.words("(simplified)"))))
    o.eq(lines)
    same = "the same expression" if d.identical else "the same values (checked in the tests)"
    o.p(f"chainrule.derivative gives {d.result.text()}: {same}.")


# ---- the three layouts of an outline: one writer per kind of block, per format --------------------------------------

Writers = dict[str, Callable[[Any], list[str]]]


@dataclass(frozen=True)
class Layout:
    """How one format writes an outline: a writer (body -> lines) for each kind of block."""
    writers: Writers
    first: tuple[str, ...] = ()     # lines before the blocks
    trim: bool = True               # no blank lines at the start and the end

    def write(self, o: Outline) -> str:
        lines = [*self.first, *(line for kind, body in o.blocks for line in self.writers[kind](body))]
        text = "\n".join(lines)
        return (text.strip() if self.trim else text) + "\n"


def _aligned(lines: list) -> str:
    return " \\\\\n".join(r"&\vdots" if (lhs, rhs) == GAP else f"{lhs} &= {rhs}" for lhs, rhs in lines)


def _text_segment(seg) -> str:
    if isinstance(seg, tuple):
        return f"`{seg[1]}`" if seg[0] == "code" else seg[1]
    return seg


def _text_heading(title: str) -> list[str]:
    return ["", title, "-" * len(title)]


def _text_equations(lines: list) -> list[str]:
    width = max(len(lhs) for lhs, _ in lines)
    return [f"  {' ' * width}   ⋮" if (lhs, rhs) == GAP else f"  {lhs.ljust(width)} = {rhs}" for lhs, rhs in lines]


_TEXT: Writers = {
    "title": _text_heading,
    "h": _text_heading,
    "p": lambda prose: textwrap.wrap(prose, 110),
    "items": lambda rows: ["  " + "   ".join(_text_segment(s) for s in row) for row in rows],
    "eq": _text_equations,
}

_MD_ESCAPE = str.maketrans({"*": r"\*", "_": r"\_", "`": r"\`"})


def _md_segment(seg) -> str:
    if isinstance(seg, tuple):
        return f"${seg[1]}$" if seg[0] == "m" else f"`{seg[1]}`"
    return seg.translate(_MD_ESCAPE)


_MARKDOWN: Writers = {
    "title": lambda title: ["", f"## {title.translate(_MD_ESCAPE)}", ""],
    "h": lambda title: ["", f"### {title.translate(_MD_ESCAPE)}", ""],
    "p": lambda prose: [prose.translate(_MD_ESCAPE), ""],
    "items": lambda rows: ["- " + " · ".join(_md_segment(s) for s in row) for row in rows] + [""],
    "eq": lambda lines: ["$$", r"\begin{aligned}", _aligned(lines), r"\end{aligned}", "$$", ""],
}

_TEX_PROSE = {"\\": r"\textbackslash{}", "_": r"\_", "&": r"\&", "%": r"\%", "#": r"\#", "$": r"\$", "{": r"\{",
              "}": r"\}", "^": r"\^{}", "~": r"\~{}", "×": r"$\times$", "…": r"\dots{}", "∂": r"$\partial$",
              "∇": r"$\nabla$", "Σ": r"$\Sigma$", "→": r"$\to$", "§": r"\S{}", "'": r"\textquotesingle{}",
              **{chr(0x2080 + k): f"$_{k}$" for k in range(10)}}
_TEX_ESCAPE = str.maketrans(_TEX_PROSE)


def _tex_segment(seg) -> str:
    if isinstance(seg, tuple):
        return f"${seg[1]}$" if seg[0] == "m" else rf"\texttt{{{seg[1].translate(_TEX_ESCAPE)}}}"
    return seg.translate(_TEX_ESCAPE)


_LATEX: Writers = {
    "title": lambda title: [rf"\subsection*{{{title.translate(_TEX_ESCAPE)}}}"],
    "h": lambda title: [rf"\subsection*{{{title.translate(_TEX_ESCAPE)}}}"],
    "p": lambda prose: [prose.translate(_TEX_ESCAPE), ""],
    "items": lambda rows: [r"\begin{itemize}", *(r"\item " + "; ".join(_tex_segment(s) for s in row) for row in rows),
                           r"\end{itemize}"],
    "eq": lambda lines: [r"\begin{align*}", _aligned(lines), r"\end{align*}"],
}

_LAYOUTS = {"text": Layout(_TEXT), "markdown": Layout(_MARKDOWN),
            "latex": Layout(_LATEX, first=("% chainrule explain: needs \\usepackage{amsmath}",), trim=False)}


# ---- JSON ----------------------------------------------------------------------------------------------------------

def _formula(e: Printable) -> dict:
    return {"text": e.text(), "unicode": e.unicode(), "latex": e.latex(), "shape": [str(s) for s in e.shape]}


def _local_dict(e: Local) -> dict:
    return {"of": e.of, "by": e.by, "copy": e.copy, "shape": e.shape, "rule": e.rule, **_formula(_jacobian(e))}


def to_dict(d: Derivation) -> dict:
    """Everything a web page or notebook needs to show the derivation, as plain data."""
    return {
        "expression": d.expression, "wrt": d.wrt, "layout": d.layout, "order": d.order, "output": d.output,
        "shape": shape_of(d), "chain_rule": d.rule, "reason": d.reason,
        "intermediates": [{"name": u.name, "source": u.source, "operands": list(u.operands), "kind": u.kind,
                           "on_path": u.on_path, **_formula(u.formula)} for u in d.definitions],
        "locals": [_local_dict(e) for e in d.locals],
        "copies": [{"name": c.name, "consumer": c.consumer, "contribution": _formula(c.contribution),
                    "value": _formula(c.value)} for c in d.copies],
        "paths": None if d.paths is None else [
            {"route": [p.edges[0].by] + [e.of for e in p.edges], "factors": [[f.of, f.by] for f in p.factors],
             "shapes": p.shapes, **_formula(p.expr)} for p in d.paths],
        "accumulation": [{"of": a.num, "by": a.den, "terms": [list(map(list, t)) for t in a.terms],
                          **_formula(a.expr)} for a in d.accumulation],
        "total": _formula(d.total),
        "substitutions": [{"name": s.name, "definition": _formula(s.definition), **_formula(s.expr)}
                          for s in d.substitutions],
        "result": _formula(d.result), "identical": d.identical, "y": d.y, "omitted": d.omitted,
    }


def render(d: Derivation, fmt: str = "text") -> str:
    """The derivation in one of FORMATS."""
    if fmt == "json":
        return json.dumps(to_dict(d), indent=2, ensure_ascii=False)
    d_symbol = "d" if d.rule == "single-variable" else "∂"
    return _LAYOUTS[fmt].write(outline(d, Math(fmt != "text", d_symbol)))
