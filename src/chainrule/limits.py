"""Bounds on the work one request may do, so every input answers in seconds or stops with a clear error.

The limits in force are a value of `Limits`, read from a context variable: `with cr.limits(order=20): ...` raises
one for a block of code (scoped to the thread or task, like `numpy.errstate`), the CLI sets them from `--limit
NAME=VALUE` or the environment variable CHAINRULE_LIMITS ("order=20,eval_bytes=8e9"). There is no other global state.

>>> import chainrule as cr
>>> with cr.limits(order=3):
...     cr.current_limits().order
3
"""
from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from .errors import ChainruleError

ENVIRONMENT_VARIABLE = "CHAINRULE_LIMITS"


class LimitError(ChainruleError):
    """A request that would exceed one of the documented limits."""


DESCRIPTIONS = {
    "input_chars": "characters of input",
    "depth": "nesting depth",
    "order": "derivative order",
    "power": "integer matrix power",
    "nodes": "expression nodes built (each counted with its operands)",
    "eval_bytes": "bytes of memory for one evaluation",
    "size": "entries of one array",
    "explain_steps": "intermediates shown step by step",
}


@dataclass(frozen=True)
class Limits:
    """Every bound, with its default. Sizes in characters, levels, bytes or counts."""
    input_chars: int = 200_000         # length of an expression's text
    depth: int = 10_000                # nesting depth of parentheses and function calls
    order: int = 10                    # derivative order
    power: int = 1_000                 # |n| of an integer matrix power A^n
    nodes: int = 120_000               # IR nodes one derivative may build, each counted with its operands
    #                                    (95,000 for sin(...) 10,000 deep; a 12-operand product counts 13)
    eval_bytes: int = 4 * 2**30        # memory of one evaluation, at its largest step (bytes)
    size: int = 10**9                  # number of entries of one array (eye(n), a value)
    explain_steps: int = 100           # intermediates shown one by one by explain and trace; beyond, a summary
    #                                    (a full derivation prints every step's expression: quadratic in the steps)


    def exceeded(self, name: str, needed: object, what: str = "") -> LimitError:
        """The error for a request that needs `needed` where the limit `name` allows less."""
        allowed = getattr(self, name)
        subject = what or DESCRIPTIONS[name]
        if len(subject) > 100:      # a subexpression of a huge literal, such as eye(1e308)
            subject = subject[:97] + "..."
        return LimitError(f"{subject}: {_compact(needed)} exceeds the limit of {allowed} ({name})",
                          hint=f"To raise it: cr.limits({name}=...) in Python, --limit {name}=... on the command "
                               f"line, or {ENVIRONMENT_VARIABLE}='{name}=...'.")

    def check(self, name: str, needed: float, what: str = "") -> None:
        if needed > getattr(self, name):
            raise self.exceeded(name, needed, what)

    def replace(self, **changes: object) -> Limits:
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise LimitError(f"unknown limit {', '.join(unknown)}",
                             hint=f"The limits are: {', '.join(f.name for f in dataclasses.fields(self))}.")
        checked = {}
        for name, value in changes.items():
            number = _positive_int(name, value)
            checked[name] = number
        return dataclasses.replace(self, **checked)


def _compact(number: object) -> str:
    """A number as written, or in scientific notation when it has more digits than a reader wants to count."""
    if isinstance(number, int) and abs(number) >= 10**15:
        digits = str(abs(number))        # exact: such an int may be too large for a float
        return f"{'-' if number < 0 else ''}{digits[0]}.{digits[1:3]}e+{len(digits) - 1}"
    if isinstance(number, float) and abs(number) >= 1e15:
        return f"{number:.3g}"
    return str(number)


def _positive_int(name: str, value: object) -> int:
    try:
        number = float(value)  # type: ignore[arg-type]  # accepts "8e9" from the command line; else fails below
    except (TypeError, ValueError):
        number = float("nan")
    if not 1 <= number < math.inf:      # also refuses NaN
        raise LimitError(f"the limit {name} must be a positive number, not {value!r}")
    return int(number)


_current: contextvars.ContextVar[Limits] = contextvars.ContextVar(
    "chainrule_limits", default=Limits())  # noqa: B039  (Limits is frozen: the default is never mutated)


def current_limits() -> Limits:
    """The limits in force here.

    >>> import chainrule as cr
    >>> cr.current_limits().order
    10
    """
    return _current.get()


@contextlib.contextmanager
def limits(**changes: object) -> Iterator[Limits]:
    """Raise (or lower) limits inside a `with` block: `with cr.limits(order=20, eval_bytes=16e9): ...`.

    >>> import chainrule as cr
    >>> with cr.limits(order=20):
    ...     print(cr.derivative("exp(a)", "a", order=15))
    exp(a)
    """
    token = _current.set(_current.get().replace(**changes))
    try:
        yield _current.get()
    finally:
        _current.reset(token)


def parse_limits(text: str) -> dict[str, str]:
    """"order=20,eval_bytes=8e9" -> {"order": "20", "eval_bytes": "8e9"} (checked by Limits.replace)."""
    pairs: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = item.partition("=")
        if not sep:
            raise LimitError(f"cannot read the limit {item!r}", hint="Write NAME=VALUE, for example order=20.")
        pairs[name.strip()] = value.strip()
    return pairs


def from_environment(environ: Mapping[str, str]) -> dict[str, str]:
    return parse_limits(environ.get(ENVIRONMENT_VARIABLE, ""))
