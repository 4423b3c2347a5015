"""One generalized product in index notation, each operand written in full: (∂u/∂X)[ijkl] = A[ik] δ[jl].

explain prints a tensor Jacobian this way beside its matrix notation. Letters, subscripts and sums are those of the
index notation the Unicode and LaTeX styles print (render.MathStyle); here an identity operand is the Kronecker delta,
and an operand other than a variable or a constant is put in parentheses.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

from ..ir import Node, Op
from .from_ir import index_letters, to_mast
from .render import INDEX_STYLES, MathStyle, render_tree

_BARE = (Op.VAR, Op.CONST, Op.DELTA)     # operands written without parentheses


@dataclass(frozen=True)
class IndexForm:
    """A generalized product with its indices: the free ones, the summed ones, and each operand with its own."""
    style: MathStyle
    free: str
    summed: str
    factors: tuple[str, ...]

    def entry(self, name: str) -> str:
        """The entry of what name stands for at the free indices: (J)[ijkl]."""
        return self.style.subscript(self.style.paren(name), self.free)

    def body(self, times: str = " ") -> str:
        """The sum over the summed indices of the product of the factors, joined by times: Σ_j A[ij] x[j]."""
        return self.style.summed(self.summed, times.join(self.factors))


def index_form(node: Node, style: str) -> IndexForm | None:
    """node in index notation, in the style called `style` ("unicode" or "latex"); None if node is not a product.

    >>> import chainrule as cr
    >>> form = index_form(cr.derivative("A*X", "X").node, "unicode")
    >>> form.entry("J") + " = " + form.body()
    '(J)[ijkl] = A[ik] δ[jl]'
    """
    if node.op != Op.CONTRACT:
        return None
    specs, out = node.params.specs, node.params.out
    letter = index_letters(out, specs)
    written = [_operand(arg, style) for arg in node.args]
    factors = tuple(INDEX_STYLES[style].subscript(base, _letters(spec, letter)) if spec else base
                    for base, spec in zip(written, specs, strict=True))
    summed = [label for label in dict.fromkeys(itertools.chain(*specs)) if label not in out]
    return IndexForm(INDEX_STYLES[style], _letters(out, letter), _letters(summed, letter), factors)


def _operand(arg: Node, style: str) -> str:
    if arg.op == Op.DELTA:
        return INDEX_STYLES[style].kronecker
    text = render_tree(to_mast(arg), style)
    return text if arg.op in _BARE else INDEX_STYLES[style].paren(text)


def _letters(labels, letter: dict) -> str:
    return "".join(letter[label] for label in labels)
