"""Text -> surface syntax tree, with lark's LALR parser and errors that point at the position.

lark defines the language (grammar.lark) and reports every syntax error; a valid text is read by reader.py, an
operator-precedence reader that builds the identical tree several times faster, and lark reads whatever it declines.

The grammar is `grammar.lark`. LALR parsing keeps its own stack, so deep nesting costs memory, not Python stack; the
length of the text and the nesting depth of brackets and calls are bounded by `Limits.input_chars` and
`Limits.depth` (a chain of operators such as ---x or x'''' is not nesting), both checked before parsing.
"""
from __future__ import annotations

import dataclasses
import re
from functools import lru_cache
from importlib import resources

import lark

from ..errors import ParseError
from ..limits import LimitError, current_limits
from .reader import read
from .surface import Syntax, bracket

# brackets, and double-quoted specs skipped whole (a single quote is also the transpose, so '...' specs are not
# skipped: a bracket inside one is a spec error anyway)
_BRACKETS = re.compile(r'[(\[]|[)\]]|"[^"]*"')


class _ToSyntax(lark.Transformer):
    """Builds Syntax nodes as the parser reduces (no intermediate tree, no recursion). Positions come from the
    tokens: a node spans exactly the text that parses to it, brackets and signs included."""

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
        token, _, args, closing = kids
        return Syntax("call", tuple(args or ()), token.start_pos, closing.end_pos, str(token))

    def group(self, kids):
        opening, inner, closing = kids     # parentheses widen the span, they make no node
        return dataclasses.replace(inner, start=opening.start_pos, end=closing.end_pos)

    def blockrow(self, kids):
        return [k for k in kids if isinstance(k, Syntax)]     # the blocks of one row, left to right

    def bracket(self, kids):
        return bracket([k for k in kids if isinstance(k, list)], kids[0].start_pos, kids[-1].end_pos)

    def index(self, kids):
        operand, _, args, closing = kids
        return Syntax("index", (operand, *args), operand.start, closing.end_pos)

    def colon(self, kids):
        return Syntax("colon", (), kids[0].start_pos, kids[0].end_pos)

    def empty(self, kids):
        opening, closing = kids
        return Syntax("empty", (), opening.start_pos, closing.end_pos)

    def neg(self, kids):
        sign, operand = kids
        return Syntax("neg", (operand,), sign.start_pos, operand.end)

    def transpose(self, kids):
        operand, quote = kids
        return Syntax("transpose", (operand,), operand.start, quote.end_pos)

    def __default__(self, data, children, meta):
        if str(data).startswith("_"):        # lark's own helper rules (repetitions), inlined by lark itself
            return lark.Tree(data, children, meta)
        return Syntax(str(data), tuple(children), children[0].start, children[-1].end)


@lru_cache(maxsize=1)
def _parser() -> lark.Lark:
    grammar = resources.files(__package__).joinpath("grammar.lark").read_text()
    return lark.Lark(grammar, parser="lalr", maybe_placeholders=True, transformer=_ToSyntax())


def check_at(name: str, needed: float, what: str, text: str, start: int, end: int) -> None:
    """`current_limits().check(name, needed, what)`, with a caret under text[start:end] in the error."""
    try:
        current_limits().check(name, needed, what)
    except LimitError as error:
        raise LimitError(error.message, text, start, end, error.hint) from None


def parse_syntax(text: str) -> Syntax:
    """The syntax tree of `text`, or a ParseError that points at the position (a LimitError for a text longer than
    `Limits.input_chars` or nested deeper than `Limits.depth`).

    >>> parse_syntax("-a^2").op, parse_syntax("-a^2").args[0].op
    ('neg', 'pow')
    """
    if not isinstance(text, str):
        raise ParseError(f"an expression must be text, not {type(text).__name__}")
    current_limits().check("input_chars", len(text), "the expression's length in characters")
    if not text.strip():
        raise ParseError("the expression is empty", text, 0, 1, "Type an expression such as x'*A*x.")
    _check_depth(text)
    fast = read(text)        # the same tree, several times faster; None where lark must read it (and errors)
    if fast is not None:
        return fast
    try:
        tree = _parser().parse(text)
    except lark.exceptions.UnexpectedInput as error:
        raise _explain(error, text) from None
    assert isinstance(tree, Syntax)      # the transformer runs inside the LALR parser: its result is a Syntax
    return tree


def _check_depth(text: str) -> None:
    """The nesting depth of brackets and calls, one linear scan before parsing."""
    limit, depth = current_limits().depth, 0
    for match in _BRACKETS.finditer(text):
        bracket = match.group()
        if bracket in "([":
            depth += 1
            if depth > limit:
                start = match.start()
                check_at("depth", depth, f"nesting depth of brackets and calls at position {start + 1}",
                         text, start, start + 1)
        elif bracket in ")]":
            depth = max(0, depth - 1)     # an unbalanced closer is the parser's error to report


def _describe(names) -> str:
    terminals = {t.name: t.pattern.value for t in _parser().terminals}
    friendly = {"NUMBER": "a number", "NAME": "a name", "STRING": 'a quoted "spec"', "$END": "the end"}
    shown = sorted({friendly.get(n, f"'{terminals.get(n, n)}'") for n in names})
    return ", ".join(shown[:-1]) + (" or " if len(shown) > 1 else "") + shown[-1] if shown else "something else"


def _explain(error: lark.exceptions.UnexpectedInput, text: str) -> ParseError:
    if isinstance(error, lark.exceptions.UnexpectedCharacters):
        at = error.pos_in_stream or 0
        return ParseError(f"unexpected character {text[at]!r} at position {at + 1}",
                          text, at, at + 1, _hint_for_character(text[at]))
    if isinstance(error, lark.exceptions.UnexpectedEOF) or \
            getattr(getattr(error, "token", None), "type", "$END") == "$END":
        expected = getattr(error, "expected", None) or getattr(error, "accepts", None) or []
        return ParseError(f"the expression ends too early: expected {_describe(expected)}",
                          text, len(text), len(text) + 1, _unclosed_hint(text))
    assert isinstance(error, lark.exceptions.UnexpectedToken)
    token = error.token
    start = token.start_pos or 0
    return ParseError(f"unexpected {token.value!r} at position {start + 1}: expected {_describe(error.expected)}",
                      text, start, token.end_pos or start + 1)


def _hint_for_character(char: str) -> str | None:
    hints = {"'": "A transpose ' must follow an operand, as in x'.", "=": "Write an expression, not an equation.",
             "[": "Columns are written [f1; f2].", "{": "Use parentheses ( ) for grouping.",
             '"': 'A quoted "spec" is an argument of einsum, as in einsum("ij->ji", A).'}
    return hints.get(char)


def _unclosed_hint(text: str) -> str | None:
    depth = text.count("(") - text.count(")")
    return f"{depth} parenthesis(es) not closed." if depth > 0 else None
