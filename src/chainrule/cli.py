"""The command line: `chainrule diff EXPR --wrt x ...`. Thin: read arguments, call the API, print."""
from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence

import numpy as np

from . import api
from .errors import ChainruleError
from .expr import Expr

FORMATS = ("text", "unicode", "latex", "json")


class UsageError(ChainruleError):
    """A command-line argument that cannot be read."""


def _declaration(item: str) -> tuple[str, object]:
    name, _, value = item.partition("=")
    if not name.isidentifier() or not value:
        raise UsageError(f"cannot read --var {item!r}", hint="Write --var A=symmetric, --var X=m,n or --var x=3.")
    if value in ("scalar", "vector", "matrix", "symmetric"):
        return name, value
    if value == "()":
        return name, ()
    return name, tuple(int(d) if d.strip().isdigit() else d.strip() for d in value.split(","))


def _value(item: str) -> tuple[str, np.ndarray]:
    name, _, text = item.partition("=")
    try:
        if text.lstrip().startswith("["):
            return name, np.array(json.loads(text), dtype=float)
        rows = [[float(v) for v in row.split(",")] for row in text.split(";")]
    except ValueError:
        raise UsageError(f"cannot read --at {item!r}",
                         hint="Write --at x=1,2,3 for a vector, --at A='1,2;3,4' for a matrix, --at b=0.5, "
                              "or JSON such as --at A='[[1,2],[3,4]]'.") from None
    array = np.array(rows)
    return name, array.reshape(-1) if ";" not in text else array


def _values_for(f: Expr, given: dict, shapes: dict) -> dict:
    values = {}
    for name, (shape, _) in f.variables.items():
        value = given.get(name)
        if value is not None and len(shape) == 0:
            value = value.reshape(())
        values[name] = value
    return {k: v for k, v in values.items() if v is not None}


def random_values(f: Expr, seed: int = 0, size: int = 3) -> dict:
    """Random values for every variable (symmetric positive definite for square matrices), sizes 3, 4, 5, ..."""
    rng = np.random.default_rng(seed)
    sizes: dict = {}
    values = {}
    for name, (shape, symmetric) in f.variables.items():
        dims = tuple(d if isinstance(d, int) else sizes.setdefault(d, size + len(sizes)) for d in shape)
        value = rng.standard_normal(dims)
        if len(dims) == 2 and dims[0] == dims[1]:
            value = value @ value.T / dims[0] + np.eye(dims[0])
        values[name] = value
    return values


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
    return parser


def _diff(args: argparse.Namespace) -> dict:
    decls = dict(_declaration(v) for v in args.var)
    f = api.parse(args.expression, **decls)
    order = 2 if args.hessian else args.order
    d = api.derivative(f, args.wrt, order=order, layout=args.layout)
    report = {
        "expression": f.text(), "wrt": args.wrt, "order": order, "layout": args.layout,
        "text": d.text(args.cse), "unicode": d.unicode(args.cse), "latex": d.latex(args.cse),
        "shape": list(d.shape), "kind": d.stype.kind,
    }
    given = dict(_value(v) for v in args.at)
    values = _values_for(f, given, decls) if given else None
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


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        report = _diff(args)
        print(_show(report, args.format))
        return 0 if report.get("check", {}).get("ok", True) else 1
    except ChainruleError as error:
        print(f"chainrule: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # a bug of ours: still a message, never a traceback
        print(f"chainrule: internal error ({type(error).__name__}: {error}); please report it", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
