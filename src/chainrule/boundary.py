"""Checks of the arguments that cross the public API.

The layers below trust their inputs; these checks make a wrong *type* of argument (values that are not a mapping, a
name that is not text) a `UsageError` that says what was expected; api.py checks that an expression is one. They are
guards, not a catch-all: an exception other than a ChainruleError from the layers below, on arguments that passed
here, is a bug of chainrule and stays visible as one.

>>> declarations({"x": "vector"}, {"A": "symmetric"})
{'x': 'vector', 'A': 'symmetric'}
>>> declarations({"x": "vector"}, {"x": "scalar"})
Traceback (most recent call last):
    ...
chainrule.errors.UsageError: x is declared twice, as 'vector' and as 'scalar'
"""
from __future__ import annotations

import re
from collections.abc import Mapping

from .errors import UsageError

# the input language's names (language/parser.py, NAME): a declaration or value under any other name could never be used
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def is_name(name: object) -> bool:
    return isinstance(name, str) and _NAME.fullmatch(name) is not None


def name(value: object, what: str) -> str:
    """value, if it is a variable name of the input language."""
    if isinstance(value, str) and is_name(value):
        return value
    shown = repr(value) if isinstance(value, str) else type(value).__name__
    raise UsageError(f"{what} must be a variable name such as x or W1, not {shown}",
                     hint="Names start with a letter or _, followed by letters, digits or _.")


def mapping(value: object, what: str, example: str) -> Mapping:
    """value, if it is a mapping (or None: an empty one) whose keys are text."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise UsageError(f"{what} must be a mapping from names to values, not {type(value).__name__}",
                         hint=f"Write, for example, {example}.")
    for key in value:
        if not isinstance(key, str):
            raise UsageError(f"{what} are keyed by variable names (text), not by {type(key).__name__}",
                             hint=f"Write, for example, {example}.")
    return value


def declarations(given: object, keywords: Mapping[str, object]) -> dict[str, object]:
    """Declarations from a mapping and from keywords together; the mapping lets a variable be called `text`, `f`,
    `wrt`, ..., which keyword arguments cannot. Each name must be one the input language can spell."""
    merged = dict(mapping(given, "declarations", "{'A': 'symmetric', 'x': ('n',)}"))
    for key, kind in keywords.items():
        if key in merged and merged[key] != kind:
            raise UsageError(f"{key} is declared twice, as {merged[key]!r} and as {kind!r}")
        merged[key] = kind
    for key in merged:
        if not is_name(key):
            raise UsageError(f"cannot declare {key!r}: it is not a variable name of the input language",
                             hint="Names start with a letter or _, followed by letters, digits or _ (ASCII).")
    return merged
