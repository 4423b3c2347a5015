"""`chainrule explain EXPR --wrt x ...`: the derivation on the command line (registered by chainrule.cli).

Kept apart from cli.py so that dependencies point inward: cli imports explain, never the other way round.
"""
from __future__ import annotations

import argparse
import sys

from ..api import LAYOUTS
from ..arguments import UsageError, declaration
from ..errors import ChainruleError
from .derivation import explain
from .graph import dot, render_graph
from .render import FORMATS, render


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the `explain` subcommand; its `func(args)` prints and returns the exit status."""
    p = subparsers.add_parser("explain", help="show the chain-rule derivation step by step",
                              description="Break EXPR into intermediate variables, take each local derivative, "
                                          "combine them with the chain rule and simplify to the derivative.")
    p.add_argument("expression", help="e.g. \"ln(sin(x^3)^2)\"")
    p.add_argument("--wrt", required=True, help="the variable to differentiate by")
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
    p.set_defaults(func=run, order="reverse")
    return p


def _produce(args: argparse.Namespace) -> str | bytes:
    decls = dict(declaration(v) for v in args.var)
    d = explain(args.expression, args.wrt, layout=args.layout, order=args.order, **decls)
    if args.graph == "dot":
        return dot(d)
    if args.graph:
        if args.graph == "png" and not args.output:
            raise UsageError("a PNG cannot be printed to the terminal", hint="Add --output graph.png.")
        return render_graph(d, args.graph)
    return render(d, args.format)


def _write(result: str | bytes, path: str | None) -> None:
    if path is None:
        sys.stdout.write(result if isinstance(result, str) else result.decode())
        return
    with open(path, "wb") as out:
        out.write(result.encode() if isinstance(result, str) else result)


def run(args: argparse.Namespace) -> int:
    """Print the derivation (or its graph); 0 on success, 2 on a chainrule error, 3 on an internal error."""
    try:
        _write(_produce(args), args.output)
        return 0
    except ChainruleError as error:
        print(f"chainrule: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"chainrule: cannot write {args.output!r}: {error.strerror}", file=sys.stderr)
        return 2
    except Exception as error:  # noqa: BLE001  (a bug of ours: still a message, never a traceback)
        print(f"chainrule: internal error ({type(error).__name__}: {error}); please report it", file=sys.stderr)
        return 3
