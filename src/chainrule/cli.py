"""The command line: `chainrule diff EXPR --wrt x ...`. Thin: read arguments, call the API, print."""
from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

import numpy as np

from . import __version__, api
from .arguments import (
    add_limit_option,
    announce,
    declarations,
    emit,
    in_cli_words,
    limit_changes,
    reports_errors,
    values,
    values_for,
)
from .codegen.command import register as register_codegen
from .collector import fewer_collections
from .errors import ChainruleError
from .explain.command import register as register_explain
from .limits import limits
from .numeric.diagnose import first_nonfinite
from .trace.command import register as register_trace
from .training.command import register as register_demo
from .web.command import register as register_serve

FORMATS = ("text", "unicode", "latex", "json")
INTERRUPTED = 130      # the shell's status for a program ended by Ctrl-C (128 + SIGINT)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chainrule", description="Matrix calculus for deep learning.")
    parser.add_argument("--version", action="version", version=f"chainrule {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    diff = commands.add_parser("diff", help="differentiate an expression")
    diff.add_argument("expression", help="e.g. \"x'*A*x\"; - reads it from standard input")
    diff.add_argument("--wrt", action="append", required=True, metavar="NAME",
                      help="the variable to differentiate by (repeat for several: one derivative each)")
    diff.add_argument("--var", action="append", default=[], metavar="NAME=KIND|DIMS",
                      help="declare a variable: A=symmetric, X=m,n, x=3, a=scalar")
    order = diff.add_mutually_exclusive_group()
    order.add_argument("--order", type=int, default=1)
    order.add_argument("--hessian", action="store_true", help="the second derivative (same as --order 2)")
    diff.add_argument("--layout", choices=api.LAYOUTS, default="numerator")
    diff.add_argument("--format", choices=FORMATS, default="text")
    diff.add_argument("--at", action="append", default=[], metavar="NAME=VALUES",
                      help="evaluate at x=1,2,3 (vector), A='1,2;3,4' (matrix), b=0.5")
    diff.add_argument("--check", action="store_true", help="compare with finite differences (random values if no --at)")
    diff.add_argument("--cse", action="store_true", help="name shared subexpressions t0, t1, ...")
    add_limit_option(diff)
    diff.set_defaults(func=_run_diff)
    for register in (register_explain, register_trace, register_demo, register_serve, register_codegen):
        register(commands)
    return parser


def _diff(args: argparse.Namespace) -> dict:
    f = api.parse(args.expression, declarations(args.var, args.expression))
    order = 2 if args.hessian else args.order
    given = values(args.at)
    at = values_for(f, given) if given else None
    wrts = list(dict.fromkeys(args.wrt))
    parts = [_derivative(f, w, order, args, at) for w in wrts]
    # the expression's own text is shown in JSON only (printing a 100,000-character input takes a while)
    read: dict[str, object] = {"expression": f.text()} if args.format == "json" else {}
    read.update({"variables": f.inferred(), "notes": list(f.notes)})
    if len(parts) == 1:
        part = parts[0]
        return {**read, "wrt": part.pop("wrt"), "order": order, "layout": args.layout, **part}
    return {**read, "wrt": wrts, "order": order, "layout": args.layout, "derivatives": parts}


def _announce(report: dict, fmt: str) -> None:
    if fmt != "json":
        announce(report["variables"], report["notes"])


def _derivative(f: api.Expr, wrt: str, order: int, args: argparse.Namespace, values: dict | None) -> dict:
    """One derivative's report: its renderings, and its value and check where asked."""
    d = api.derivative(f, wrt, order=order, layout=args.layout)
    shown = ("text", "unicode", "latex") if args.format == "json" else (args.format,)   # JSON has all three
    report = {"wrt": wrt, **{style: getattr(d, style)(args.cse) for style in shown}, "shape": list(d.shape),
              "kind": d.stype.kind}
    if values is not None:
        report["value"] = np.asarray(d.evaluate(values))    # a list only for JSON: 5x smaller than Python floats
        if not np.all(np.isfinite(report["value"])):
            report["not_finite"] = str(first_nonfinite([d], values))
    if args.check:
        result = api.check(f, wrt, at=values, order=order)  # None: random values, redrawn where not finite
        report["check"] = {"ok": result.ok, "max_abs_error": result.max_abs_error,
                           "max_rel_error": result.max_rel_error, "directions": result.directions,
                           "random_values": values is None}
        found = None if result.ok or values is None or "not_finite" in report else first_nonfinite([f, d], values)
        if found is not None:
            report["not_finite"] = str(found)
    return report


def _show(report: dict, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(report, indent=2, default=np.ndarray.tolist)
    if "derivatives" not in report:
        return _show_one(report, fmt)
    comment = "% " if fmt == "latex" else ""     # the labels of several derivatives stay LaTeX comments
    return "\n".join(f"{comment}{_label(part['wrt'], report['order'])}:\n{_show_one(part, fmt)}"
                     for part in report["derivatives"])


def _label(wrt: str, order: int) -> str:
    return f"derivative by {wrt}" if order == 1 else f"derivative of order {order} by {wrt}"


def _show_one(report: dict, fmt: str) -> str:
    lines = [report[fmt]]
    if "value" in report:
        lines.append(f"value: {np.array2string(np.asarray(report['value']), precision=6)}")
    if "check" in report:
        c = report["check"]
        where = " at random values" if c["random_values"] else ""
        lines.append(f"finite-difference check{where}: {'ok' if c['ok'] else 'MISMATCH'} "
                     f"(max abs error {c['max_abs_error']:.2e}, max rel error {c['max_rel_error']:.2e})")
    if "not_finite" in report:
        lines.append(report["not_finite"])
    return "\n".join(lines)


@reports_errors
def _run_diff(args: argparse.Namespace) -> int:
    report = _diff(args)
    _announce(report, args.format)
    emit(_show(report, args.format) + "\n", "--format text, latex or json")
    parts = report.get("derivatives", [report])
    return 0 if all(part.get("check", {}).get("ok", True) for part in parts) else 1


# ---- running a command ----

def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; the exit status is 0 (done), 1 (a check failed), 2 (bad input or a limit), 3 (a bug of
    chainrule), 130 (interrupted)."""
    parser = _parser()
    args = parser.parse_args(_expression_last(list(sys.argv[1:] if argv is None else argv), parser))
    try:
        if getattr(args, "expression", None) == "-":
            args.expression = sys.stdin.read().strip()
        with limits(**limit_changes(args.limit, os.environ)), fewer_collections():
            return args.func(args)
    except ChainruleError as error:
        print(f"chainrule: {in_cli_words(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("chainrule: interrupted", file=sys.stderr)
        return INTERRUPTED
    except BrokenPipeError:  # the reader (| head) stopped early: not an error
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115  (so the interpreter's final flush stays quiet)
        return 0
    except Exception as error:  # a bug of ours: still a message, never a traceback
        print(f"chainrule: internal error ({type(error).__name__}: {error}); please report it", file=sys.stderr)
        return 3


def _expression_last(argv: list[str], parser: argparse.ArgumentParser) -> list[str]:
    """argparse takes an argument that starts with '-' for an unknown option, so `diff "-sum(y.*log(p))" --wrt p`
    would fail: an expression that starts with '-' (not an option of its subcommand) moves behind '--', where
    argparse reads it as the one positional argument it is."""
    if "--" in argv:
        return argv
    subcommands = _subcommands(parser)
    start = next((k for k, token in enumerate(argv) if token in subcommands), None)
    if start is None or not any(a.dest == "expression" for a in subcommands[argv[start]]._actions):
        return argv
    options = subcommands[argv[start]]._option_string_actions
    k = start + 1
    while k < len(argv):
        token = argv[k]
        if not token.startswith("-") or token == "-":
            return argv                                   # the expression, as argparse will read it
        action = _option(token.split("=", 1)[0], options)
        if action is None:
            return argv[:k] + argv[k + 1:] + ["--", token]
        k += 1 if action.nargs == 0 or "=" in token else 2
    return argv


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    found = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(found[0].choices) if found else {}


def _option(text: str, options: dict) -> argparse.Action | None:
    """The option text names: exactly, or by an unambiguous prefix (argparse accepts --form for --format)."""
    if text in options:
        return options[text]
    matches = {id(a): a for name, a in options.items() if text.startswith("--") and name.startswith(text)}
    return next(iter(matches.values())) if len(matches) == 1 else None


if __name__ == "__main__":
    sys.exit(main())
