"""`chainrule explain EXPR --wrt x ...`: the derivation on the command line (registered by chainrule.cli).

Kept apart from cli.py so that dependencies point inward: cli imports explain, never the other way round.
"""
from __future__ import annotations

import argparse

from ..api import LAYOUTS, parse
from ..arguments import add_limit_option, announce_variables, declarations, emit, reports_errors
from ..errors import UsageError
from .derivation import explain
from .graph import dot, render_graph
from .render import FORMATS, render


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the `explain` subcommand; its `func(args)` prints and returns the exit status."""
    p = subparsers.add_parser("explain", help="show the chain-rule derivation step by step",
                              description="Break EXPR into intermediate variables, take each local derivative, "
                                          "combine them with the chain rule and simplify to the derivative.")
    p.add_argument("expression", help="e.g. \"ln(sin(x^3)^2)\"; - reads it from standard input")
    p.add_argument("--wrt", action="append", required=True, metavar="NAME",
                   help="the variable to differentiate by (one: a derivation follows one variable)")
    p.add_argument("--var", action="append", default=[], metavar="NAME=KIND|DIMS",
                   help="declare a variable: x=scalar, A=symmetric, X=m,n, x=3")
    p.add_argument("--layout", choices=LAYOUTS, default="numerator")
    order = p.add_mutually_exclusive_group()
    order.add_argument("--reverse", dest="order", action="store_const", const="reverse",
                       help="accumulate from y back to x (backpropagation; the default)")
    order.add_argument("--forward", dest="order", action="store_const", const="forward",
                       help="accumulate from x to y")
    p.add_argument("--format", choices=FORMATS, default="text")
    p.add_argument("--graph", choices=("dot", "svg", "png"),
                   help="print the data-flow graph instead (svg/png need the graphviz package and program)")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of standard output")
    add_limit_option(p)
    p.set_defaults(func=run, order="reverse")
    return p


def _produce(args: argparse.Namespace) -> str | bytes:
    decls = declarations(args.var, args.expression)
    wrt = list(dict.fromkeys(args.wrt))
    if len(wrt) > 1:       # never silently only the last one
        raise UsageError(f"explain follows one variable at a time, and --wrt names {len(wrt)}: {', '.join(wrt)}",
                         hint=f"Run it once per variable (--wrt {wrt[0]}, then --wrt {wrt[1]}, ...), or use "
                              "chainrule diff or trace, which take several.")
    d = explain(args.expression, wrt[0], layout=args.layout, order=args.order, declarations=decls)
    announce_variables(parse(args.expression, decls), "json" if args.graph else args.format)
    if args.graph == "dot":
        return dot(d)
    if args.graph:
        if args.graph == "png" and not args.output:
            raise UsageError("a PNG cannot be printed to the terminal", hint="Add --output graph.png.")
        return render_graph(d, args.graph)
    return render(d, args.format)


def _write(result: str | bytes, path: str | None) -> None:
    if path is None:
        emit(result if isinstance(result, str) else result.decode(), "--format latex, or write a file with -o FILE")
        return
    try:
        with open(path, "wb") as out:
            out.write(result.encode() if isinstance(result, str) else result)
    except OSError as error:
        raise UsageError(f"cannot write {path!r}: {error.strerror or error}",
                         hint="Give a file in an existing folder that you may write.") from None


@reports_errors
def run(args: argparse.Namespace) -> int:
    """Print the derivation (or its graph); 0 on success (errors go to chainrule.cli.main: 2 for bad input)."""
    _write(_produce(args), args.output)
    return 0
