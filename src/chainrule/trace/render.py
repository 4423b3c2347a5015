"""A trace as aligned terminal tables or as Markdown: both print the same sections, built once here."""
from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np

from ..limits import ENVIRONMENT_VARIABLE
from .model import TraceData

SHOWN = 9          # arrays up to this many entries (and at most 2 indices) print in full
HEAD = 3           # a summary shows this many leading entries
ENDS = 5           # a summarised trace (more intermediates than the limit explain_steps) shows this many steps at
                   # each end of each table


@dataclass(frozen=True)
class Section:
    title: str
    note: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


# ---- numbers ----

def number(x: object) -> str:
    x = float(x)  # type: ignore[arg-type]  # a Python or NumPy number, or a 0-d array
    return "0" if x == 0 else f"{x:.4g}"   # "0" also for -0.0


def array(a: object, full: bool = False) -> str:
    """Scalars as numbers, small vectors and matrices in full ([1, 2; 3, 4]).

    Other arrays are shown by shape, norm and a few entries."""
    a = np.asarray(a, dtype=float)
    if a.ndim == 0:
        return number(a)
    if full or (a.size <= SHOWN and a.ndim <= 2):
        return _entries(a)
    head = ", ".join(number(v) for v in a.reshape(-1)[:HEAD])
    return f"{dims(a.shape)}, norm {number(np.linalg.norm(a))}: [{head}, …]"


def _entries(a: np.ndarray) -> str:
    if a.ndim == 1:
        return "[" + ", ".join(map(number, a)) + "]"
    if a.ndim == 2:   # rows separated by ';' as in the input language
        return "[" + "; ".join(", ".join(map(number, row)) for row in a) + "]"
    nested = np.array2string(a, separator=", ", formatter={"float_kind": number},
                             threshold=sys.maxsize,
                             max_line_width=sys.maxsize)
    return " ".join(nested.split())


def dims(shape: tuple) -> str:
    return "×".join(map(str, shape)) if shape else "scalar"


def jacobian_shape(u: tuple, a: tuple) -> str:
    """The generalized Jacobian's shape with its two index groups: (M1×…)×(N1×…)."""
    return f"({'×'.join(map(str, u))})×({'×'.join(map(str, a))})"


# ---- the sections ----

def sections(t: TraceData, full: bool) -> list[Section]:
    found = [_forward(t, full)]
    if t.mode == "reverse":
        found += [_backward(t, full), _sums(t, full)]
    else:
        found += [_tangents(t, full), _directional(t, full)]
    return found + [_gradients(t, full)]


def heading(t: TraceData, full: bool) -> list[str]:
    values = ", ".join(f"{n} = {array(v, full)}" for n, v in t.values.items())
    lines = [f"trace of {t.expression} by {', '.join(t.wrt)} ({t.mode} mode)", f"at {values}",
             f"{t.name} = {t.output} = {array(t.value, full)}"]
    if t.mode == "forward":
        lines.append("direction: " + ", ".join(f"d{n} = {array(v, full)}" for n, v in t.direction.items()))
    if t.summarised:
        n = len(t.forward)
        lines.append(f"{n} intermediates, more than the {t.limit} shown step by step (the limit explain_steps): "
                     f"each table keeps its first and last {ENDS} steps. To see them all: "
                     f"cr.limits(explain_steps={n}) in Python, --limit explain_steps={n} on the command line, or "
                     f"{ENVIRONMENT_VARIABLE}='explain_steps={n}'.")
    return lines


def _ends(t: TraceData, items: tuple | list) -> list:
    """Every item, or the first and last few with None between them when the trace is summarised."""
    items = list(items)
    if not t.summarised or len(items) <= 2 * ENDS:
        return items
    return items[:ENDS] + [None] + items[-ENDS:]


def _gap(width: int) -> tuple[str, ...]:
    return ("…",) + ("",) * (width - 1)


def _forward(t: TraceData, full: bool) -> Section:
    rows = tuple(_gap(5) if s is None else (s.name, s.formula, s.source, dims(s.value.shape), array(s.value, full))
                 for s in _ends(t, t.forward))
    return Section("Forward pass", "every intermediate, operands before the node",
                   ("node", "operation", "subexpression", "shape", "value"), rows)


def _backward(t: TraceData, full: bool) -> Section:
    rows = []
    shapes = _shapes(t)
    for step in _ends(t, t.backward):
        if step is None:
            rows.append(_gap(7))
            continue
        for k, edge in enumerate(step.edges):
            loc = edge.local
            first = (step.name, array(step.upstream, full)) if k == 0 else ("", "")
            rows.append(first + (_operand(loc), loc.expression, jacobian_shape(shapes[step.name], shapes[loc.operand]),
                                 array(loc.value, full), array(edge.downstream, full)))
    return Section("Backward pass", "reverse order; downstream = upstream · local, summed over the node's indices; "
                   "operands that do not depend on a wrt variable get no gradient",
                   ("node", f"upstream ∂{t.name}/∂node", "operand", "local ∂node/∂operand", "local shape",
                    "local value", f"downstream ∂{t.name}/∂operand"), tuple(rows))


def _operand(loc) -> str:
    return loc.operand if loc.count == 1 else f"{loc.operand} (×{loc.count}, one local for all)"


def _shapes(t: TraceData) -> dict:
    return {**{n: v.shape for n, v in t.values.items()}, **{s.name: s.value.shape for s in t.forward}}


def _sums(t: TraceData, full: bool) -> Section:
    rows = []
    for s in _ends(t, t.sums):
        if s is None:
            rows.append(_gap(3))
            continue
        rows += [(s.name if k == 0 else "", "from " + source, array(part, full)) for k, (source, part) in
                 enumerate(s.parts)]
        rows.append(("" if s.parts else s.name, "sum" if len(s.parts) != 1 else "total", array(s.total, full)))
    return Section("Gradients add up",
                   "one contribution per path into the node; parameter sharing: copies first, then the sum",
                   ("into", "path", "gradient"), tuple(rows))


def _tangents(t: TraceData, full: bool) -> Section:
    rows = []
    shapes = _shapes(t)
    for step in _ends(t, t.tangents):
        if step is None:
            rows.append(_gap(7))
            continue
        for k, (loc, (_, term)) in enumerate(zip(step.locals, step.terms, strict=True)):
            first = (step.name, array(step.tangent, full)) if k == 0 else ("", "")
            rows.append(first + (_operand(loc), loc.expression, jacobian_shape(shapes[step.name], shapes[loc.operand]),
                                 array(loc.value, full), array(term, full)))
    return Section("Tangent pass (forward mode)", "d node = Σ local · d operand, summed over the operand's indices",
                   ("node", "tangent d node", "operand", "local ∂node/∂operand", "local shape", "local value",
                    "local · d operand"), tuple(rows))


def _directional(t: TraceData, full: bool) -> Section:
    d = t.directional
    assert d is not None        # the section is written only for a forward-mode trace along a direction
    rows = (("forward mode (tangent of the output)", array(d.tangent, full), ""),
            ("Σ derivative(f, w) · dw", array(d.symbolic, full), f"{d.difference:.1e}"),
            ("finite differences along the direction", array(d.finite_difference, full), f"{d.fd_error:.1e}"))
    return Section("Directional derivative", "J·v three ways", ("computed by", "value", "max |difference|"), rows)


def _gradients(t: TraceData, full: bool) -> Section:
    rows = tuple((g.wrt, array(g.symbolic if g.backprop is None else g.backprop, full), g.expression,
                  "—" if g.difference is None else f"{g.difference:.1e}", f"{g.check.max_abs_error:.1e}",
                  f"{g.check.max_rel_error:.1e}", "ok" if g.check.ok else "MISMATCH") for g in t.gradients)
    note = ("derivative(f, wrt) evaluated, checked against central finite differences" if t.mode == "forward" else
            "accumulated by backprop, checked against derivative(f, wrt) and central finite differences")
    return Section("Gradients", note,
                   ("wrt", "gradient", "derivative(f, wrt)", "max |backprop − derivative|", "FD max abs error",
                    "FD max rel error", "check"), rows)


def _verdict(t: TraceData) -> list[str]:
    verdict = "all checks ok" if t.ok else "MISMATCH: some check failed (see the tables above)"
    return [verdict] if t.not_finite is None else [f"not finite: {t.not_finite}", verdict]


# ---- the two formats ----

def text(t: TraceData, full: bool = False) -> str:
    """Aligned terminal tables."""
    lines = heading(t, full)
    for s in sections(t, full):
        lines += ["", f"{s.title}  ({s.note})"] + ["  " + row for row in _aligned(s.headers, s.rows)]
    return "\n".join([*lines, "", *_verdict(t)])


def _aligned(headers: tuple, rows: tuple) -> list[str]:
    widths = [max(len(c) for c in column) for column in zip(headers, *rows, strict=True)]
    return ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in (headers, *rows)]


def markdown(t: TraceData, full: bool = False) -> str:
    """GitHub-flavoured Markdown: a heading, then one table per section."""
    title = f"## trace of `{t.expression}` by {', '.join(t.wrt)} ({t.mode} mode)"
    lines = [title, ""] + [f"- {line}" for line in heading(t, full)[1:]]
    for s in sections(t, full):
        lines += ["", f"### {s.title}", "", f"_{s.note}_", "", _md_row(s.headers),
                  "|" + "|".join("---" for _ in s.headers) + "|"]
        lines += [_md_row(tuple(_code(c) if c else "" for c in row)) for row in s.rows]
    return "\n".join([*lines, "", *(f"**{line}**" for line in _verdict(t)), ""])


def _code(cell: str) -> str:
    return f"`{cell}`" if "`" not in cell else cell


def _md_row(cells: tuple) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"
