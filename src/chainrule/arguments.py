"""Reading command-line values shared by every subcommand: declarations, values, random points."""
from __future__ import annotations

import argparse
import difflib
import functools
import json
import math
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import TextIO

import numpy as np

from .api import derivative
from .boundary import is_name
from .errors import ChainruleError, UsageError
from .expr import Expr, inferred_lines
from .language.infer import KINDS
from .language.parser import parse_syntax
from .language.rules import CONSTANTS, FUNCTIONS, index_calls
from .language.surface import walk
from .limits import from_environment, parse_limits
from .numeric.points import finite_points

_SIZE = re.compile(r"[0-9]+")    # ASCII digits only: "²".isdigit() is true, but int("²") fails


def declaration(item: str) -> tuple[str, object]:
    """--var NAME=KIND|DIMS -> (name, kind or dimension tuple): A=symmetric, X=m,n, x=3, a=scalar or a=()."""
    name, _, value = item.partition("=")
    if not is_name(name) or not value:
        raise UsageError(f"cannot read --var {item!r}", hint="Write --var A=symmetric, --var X=m,n or --var x=3.")
    if value in KINDS:
        return name, value
    if value == "()":
        return name, ()
    close = difflib.get_close_matches(value, KINDS, n=1, cutoff=0.75)
    if close:
        raise UsageError(f"unknown kind in --var {item!r}", hint=f"Did you mean {name}={close[0]}?")
    dims = [d.strip() for d in value.split(",")]
    if not all(_SIZE.fullmatch(d) or is_name(d) for d in dims):
        raise UsageError(f"cannot read --var {item!r}: a dimension is a size such as 3 or a name such as n",
                         hint=f"Write --var {name}=3, --var {name}=m,n or --var {name}={KINDS[1]} "
                              f"(kinds: {', '.join(KINDS)}).")
    return name, tuple(int(d) if _SIZE.fullmatch(d) else d for d in dims)


def declarations(items: Sequence[str], text: str) -> dict[str, object]:
    """The --var declarations; each must name a variable of the expression (a typo would otherwise be ignored)."""
    decls: dict[str, object] = {}
    for item in items:
        name, kind = declaration(item)
        if name in decls and decls[name] != kind:
            raise UsageError(f"--var declares {name} twice, as {decls[name]!r} and as {kind!r}")
        decls[name] = kind
    if not decls:
        return decls        # nothing to check: reading a long expression twice would double the parse
    used = _names_in(text)
    for name in decls:
        if name not in used:
            close = difflib.get_close_matches(name, sorted(used), n=1)
            raise UsageError(f"--var declares {name}, which is not a variable of the expression",
                             hint=f"Did you mean --var {close[0]}=...?" if close else
                             f"Its variables are: {', '.join(sorted(used)) or 'none'}.")
    return decls


def _names_in(text: str) -> set[str]:
    return {n.value for n in walk(index_calls(parse_syntax(text))) if n.op == "name"} - set(FUNCTIONS) - set(CONSTANTS)


def value(item: str, flag: str = "--at") -> tuple[str, np.ndarray]:
    """--at NAME=VALUES -> (name, float array): x=1,2,3, A='1,2;3,4', b=0.5 or JSON such as A='[[1,2],[3,4]]'.
    Every entry must be a finite number: NaN, infinity and JSON null are refused, never passed on."""
    name, _, text = item.partition("=")
    hint = (f"Write {flag} x=1,2,3 for a vector, {flag} A='1,2;3,4' for a matrix (rows of equal length), "
            f"{flag} b=0.5, or JSON such as {flag} A='[[1,2],[3,4]]'.")
    if not is_name(name):
        raise UsageError(f"cannot read {flag} {item!r}: it does not start with a variable name and =", hint=hint)
    try:
        array = _json_array(text) if text.lstrip().startswith("[") else _plain_array(text)
    except _NotANumber as error:
        raise UsageError(f"cannot read {flag} {_short(item)}: {error}", hint=hint) from None
    except RecursionError:      # json's parser recurses once per [
        raise UsageError(f"cannot read {flag} {_short(item)}: it is nested too deeply", hint=hint) from None
    except (ValueError, TypeError, OverflowError):   # not numbers, or rows of different lengths
        raise UsageError(f"cannot read {flag} {_short(item)}", hint=hint) from None
    if not np.all(np.isfinite(array)):
        raise UsageError(f"{flag} {_short(item)} holds NaN or an infinity; values must be finite numbers",
                         hint="Give finite values (a number too large for a float is infinite too).")
    return name, array


def values(items: Sequence[str], flag: str = "--at") -> dict[str, np.ndarray]:
    given: dict[str, np.ndarray] = {}
    for item in items:
        name, array = value(item, flag)
        if name in given:
            raise UsageError(f"{flag} gives {name} twice", hint=f"Give one {flag} {name}=... .")
        given[name] = array
    return given


def _plain_array(text: str) -> np.ndarray:
    array = np.array([[float(v) for v in row.split(",")] for row in text.split(";")])
    return array.reshape(-1) if ";" not in text else array


def _json_array(text: str) -> np.ndarray:
    data = json.loads(text, parse_constant=_refuse)
    stack = [data]          # only nested lists of numbers (no null, true, strings or objects), checked iteratively
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, bool) or not isinstance(item, (int, float)):
            raise _NotANumber(f"{json.dumps(item)[:40]} is not a number")
    return np.array(data, dtype=float)


class _NotANumber(ValueError):
    """An entry of a JSON value that is not a finite number (null, true, text, an object, NaN, Infinity)."""


def _refuse(constant: str) -> float:
    raise _NotANumber(f"{constant} is not a finite number")


def _short(item: str, width: int = 60) -> str:
    return repr(item if len(item) <= width else item[:width] + "...")


def values_for(f: Expr, given: dict) -> dict:
    """The given values, a scalar typed as b=0.5 (read as [0.5]) made a scalar again."""
    scalars = {name for name, info in f.variables.items() if not info.shape}
    return {name: v.reshape(()) if name in scalars and v.size == 1 else v for name, v in given.items()}


def seed(text: str) -> int:
    """argparse type of --seed: a whole number >= 0 (NumPy's generators take no negative seed)."""
    return _whole(text, "a seed", 0)


def positive(text: str) -> int:
    """argparse type of --steps: a whole number >= 1."""
    return _whole(text, "a number of steps", 1)


def learning_rate(text: str) -> float:
    """argparse type of --lr: a finite number > 0."""
    try:
        number = float(text)
    except ValueError:
        number = float("nan")
    if not (number > 0 and math.isfinite(number)):
        raise argparse.ArgumentTypeError(f"a learning rate is a finite number > 0, not {text!r}")
    return number


def _whole(text: str, what: str, minimum: int) -> int:
    try:
        number = int(text)
    except ValueError:
        number = minimum - 1
    if number < minimum:
        raise argparse.ArgumentTypeError(f"{what} is a whole number >= {minimum}, not {text!r}")
    return number


def add_limit_option(parser: argparse.ArgumentParser) -> None:
    """--limit NAME=VALUE (repeatable), on every subcommand: applied around the command by chainrule.cli.main."""
    parser.add_argument("--limit", action="append", default=[], metavar="NAME=VALUE",
                        help="raise or lower a limit, e.g. --limit order=20 (also CHAINRULE_LIMITS='order=20,...'); "
                             "see README, Limits")


def limit_changes(items: Sequence[str], environ: Mapping[str, str]) -> dict[str, str]:
    """The limits asked for: CHAINRULE_LIMITS first, then each --limit (which wins)."""
    changes = dict(from_environment(environ))
    for item in items:
        changes.update(parse_limits(item))
    return changes


def emit(text: str, instead: str, stream: TextIO | None = None) -> None:
    """Print text, or a UsageError if the terminal's encoding cannot show it (say an ASCII-only locale); `instead`
    names the command's ASCII alternatives."""
    stream = stream or sys.stdout
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        raise UsageError(f"the output has characters that this terminal's encoding ({encoding}) cannot show",
                         hint=f"Use {instead}, or a UTF-8 terminal (e.g. PYTHONIOENCODING=utf-8).") from None
    except LookupError:      # an encoding name Python does not know: let the stream decide
        pass
    stream.write(text)


def random_values(f: Expr, seed: int = 0, size: int = 3, wrt: Sequence[str] = ()) -> dict:
    """Random values for every variable (named dimensions get sizes 3, 4, 5, ...): matrices are general, symmetric
    only where declared so, so that a check can tell `A` from `A'`. Points where f or its derivative by a `wrt`
    variable is not finite are drawn again from new seeds (chainrule.numeric.points); an EvaluationError says so
    when none of TRIES points is inside the domain."""
    return next(finite_points(f.variables, [f, *(derivative(f, w) for w in wrt)], seed, size))


# Hints written for Python callers, as the command line says them (the errors are raised far from the CLI).
_CLI_WORDS = (
    (re.compile(r"\S+ in Python, (.+?) on the command line"), r"\1"),
    (re.compile(r"evaluate\((\w+)=\.\.\.\)"), r"--at \1=VALUES"),
    (re.compile(r"parse\(text, (\w+)=\('(\w+)',\)\)"), r"--var \1=\2"),
    (re.compile(r"at=\{'(\w+)': \.\.\.\}"), r"--at \1=VALUES"),
    (re.compile(r"at=\{\.\.\.\}"), "--at NAME=VALUES"),
    (re.compile(r"wrt=\['(\w+)'\]"), r"--wrt \1"),
    (re.compile(r"direction=\{'(\w+)': \.\.\., '(\w+)': \.\.\.\}"), r"--direction \1=... --direction \2=..."),
)


def in_cli_words(error: ChainruleError) -> str:
    """The error's message, its hint translated from Python calls to command-line options."""
    for pattern, replacement in _CLI_WORDS:
        error.hint = pattern.sub(replacement, error.hint) if error.hint else error.hint
    return error.render()


def reports_errors(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """A subcommand's func: a ChainruleError becomes one paragraph on standard error (in the command line's words)
    and the exit status 2. Any other exception is left to chainrule.cli.main, which reports it as a bug (3)."""
    @functools.wraps(run)
    def guarded(args: argparse.Namespace) -> int:
        try:
            return run(args)
        except ChainruleError as error:
            print(f"chainrule: {in_cli_words(error)}", file=sys.stderr)
            return 2
    return guarded


# ---- what was inferred: every variable's kind and shape, and where it came from (Expr.inferred) ----

def announce(report: list[dict], notes: Sequence[str]) -> None:
    """The variables line on standard error, after the result is computed and before it is printed (standard output
    stays the result alone, for pipes); JSON output carries the same as the key "variables"."""
    text = inferred_lines(report, notes)
    try:
        emit(text, "", sys.stderr)
    except UsageError:          # an ASCII-only terminal: the same with x for the times sign
        sys.stderr.write(text.replace("×", "x"))


def announce_variables(f: Expr, fmt: str) -> None:
    """announce for the expression f, except in JSON output."""
    if fmt != "json":
        announce(f.inferred(), f.notes)
