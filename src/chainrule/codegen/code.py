"""Python source fragments with their precedence, so that generated expressions get exactly the parentheses they need.

>>> wrap(Code("a + b", ADD), MUL)
'(a + b)'
>>> wrap(Code("x", ATOM), MUL)
'x'
"""
from __future__ import annotations

import math
from typing import NamedTuple

# How tightly the operator at the top of a fragment binds (Python's own order): a fragment placed where a tighter
# binding is needed is parenthesised.
ADD, MUL, UNARY, POW, ATOM = 1, 2, 3, 4, 5


class Code(NamedTuple):
    text: str
    prec: int
    op: str = ""      # the operator at the top of a product (* @ /): mixing two of them gets parentheses


def wrap(code: Code, minimum: int) -> str:
    return code.text if code.prec >= minimum else f"({code.text})"


def atom(text: str) -> Code:
    return Code(text, ATOM)


def number(value: float) -> str:
    """A float literal that reads back exactly: 2.0, -1.0, 0.5, 1e-300, float("inf")."""
    value = float(value)
    if math.isnan(value):
        return 'float("nan")'
    if value in (float("inf"), float("-inf")):
        return 'float("inf")' if value > 0 else '-float("inf")'
    return repr(value)


def times(a: Code, b: Code, op: str = "*") -> Code:
    """a op b for a left-associative product operator (*, @, /): the right operand needs parentheses at equal
    precedence, and so does a left operand whose top operator is another product (`(X @ w) * y`, for the reader)."""
    left = f"({a.text})" if a.prec == MUL and a.op != op else wrap(a, MUL)
    return Code(f"{left} {op} {wrap(b, MUL + 1)}", MUL, op)


def scaled(coefficient: float, x: Code) -> Code:
    """coefficient * x, written -x for -1 and x for 1."""
    if coefficient == 1.0:
        return x
    if coefficient == -1.0:
        return Code(f"-{wrap(x, UNARY)}", UNARY)
    literal = number(coefficient)
    head = Code(literal, UNARY if literal.startswith("-") else ATOM)
    return times(head, x)


def call(function: str, *arguments: Code | str) -> Code:
    texts = [a.text if isinstance(a, Code) else a for a in arguments]
    return atom(f"{function}({', '.join(texts)})")


def attribute(x: Code, suffix: str) -> Code:
    """x.T, x[:, None], x.sum(...): a postfix on x."""
    return atom(f"{wrap(x, ATOM)}{suffix}")
