"""Text -> surface syntax tree, with lark's LALR parser and errors that point at the position."""
from __future__ import annotations

from functools import lru_cache
from importlib import resources

import lark

from ..errors import ParseError
from .surface import Syntax

MAX_LENGTH = 1_000_000


@lru_cache(maxsize=1)
def _parser() -> lark.Lark:
    grammar = resources.files(__package__).joinpath("grammar.lark").read_text()
    return lark.Lark(grammar, parser="lalr", propagate_positions=True, maybe_placeholders=True)


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
    return _convert(tree)


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


def _convert(tree) -> Syntax:
    """lark tree -> Syntax, iteratively (nesting may be deeper than Python's recursion limit)."""
    done: dict[int, Syntax] = {}
    stack = [(tree, False)]
    while stack:
        item, expanded = stack.pop()
        if not isinstance(item, lark.Tree):
            continue
        if not expanded:
            stack.append((item, True))
            stack.extend((c, False) for c in _subtrees(item))
            continue
        done[id(item)] = _node(item, done)
    return done[id(tree)]


def _subtrees(tree: lark.Tree) -> list[lark.Tree]:
    kids = tree.children
    if tree.data == "call":
        kids = kids[1].children if kids[1] is not None else []
    return [c for c in kids if isinstance(c, lark.Tree)]


def _node(tree: lark.Tree, done: dict[int, Syntax]) -> Syntax:
    start, end = tree.meta.start_pos, tree.meta.end_pos
    kids = tree.children
    if tree.data == "number":
        return Syntax("number", (), start, end, float(kids[0]))
    if tree.data == "name":
        return Syntax("name", (), start, end, str(kids[0]))
    if tree.data == "call":
        args = kids[1].children if kids[1] is not None else []
        converted = tuple(_argument(a, done) for a in args)
        return Syntax("call", converted, start, end, str(kids[0]))
    return Syntax(str(tree.data), tuple(done[id(k)] for k in kids), start, end)


def _argument(item, done: dict[int, Syntax]) -> Syntax:
    if isinstance(item, lark.Tree):
        return done[id(item)]
    return Syntax("string", (), item.start_pos, item.end_pos, str(item)[1:-1])
