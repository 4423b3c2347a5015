"""Text -> surface syntax tree, with lark's LALR parser and errors that point at the position."""
from __future__ import annotations

import dataclasses
from functools import lru_cache
from importlib import resources

import lark

from ..errors import ParseError
from .surface import Syntax

MAX_LENGTH = 1_000_000


class _ToSyntax(lark.Transformer):
    """Builds Syntax nodes as the parser reduces (no intermediate tree, no recursion). Positions come from the
    tokens; an operator's span runs from its first operand to its last."""

    def number(self, kids):
        token = kids[0]
        return Syntax("number", (), token.start_pos, token.end_pos, float(token))

    def name(self, kids):
        token = kids[0]
        return Syntax("name", (), token.start_pos, token.end_pos, str(token))

    def arguments(self, kids):
        return [k if isinstance(k, Syntax) else Syntax("string", (), k.start_pos, k.end_pos, str(k)[1:-1])
                for k in kids]

    def call(self, kids):
        token, args = kids[0], tuple(kids[1] or ())
        end = (args[-1].end if args else token.end_pos + 1) + 1
        return Syntax("call", args, token.start_pos, end, str(token))

    def group(self, kids):
        opening, inner, closing = kids     # parentheses widen the span, they make no node
        return dataclasses.replace(inner, start=opening.start_pos, end=closing.end_pos)

    def stack(self, kids):
        return Syntax("stack", tuple(kids), kids[0].start - 1, kids[-1].end + 1)

    def neg(self, kids):
        return Syntax("neg", tuple(kids), kids[0].start - 1, kids[0].end)

    def transpose(self, kids):
        return Syntax("transpose", tuple(kids), kids[0].start, kids[0].end + 1)

    def __default__(self, data, children, meta):
        if str(data).startswith("_"):        # lark's own helper rules (repetitions), inlined by lark itself
            return lark.Tree(data, children, meta)
        return Syntax(str(data), tuple(children), children[0].start, children[-1].end)


@lru_cache(maxsize=1)
def _parser() -> lark.Lark:
    grammar = resources.files(__package__).joinpath("grammar.lark").read_text()
    return lark.Lark(grammar, parser="lalr", maybe_placeholders=True, transformer=_ToSyntax())


def parse_syntax(text: str) -> Syntax:
    if not isinstance(text, str):
        raise ParseError(f"an expression must be text, not {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ParseError(f"the expression is {len(text)} characters long; the limit is {MAX_LENGTH}")
    if not text.strip():
        raise ParseError("the expression is empty", text, 0, 1, "Type an expression such as x'*A*x.")
    try:
        tree = _parser().parse(text)
    except lark.exceptions.UnexpectedInput as error:
        raise _explain(error, text) from None
    return tree


def _describe(names) -> str:
    terminals = {t.name: t.pattern.value for t in _parser().terminals}
    friendly = {"NUMBER": "a number", "NAME": "a name", "STRING": 'a quoted "spec"', "$END": "the end"}
    shown = sorted({friendly.get(n, f"'{terminals.get(n, n)}'") for n in names})
    return ", ".join(shown[:-1]) + (" or " if len(shown) > 1 else "") + shown[-1] if shown else "something else"


def _explain(error: lark.exceptions.UnexpectedInput, text: str) -> ParseError:
    if isinstance(error, lark.exceptions.UnexpectedCharacters):
        char = text[error.pos_in_stream]
        return ParseError(f"unexpected character {char!r} at position {error.pos_in_stream + 1}",
                          text, error.pos_in_stream, error.pos_in_stream + 1, _hint_for_character(char))
    if isinstance(error, lark.exceptions.UnexpectedEOF) or getattr(error.token, "type", "") == "$END":
        expected = getattr(error, "expected", None) or getattr(error, "accepts", None) or []
        return ParseError(f"the expression ends too early: expected {_describe(expected)}",
                          text, len(text), len(text) + 1, _unclosed_hint(text))
    token = error.token
    return ParseError(f"unexpected {token.value!r} at position {token.start_pos + 1}: expected {_describe(error.expected)}",
                      text, token.start_pos, token.end_pos or token.start_pos + 1)


def _hint_for_character(char: str) -> str | None:
    hints = {"'": "A transpose ' must follow an operand, as in x'.", "=": "Write an expression, not an equation.",
             "[": "Columns are written [f1; f2].", "{": "Use parentheses ( ) for grouping."}
    return hints.get(char)


def _unclosed_hint(text: str) -> str | None:
    depth = text.count("(") - text.count(")")
    return f"{depth} parenthesis(es) not closed." if depth > 0 else None
