"""A fast reader of grammar.lark's language: operator precedence with explicit stacks, no parse tables.

lark's LALR parser is the definition of the language and the source of every syntax error; it spends about 13 µs
per character of a long chain in Python. This reader builds the same `Syntax` trees (same nodes, spans and values) in
a fraction of that, and declines (returns None) at anything it does not fully recognise, where parse_syntax asks lark:
so an error, or any unusual input, is always lark's. tests/language/test_reader.py checks both agree on the
test suite's expressions and on random token strings. It keeps no recursion, so depth costs memory, not stack.

The grammar, as precedence (binding tighter downwards):
    + -            left associative, between terms
    * / .* ./      left associative; the right operand is a unary
    - + (prefix)   its operand is a unary: -a^2 is -(a^2), -a*b is (-a)*b
    ^ .^           right associative; the left operand is a postfix, the right a unary: a^-b^c is a^(-(b^c))
    '              postfix, on the operand just read
"""
from __future__ import annotations

import dataclasses
import re

from .surface import Syntax, bracket

# The lexemes are grammar.lark's (NUMBER, NAME, STRING, WS): parse_syntax's test compares them with lark's own.
NUMBER = r"(\d+(\.(?![*\/^'])\d*)?|\.\d+)([eE][+-]?\d+)?"
NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_TOKEN = re.compile(rf"[ \t\f\r\n]*(?:(?P<num>{NUMBER})|(?P<name>{NAME})|(?P<op>\.\*|\./|\.\^|[-+*/^'()\[\];,:])"
                    rf"|(?P<str>\"[^\"]*\"))")
_QUOTED = re.compile(r"'[^']*'")       # a STRING in single quotes: only where an argument starts (else ' transposes)
_SPACE = re.compile(r"[ \t\f\r\n]*")

# binary operator -> (its node, binding power, right associative)
_BINARY = {"+": ("add", 1, False), "-": ("sub", 1, False), "*": ("mul", 2, False), "/": ("div", 2, False),
           ".*": ("emul", 2, False), "./": ("ediv", 2, False), "^": ("pow", 4, True), ".^": ("epow", 4, True)}
_PREFIX = 3            # the binding power of a prefix sign: tighter than * and looser than ^


class Declined(Exception):
    """The reader does not recognise the text; lark reads it (and reports the error, if there is one)."""


@dataclasses.dataclass
class _Frame:
    """An open bracket: what opened it, where, and the items read inside so far."""
    kind: str                  # group, bracket ([...]), call, index
    start: int
    head: object = None        # the called name (call) or the indexed operand (index)
    items: list = dataclasses.field(default_factory=list)   # inside [...]: the blocks of the row being read
    rows: list = dataclasses.field(default_factory=list)    # inside [...]: the rows read before it (before a ;)
    range_from: Syntax | None = None   # the first bound of a range a:b being read


def read(text: str) -> Syntax | None:
    """The syntax tree of text as lark's parser builds it, or None where this reader declines.

    >>> read("-a^2").op, read("x'*y").args[0].op
    ('neg', 'transpose')
    >>> read("x +* y") is None
    True
    """
    try:
        return _Reader(text).run()
    except Declined:
        return None


class _Reader:
    def __init__(self, text: str):
        self.text = text
        self.pos = 0
        self.operands: list[Syntax] = []
        # pending operators and open brackets: ("bin", node name, binding power, right associative) |
        # ("neg", start of the sign) | ("pos",) | ("frame", _Frame)
        self.pending: list[tuple] = []
        self._closed_indexable = False     # the bracket that closed last was a group or [...]

    # ---- tokens ------------------------------------------------------------------------------------------------

    def _token(self) -> tuple[str, str, int, int]:
        """(kind, text, start, end) of the next token; kind 'end' at the end of the text."""
        match = _TOKEN.match(self.text, self.pos)
        if match is None:
            rest = _SPACE.match(self.text, self.pos)
            if rest is not None and rest.end() == len(self.text):
                return "end", "", len(self.text), len(self.text)
            raise Declined
        kind = match.lastgroup
        assert kind is not None
        start, end = match.span(kind)
        self.pos = end
        return kind, match.group(kind), start, end

    def _peek_is(self, char: str) -> bool:
        """Whether the next token (after spaces) is the single character `char`, without reading it."""
        at = _SPACE.match(self.text, self.pos)
        end = at.end() if at is not None else self.pos
        return self.text.startswith(char, end)

    # ---- the loop: alternately an operand, then operators after it ---------------------------------------------

    def run(self) -> Syntax:
        expect_operand = True
        indexable = False             # the last operand read is a group or [...]: a following ( indexes it
        while True:
            kind, value, start, end = self._token()
            if expect_operand:
                expect_operand = self._operand(kind, value, start, end)
                indexable = False
                continue
            if kind == "end":
                self._reduce(0)
                if self.pending or len(self.operands) != 1:
                    raise Declined
                return self.operands[0]
            if kind != "op":
                raise Declined
            if value in _BINARY:
                name, power, right = _BINARY[value]
                self._reduce(power + 1 if right else power)
                self.pending.append(("bin", name, power, right))
                expect_operand = True
            elif value == "'":
                operand = self.operands.pop()
                self.operands.append(Syntax("transpose", (operand,), operand.start, end))
            elif value == "(" and indexable:
                self.pending.append(("frame", _Frame("index", start, self.operands.pop())))
                expect_operand = self._argument_start()
            elif value in ")];,:":
                closed = self._separator(value, start, end)
                expect_operand = not closed
                indexable = closed and self._closed_indexable
                continue
            else:
                raise Declined
            indexable = False

    def _operand(self, kind: str, value: str, start: int, end: int) -> bool:
        """Reads the start of an operand; whether an operand is still expected after it (after a sign or bracket)."""
        if kind == "num":
            self.operands.append(Syntax("number", (), start, end, float(value)))
            return False
        if kind == "name":
            if self._peek_is("("):
                self._token()
                self.pending.append(("frame", _Frame("call", start, value)))
                return self._argument_start(call=True)
            self.operands.append(Syntax("name", (), start, end, value))
            return False
        if kind != "op":
            raise Declined
        if value == "-":
            self.pending.append(("neg", start))
        elif value == "+":
            self.pending.append(("pos",))
        elif value == "(":
            self.pending.append(("frame", _Frame("group", start)))
        elif value == "[":
            self.pending.append(("frame", _Frame("bracket", start)))
        else:
            raise Declined
        return True

    # ---- arguments of calls and indexing -----------------------------------------------------------------------

    def _argument_start(self, call: bool = False) -> bool:
        """After ( or , inside a call or an index: reads the arguments that are not expressions (a quoted spec, :
        or []) whole; whether an expression is expected next (else the bracket closed)."""
        frame = self.pending[-1][1]
        while True:
            save = self.pos
            kind, value, start, end = self._token()
            if call and value == ")" and not frame.items:
                self._close_call(end)
                return False
            item = self._whole_argument(kind, value, start, end)
            if item is None:
                self.pos = save
                return True
            frame.items.append(item)
            kind, value, start, end = self._token()
            if value == ")":
                self._close_call(end)
                return False
            if value != ",":
                raise Declined
            call = False

    def _whole_argument(self, kind: str, value: str, start: int, end: int) -> Syntax | None:
        if kind == "str" or value == "'":
            if value == "'":
                quoted = _QUOTED.match(self.text, start)
                if quoted is None:
                    raise Declined
                end = self.pos = quoted.end()
            return Syntax("string", (), start, end, self.text[start + 1:end - 1])
        if value == ":":
            return Syntax("colon", (), start, end)
        if value == "[" and self._peek_is("]"):
            closing = self._token()
            return Syntax("empty", (), start, closing[3])
        return None

    def _close_call(self, end: int) -> None:
        frame = self.pending.pop()[1]
        if frame.kind == "call":
            self.operands.append(Syntax("call", tuple(frame.items), frame.start, end, frame.head))
        elif frame.items:
            head = frame.head
            self.operands.append(Syntax("index", (head, *frame.items), head.start, end))
        else:
            raise Declined

    # ---- separators and closing brackets -----------------------------------------------------------------------

    def _separator(self, value: str, start: int, end: int) -> bool:
        """; , : ) or ] after an expression inside a bracket; whether a bracket closed (an operand is complete)."""
        self._reduce(0)
        if not self.pending:
            raise Declined
        frame = self.pending[-1][1]
        item = self.operands.pop()
        self._closed_indexable = False
        if frame.kind == "group":
            if value != ")":
                raise Declined
            self.pending.pop()
            self.operands.append(dataclasses.replace(item, start=frame.start, end=end))
            self._closed_indexable = True
            return True
        if frame.kind == "bracket":
            return self._in_brackets(frame, item, value, end)
        return self._in_arguments(frame, item, value, end)

    def _in_brackets(self, frame: _Frame, item: Syntax, value: str, end: int) -> bool:
        frame.items.append(item)
        if value in ";]":
            frame.rows.append(frame.items)
            frame.items = []
        if value == "]":
            self.pending.pop()
            self.operands.append(bracket(frame.rows, frame.start, end))
            self._closed_indexable = True
            return True
        if value not in ";,":
            raise Declined
        return False

    def _in_arguments(self, frame: _Frame, item: Syntax, value: str, end: int) -> bool:
        if value == ":":
            if frame.range_from is not None:
                raise Declined
            frame.range_from = item
            return False
        if frame.range_from is not None:
            item = Syntax("range", (frame.range_from, item), frame.range_from.start, item.end)
            frame.range_from = None
        frame.items.append(item)
        if value == ",":
            return not self._argument_start()      # False: an expression follows; True: the call closed
        if value == ")":
            self._close_call(end)
            return True
        raise Declined

    # ---- applying pending operators ----------------------------------------------------------------------------

    def _reduce(self, power: int) -> None:
        """Applies the pending operators that bind at least `power`, up to the innermost open bracket."""
        pending, operands = self.pending, self.operands
        while pending:
            top = pending[-1]
            kind = top[0]
            if kind == "bin":
                if top[2] < power:
                    return
                pending.pop()
                right = operands.pop()
                left = operands.pop()
                operands.append(Syntax(top[1], (left, right), left.start, right.end))
            elif kind == "neg" or kind == "pos":
                if power > _PREFIX:
                    return
                pending.pop()
                if kind == "neg":
                    operand = operands.pop()
                    operands.append(Syntax("neg", (operand,), top[1], operand.end))
            else:
                return
