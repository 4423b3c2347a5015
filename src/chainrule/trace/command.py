"""`chainrule trace EXPR --wrt w --at w=1,2 ...`: thin, reads arguments, calls `trace`, prints one format."""
from __future__ import annotations

import argparse

from ..api import parse
from ..arguments import (
    add_limit_option,
    announce_variables,
    declarations,
    emit,
    random_values,
    reports_errors,
    seed,
    values,
)
from ..errors import UsageError
from .compute import MODES, trace

FORMATS = ("text", "markdown", "json")


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the `trace` subcommand; its `func` runs it and returns the exit status.

    The status is 0 when all is well, 1 when a check failed, 2 for bad input."""
    p = subparsers.add_parser("trace", help="watch backpropagation: values, upstream, local and downstream gradients",
                              description="Evaluate EXPR at a point and print every step of the chain rule.")
    p.add_argument("expression", help="e.g. \"max(0, w'*x+b)\"; - reads it from standard input")
    p.add_argument("--wrt", action="append", required=True, metavar="NAME",
                   help="a variable to differentiate by (repeat for several)")
    p.add_argument("--at", action="append", default=[], metavar="NAME=VALUES",
                   help="x=1,2,3 (vector), A='1,2;3,4' (matrix), b=0.5, or JSON; random values if none is given")
    p.add_argument("--var", action="append", default=[], metavar="NAME=KIND|DIMS",
                   help="declare a variable: A=symmetric, X=m,n, x=3, a=scalar")
    p.add_argument("--mode", choices=MODES, default="reverse")
    p.add_argument("--direction", action="append", default=[], metavar="NAME=VALUES",
                   help="forward mode: the tangent of a wrt variable (default ones; unnamed wrt variables get zeros)")
    p.add_argument("--format", choices=FORMATS, default="text")
    p.add_argument("--full", action="store_true", help="print every entry of large tensors")
    p.add_argument("--seed", type=seed, default=0, help="for random values and random check directions")
    add_limit_option(p)
    p.set_defaults(func=run)
    return p


@reports_errors
def run(args: argparse.Namespace) -> int:
    """0 when every check agrees, 1 when one does not; errors go to chainrule.cli.main (2 for bad input)."""
    result = _trace(args)
    emit(_show(result, args.format, args.full) + "\n", "--format json")
    return 0 if result.ok else 1


def _trace(args: argparse.Namespace):
    decls = declarations(args.var, args.expression)
    f = parse(args.expression, decls)
    given = values(args.at)
    at = _fit(given, f.variables) if given else random_values(f, seed=args.seed, wrt=args.wrt)
    direction = values(args.direction, "--direction") or None
    if direction is not None and args.mode != "forward":
        raise UsageError("--direction is only for --mode forward")
    result = trace(args.expression, args.wrt, at, args.mode, direction, declarations=decls, seed=args.seed)
    announce_variables(f, args.format)
    return result


def _fit(given: dict, variables: dict) -> dict:
    """Scalars typed as b=0.5 arrive as [0.5]; name what is missing in the command line's words."""
    missing = [n for n in variables if n not in given]
    if missing:
        raise UsageError(f"no value given for {', '.join(missing)}",
                         hint=f"Add --at {missing[0]}=... (or give no --at at all for random values).")
    return {n: v.reshape(()) if n in variables and not variables[n][0] and v.size == 1 else v
            for n, v in given.items()}


def _show(result, fmt: str, full: bool) -> str:
    if fmt == "json":
        return result.to_json()
    return result.markdown(full) if fmt == "markdown" else result.text(full)
