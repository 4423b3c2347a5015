"""Text -> surface syntax tree: an operator-precedence parser over explicit stacks, in time linear in the text.

The grammar (MATLAB-like matrix notation: a vector is a column, x' is a row), weakest binding first:

    expr     := expr ("+" | "-") term | term                          left-associative
    term     := term ("*" | "/" | ".*" | "./") unary | unary          left-associative
    unary    := ("-" | "+") unary | power
    power    := postfix ("^" | ".^") unary | postfix                 so -a^2 is -(a^2) and a^b^c is a^(b^c)
    postfix  := postfix "'" | atom
    atom     := NUMBER | NAME | NAME "(" [argument ("," argument)*] ")" | "(" expr ")" | "[" expr (";" expr)* "]"
    argument := expr | STRING                                         a quoted "spec", as in einsum("ij->ji", A)

    NUMBER   := ([0-9]+(\\.(?![*/^'])[0-9]*)? | \\.[0-9]+)([eE][+-]?[0-9]+)?   a dot before an operator belongs
    NAME     := [A-Za-z_][A-Za-z0-9_]*                                  to it: "2.*x" is 2 .* x
    STRING   := "..." | '...'                                         (' only where an operand may start)

No recursion: each bracket opens a frame with its own operand and operator stacks, so nesting costs memory, not
Python stack. The length of the text and the nesting depth of brackets and calls are bounded by `Limits.input_chars`
and `Limits.depth` (a chain of operators such as ---x or x'''' is not nesting).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import NamedTuple

from ..errors import ParseError
from ..limits import LimitError, current_limits
from .surface import Syntax

# binary operators: symbol -> (syntax op, precedence, right-associative)
_BINARY = {"+": ("add", 1, False), "-": ("sub", 1, False), "*": ("mul", 2, False), "/": ("div", 2, False),
           ".*": ("emul", 2, False), "./": ("ediv", 2, False), "^": ("pow", 4, True), ".^": ("epow", 4, True)}
_PREFIX = 3          # "-x" and "+x" bind more weakly than powers and more tightly than products
_CLOSERS = {"top": ("END",), "group": (")",), "stack": (";", "]"), "call": (",", ")")}

_SPACE = re.compile(r"[ \t\f\r\n]*")
_TOKEN = re.compile(r"[ \t\f\r\n]*(?:(?P<NUMBER>(?:[0-9]+(?:\.(?![*/^'])[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)"
                    r"|(?P<NAME>[A-Za-z_][A-Za-z0-9_]*)|(?P<STRING>\"[^\"]*\")"
                    r"|(?P<OP>\.[*/^]|[-+*/^'()\[\];,])|(?P<END>\Z))")
_SINGLE_QUOTED = re.compile(r"'[^']*'")
_CALL_OPENS = re.compile(r"[ \t\f\r\n]*\(")        # a name followed by ( is a call
_CALL_CLOSES = re.compile(r"[ \t\f\r\n]*\)")


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
    return _Parser(text).run()


class _Token(NamedTuple):
    kind: str            # NUMBER, NAME, STRING, OP or END
    value: str
    start: int
    end: int


@dataclass
class _Frame:
    """One bracket level: the operands and pending operators of the expression being read inside it."""
    kind: str                                   # top, group, call, stack
    opener: _Token | None = None                # the "(" or "[" (for a call: the name)
    items: list = field(default_factory=list)   # finished arguments or entries
    operands: list = field(default_factory=list)
    operators: list = field(default_factory=list)   # (symbol, precedence, right-assoc, token)


class _Parser:
    def __init__(self, text: str):
        self.text, self.pos = text, 0
        self.frames = [_Frame("top")]
        self.depth_limit = current_limits().depth

    # ---- tokens --------------------------------------------------------------------------------------------------

    def _next(self, operand: bool) -> _Token:
        """The next token; where an operand is expected ' starts a STRING, elsewhere it is a transpose."""
        text = self.text
        match = _TOKEN.match(text, self.pos)
        if match is None:
            pos = _SPACE.match(text, self.pos).end()
            char = text[pos]
            raise ParseError(f"unexpected character {char!r} at position {pos + 1}", text, pos, pos + 1,
                             _hint_for_character(char))
        kind = match.lastgroup
        start, end = match.start(kind), match.end()
        if operand and kind == "OP" and text[start] == "'":
            quoted = _SINGLE_QUOTED.match(text, start)
            if quoted:
                kind, end = "STRING", quoted.end()
        self.pos = end
        return _Token(kind, text[start:end], start, end)

    def _next_if(self, pattern: re.Pattern) -> _Token | None:
        """The next token if it is the bracket `pattern` matches (after spaces), else None."""
        match = pattern.match(self.text, self.pos)
        if match is None:
            return None
        self.pos = match.end()
        return _Token("OP", self.text[match.end() - 1], match.end() - 1, match.end())

    # ---- the loop: alternately an operand, then what may follow one ------------------------------------------------

    def run(self) -> Syntax:
        while True:
            self._operand()
            result = self._after_operand()
            if result is not None:
                return result

    def _operand(self) -> None:
        """Read prefix signs and openers until an atom is complete (pushed on the current frame)."""
        while True:
            frame = self.frames[-1]
            token = self._next(operand=True)
            if token.kind == "NUMBER":
                frame.operands.append(Syntax("number", (), token.start, token.end, float(token.value)))
                return
            if token.kind == "NAME":
                bracket = self._next_if(_CALL_OPENS)
                if bracket is not None:
                    self._open("call", token, bracket)
                    closing = self._next_if(_CALL_CLOSES)       # f() : no arguments
                    if closing is not None:
                        self._close(closing)
                        return
                    continue
                frame.operands.append(Syntax("name", (), token.start, token.end, token.value))
                return
            if token.kind == "STRING" and frame.kind == "call" and not frame.operands and not frame.operators:
                frame.operands.append(Syntax("string", (), token.start, token.end, token.value[1:-1]))
                return
            if token.value in ("-", "+") and token.kind == "OP":
                frame.operators.append((token.value, _PREFIX, True, token))
            elif token.value in ("(", "[") and token.kind == "OP":
                self._open("group" if token.value == "(" else "stack", token, token)
            else:
                raise self._unexpected(token, self._operand_expected(frame))

    def _after_operand(self) -> Syntax | None:
        """Postfix transposes, then a binary operator (return to read its right operand) or a closer."""
        while True:
            frame = self.frames[-1]
            token = self._next(operand=False)
            if frame.operands[-1].op == "string" and token.value not in _CLOSERS["call"]:
                raise self._unexpected(token, list(_CLOSERS["call"]))     # a quoted spec is a whole argument
            if token.value == "'" and token.kind == "OP":
                x = frame.operands[-1]
                frame.operands[-1] = Syntax("transpose", (x,), x.start, token.end)
            elif token.kind == "OP" and token.value in _BINARY:
                self._binary(frame, token)
                return None
            elif token.kind == "END" and frame.kind == "top":
                return self._finish(frame)
            elif token.kind == "OP" and token.value in _CLOSERS[frame.kind]:
                if token.value in (",", ";"):
                    frame.items.append(self._finish(frame))
                    return None
                self._close(token)
            else:
                raise self._unexpected(token, self._operator_expected(frame))

    def _binary(self, frame: _Frame, token: _Token) -> None:
        _, precedence, right = _BINARY[token.value]
        while frame.operators and (frame.operators[-1][1] > precedence or
                                   (frame.operators[-1][1] == precedence and not right)):
            self._reduce(frame)
        frame.operators.append((token.value, precedence, right, token))

    def _reduce(self, frame: _Frame) -> None:
        symbol, precedence, _, token = frame.operators.pop()
        if precedence == _PREFIX:
            x = frame.operands.pop()
            if symbol == "-":
                frame.operands.append(Syntax("neg", (x,), token.start, x.end))
            else:
                frame.operands.append(x)            # "+x" is x
            return
        y = frame.operands.pop()
        x = frame.operands.pop()
        frame.operands.append(Syntax(_BINARY[symbol][0], (x, y), x.start, y.end))

    def _finish(self, frame: _Frame) -> Syntax:
        """The whole expression read in this frame since its opener or its last separator."""
        while frame.operators:
            self._reduce(frame)
        result = frame.operands.pop()
        assert not frame.operands
        return result

    # ---- brackets ------------------------------------------------------------------------------------------------

    def _open(self, kind: str, opener: _Token, bracket: _Token) -> None:
        depth = len(self.frames)
        if depth > self.depth_limit:
            check_at("depth", depth, f"nesting depth of brackets and calls at position {bracket.start + 1}",
                     self.text, bracket.start, bracket.end)
        self.frames.append(_Frame(kind, opener))

    def _close(self, token: _Token) -> None:
        frame = self.frames.pop()
        opener = frame.opener
        if frame.kind == "call":
            args = tuple(frame.items) + ((self._finish(frame),) if frame.operands else ())
            node = Syntax("call", args, opener.start, token.end, opener.value)
        elif frame.kind == "stack":
            entries = tuple(frame.items) + (self._finish(frame),)
            node = Syntax("stack", entries, opener.start, token.end)
        else:
            inner = self._finish(frame)     # parentheses widen the span, they make no node
            node = Syntax(inner.op, inner.args, opener.start, token.end, inner.value)
        self.frames[-1].operands.append(node)

    # ---- errors --------------------------------------------------------------------------------------------------

    def _operand_expected(self, frame: _Frame) -> list[str]:
        expected = ["NUMBER", "NAME", "(", "[", "-", "+"]
        if frame.kind == "call" and not frame.operators:
            expected.append("STRING")
            if not frame.items:
                expected.append(")")
        return expected

    def _operator_expected(self, frame: _Frame) -> list[str]:
        return [*_BINARY, "'", *_CLOSERS[frame.kind]]

    def _unexpected(self, token: _Token, expected: list[str]) -> ParseError:
        text = self.text
        if token.kind == "END":
            return ParseError(f"the expression ends too early: expected {_describe(expected)}",
                              text, len(text), len(text) + 1, self._unclosed_hint())
        return ParseError(f"unexpected {token.value!r} at position {token.start + 1}: expected {_describe(expected)}",
                          text, token.start, token.end)

    def _unclosed_hint(self) -> str | None:
        parentheses = sum(f.kind in ("group", "call") for f in self.frames)
        return f"{parentheses} parenthesis(es) not closed." if parentheses else None


def _describe(names: list[str]) -> str:
    friendly = {"NUMBER": "a number", "NAME": "a name", "STRING": 'a quoted "spec"', "END": "the end"}
    shown = sorted({friendly.get(n, f"'{n}'") for n in names})
    return ", ".join(shown[:-1]) + (" or " if len(shown) > 1 else "") + shown[-1]


def _hint_for_character(char: str) -> str | None:
    hints = {"=": "Write an expression, not an equation.", "{": "Use parentheses ( ) for grouping.",
             '"': 'A quoted "spec" is an argument of einsum, as in einsum("ij->ji", A).'}
    return hints.get(char)
