"""The command line: `chainrule diff EXPR --wrt x ...`. Thin: read arguments, call the API, print."""
from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

import numpy as np

from . import api
from .arguments import declaration, random_values, value, values_for
from .errors import ChainruleError
from .explain.command import register as register_explain
from .trace.command import register as register_trace
from .training.command import register as register_demo

FORMATS = ("text", "unicode", "latex", "json")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chainrule", description="Matrix calculus for deep learning.")
    commands = parser.add_subparsers(dest="command", required=True)
    diff = commands.add_parser("diff", help="differentiate an expression")
    diff.add_argument("expression", help="e.g. \"x'*A*x\"")
    diff.add_argument("--wrt", required=True, help="the variable to differentiate by")
    diff.add_argument("--var", action="append", default=[], metavar="NAME=KIND|DIMS",
                      help="declare a variable: A=symmetric, X=m,n, x=3, a=scalar")
    diff.add_argument("--order", type=int, default=1)
    diff.add_argument("--hessian", action="store_true", help="the second derivative (same as --order 2)")
    diff.add_argument("--layout", choices=api.LAYOUTS, default="numerator")
    diff.add_argument("--format", choices=FORMATS, default="text")
    diff.add_argument("--at", action="append", default=[], metavar="NAME=VALUES",
                      help="evaluate at x=1,2,3 (vector), A='1,2;3,4' (matrix), b=0.5")
    diff.add_argument("--check", action="store_true", help="compare with finite differences (random values if no --at)")
    diff.add_argument("--cse", action="store_true", help="name shared subexpressions t0, t1, ...")
    diff.set_defaults(func=_run_diff)
    for register in (register_explain, register_trace, register_demo):
        register(commands)
    return parser


def _diff(args: argparse.Namespace) -> dict:
    decls = dict(declaration(v) for v in args.var)
    f = api.parse(args.expression, **decls)
    order = 2 if args.hessian else args.order
    d = api.derivative(f, args.wrt, order=order, layout=args.layout)
    report = {
        "expression": f.text(), "wrt": args.wrt, "order": order, "layout": args.layout,
        "text": d.text(args.cse), "unicode": d.unicode(args.cse), "latex": d.latex(args.cse),
        "shape": list(d.shape), "kind": d.stype.kind,
    }
    given = dict(value(v) for v in args.at)
    values = values_for(f, given) if given else None
    if values is not None:
        report["value"] = np.asarray(d.evaluate(values)).tolist()
    if args.check:
        at = values if values is not None else random_values(f)
        result = api.check(f, args.wrt, at=at, order=order)
        report["check"] = {"ok": result.ok, "max_abs_error": result.max_abs_error,
                           "max_rel_error": result.max_rel_error, "directions": result.directions,
                           "random_values": values is None}
    return report


def _show(report: dict, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(report, indent=2)
    lines = [report[fmt]]
    if "value" in report:
        lines.append(f"value: {np.array2string(np.asarray(report['value']), precision=6)}")
    if "check" in report:
        c = report["check"]
        where = " at random values" if c["random_values"] else ""
        lines.append(f"finite-difference check{where}: {'ok' if c['ok'] else 'MISMATCH'} "
                     f"(max abs error {c['max_abs_error']:.2e}, max rel error {c['max_rel_error']:.2e})")
    return "\n".join(lines)


def _run_diff(args: argparse.Namespace) -> int:
    report = _diff(args)
    print(_show(report, args.format))
    return 0 if report.get("check", {}).get("ok", True) else 1


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.func(args)
    except ChainruleError as error:
        print(f"chainrule: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader (| head) stopped early: not an error
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115  (so the interpreter's final flush stays quiet)
        return 0
    except Exception as error:  # a bug of ours: still a message, never a traceback
        print(f"chainrule: internal error ({type(error).__name__}: {error}); please report it", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
