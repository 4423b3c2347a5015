"""`chainrule codegen EXPR --wrt w --target numpy|torch|jax ...`: print or write a generated module (registered by
chainrule.cli, like explain and trace)."""
from __future__ import annotations

import argparse

from ..api import codegen, parse
from ..arguments import add_limit_option, declarations, emit, reports_errors
from ..errors import UsageError
from .targets import TARGETS


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the `codegen` subcommand; its `func(args)` prints or writes the module and returns the exit status."""
    p = subparsers.add_parser("codegen", help="write NumPy, PyTorch or JAX code for an expression and its gradient",
                              description="Write a Python module computing EXPR, its gradient by each --wrt and, "
                                          "when asked, its Hessian or Hessian-vector product; it needs only its "
                                          "library.")
    p.add_argument("expression", help="a scalar expression, e.g. \"sum(log(1+exp(-y.*(X*w))))\"; - reads stdin")
    p.add_argument("--wrt", action="append", required=True, metavar="NAME",
                   help="a variable to differentiate by (repeat for several: grad returns a tuple)")
    p.add_argument("--target", choices=tuple(TARGETS), default="numpy")
    p.add_argument("--var", action="append", default=[], metavar="NAME=KIND|DIMS",
                   help="declare a variable: A=symmetric, X=m,n, x=3, a=scalar")
    p.add_argument("--name", help="the function's name (an alias of f; the torch autograd class is named after it)")
    p.add_argument("--hessian", action="store_true",
                   help="also hessian(...) (several --wrt: a tuple of rows of blocks d2f/dx_i dx_j)")
    p.add_argument("--hvp", action="store_true",
                   help="also hvp(..., v), a Hessian-vector product that never forms the Hessian (several --wrt: v "
                        "and the result are tuples, one array per variable)")
    p.add_argument("--jvp", action="store_true",
                   help="torch: also a forward-mode jvp on the autograd function (torch.func.jvp, jacfwd); "
                        "torch.compile(fullgraph=True) then fails on it")
    p.add_argument("--size", action="append", default=[], metavar="DIM=N",
                   help="a dimension's size for ordering products (default 1000 each), e.g. --size r=10")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of standard output")
    add_limit_option(p)
    p.set_defaults(func=run)
    return p


def sizes(items: list[str]) -> dict[str, int]:
    """--size n=1000 --size r=10 -> {"n": 1000, "r": 10}."""
    found = {}
    for item in items:
        name, _, value = item.partition("=")
        if not name.isidentifier() or not value.isdigit() or int(value) < 1:
            raise UsageError(f"cannot read --size {item!r}",
                             hint="Write --size n=1000 (a dimension name, a size >= 1).")
        found[name] = int(value)
    return found


@reports_errors
def run(args: argparse.Namespace) -> int:
    """Print the module (or write it to --output); 0 on success."""
    if args.jvp and args.target != "torch":
        raise UsageError(f"--jvp is an option of --target torch, not {args.target}",
                         hint="JAX's f is a custom_jvp function already; NumPy has no forward mode.")
    f = parse(args.expression, declarations(args.var, args.expression))
    text = codegen(f, list(dict.fromkeys(args.wrt)), args.target, args.name, args.hessian, args.hvp, sizes(args.size),
                   args.jvp)
    if args.output is None:
        emit(text, "-o FILE")
        return 0
    try:
        with open(args.output, "w", encoding="utf-8") as out:
            out.write(text)
    except OSError as error:
        raise UsageError(f"cannot write {args.output!r}: {error.strerror or error}",
                         hint="Give a file in an existing folder that you may write.") from None
    return 0
