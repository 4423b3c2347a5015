"""chainrule's LaTeX as MathML, which every current browser (and JupyterLab, and nbconvert's HTML) renders natively:
the printer of the page (`chainrule serve`) and of the notebooks' rich display (`Expr._repr_html_`).

The conversion is latex2mathml's (a declared dependency of the `web` extra); chainrule's printer uses a small set of
LaTeX constructs (\\left( \\right), \\frac, \\operatorname, \\top, \\odot, bmatrix, sums with subscripts), and
tests/web/test_mathml.py converts every LaTeX string of the golden tests. A string that still fails is shown as its
LaTeX source in a <code> element, never as a broken page.

>>> to_mathml(r"x^{\\top} A").startswith('<math xmlns="http://www.w3.org/1998/Math/MathML"')
True
"""
from __future__ import annotations

import html
import re

from ..errors import ChainruleError

# LaTeX that latex2mathml reads differently from TeX, rewritten first: spacing commands it does not know
_REWRITES = ((re.compile(r"\\(?:;|:)"), r"\\,"),)


class MathMLError(ChainruleError):
    """LaTeX that cannot be converted to MathML (a bug of chainrule's printer or of the converter)."""


def to_mathml(latex: str, display: str = "inline", strict: bool = False) -> str:
    """The MathML element of `latex`; when the conversion fails, the LaTeX in <code> (or MathMLError if strict)."""
    try:
        from latex2mathml.converter import convert
    except ImportError:
        if strict:
            raise MathMLError("typesetting needs the package latex2mathml",
                              hint="Install it with `pip install 'chainrule[web]'`.") from None
        return _as_code(latex)
    for pattern, replacement in _REWRITES:
        latex = pattern.sub(replacement, latex)
    try:
        return convert(latex, display=display)
    except Exception as error:
        if strict:
            raise MathMLError(f"cannot convert to MathML: {latex!r} ({type(error).__name__}: {error})") from None
        return _as_code(latex)


def available() -> bool:
    """Whether latex2mathml is installed (else every formula shows as its LaTeX source)."""
    try:
        import latex2mathml.converter  # noqa: F401
    except ImportError:
        return False
    return True


def _as_code(latex: str) -> str:
    return f'<code class="tex">{html.escape(latex)}</code>'


# the look of chainrule's HTML fragments (notebooks; the page has its own style sheet too)
STYLE = ("<style>.chainrule table{border-collapse:collapse;margin:.4em 0}"
         ".chainrule td,.chainrule th{border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top}"
         ".chainrule .ok{color:#11772b}.chainrule .bad{color:#b00020}.chainrule .eq td{border:none}</style>")


def expr_html(expr) -> str:
    """An expression (anything with .latex(), .shape and .stype) typeset as display MathML, with kind and shape."""
    shape = "×".join(map(str, expr.shape)) or "scalar"
    inferred = getattr(expr, "inferred_text", "")     # the variables' kinds and where they came from, and notes
    return (f'<div class="chainrule chainrule-expr">{to_mathml(expr.latex(), "block")}'
            f'<small>{html.escape(expr.stype.kind)} ({html.escape(shape)})</small>'
            + "".join(f"<br><small>{html.escape(line)}</small>" for line in inferred.splitlines()) + "</div>")
