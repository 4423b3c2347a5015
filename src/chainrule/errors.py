"""The project's exception types.

Messages say what went wrong, where (a caret under the expression) and how to fix it."""
from __future__ import annotations


class ChainruleError(Exception):
    """Base class of every error chainrule raises on bad input."""

    def __init__(self, message: str, text: str | None = None, start: int | None = None, end: int | None = None,
                 hint: str | None = None):
        self.message, self.text, self.start, self.end, self.hint = message, text, start, end, hint
        super().__init__(self.render())

    def render(self) -> str:
        lines = [self.message]
        if self.text is not None and self.start is not None:
            lines += _excerpt(self.text, self.start, self.end)
        if self.hint:
            lines.append(self.hint)
        return "\n".join(lines)


class ParseError(ChainruleError):
    """The text is not a well-formed expression."""


class ShapeError(ChainruleError):
    """Operands whose shapes do not fit the operation."""


class EvaluationError(ChainruleError):
    """Values missing, or of the wrong shape, at evaluation."""


class DerivativeError(ChainruleError):
    """A derivative that cannot be taken as asked."""


class UsageError(ChainruleError):
    """An argument of the public API or the command line of the wrong type or form (a name that is not text, values
    that are not a mapping, a negative seed, ...)."""


class InternalError(Exception):
    """A bug of chainrule, never of the input: an IR node that breaks its primitive's shape rule, a step whose value
    has the wrong shape. Deliberately not a ChainruleError, so that no caller takes it for an answer about bad input
    (the fuzz tests report it, the command line exits with status 3)."""


def _excerpt(text: str, start: int, end: int | None, width: int = 72) -> list[str]:
    """The part of text around [start, end) with a caret line under it."""
    end = max(start + 1, end or start + 1)
    left = max(0, min(start - width // 3, len(text) - width))
    shown = text[left:left + width]
    prefix = "..." if left > 0 else ""
    suffix = "..." if left + width < len(text) else ""
    marks = " " * (len(prefix) + start - left) + "^" * max(1, min(end, left + width) - start)
    return ["  " + prefix + shown + suffix, "  " + marks]
