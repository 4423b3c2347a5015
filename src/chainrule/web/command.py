"""`chainrule serve [--port 8000] [--open]`: the local page (registered by chainrule.cli)."""
from __future__ import annotations

import argparse
import os
import sys

from ..arguments import add_limit_option, limit_changes
from ..errors import UsageError
from ..notation import mathml
from .server import Settings, serve


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the `serve` subcommand."""
    p = subparsers.add_parser("serve", help="start the local web page (offline)",
                              description="Serve the matrix-calculus page on this machine: derivations, the four "
                                          "steps, the backward pass and code export, with nothing sent elsewhere.")
    p.add_argument("--port", type=int, default=8000, help="0 picks a free port (default 8000)")
    p.add_argument("--host", default="127.0.0.1",
                   help="the address to listen on (default 127.0.0.1, this machine only)")
    p.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                   help="another name the page may be reached by (its Host header), with --host")
    p.add_argument("--open", action="store_true", help="open the page in the default browser")
    p.add_argument("--workers", type=int, default=max(1, min(4, os.cpu_count() or 1)),
                   help="processes that compute (default: the cores, at most 4)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds one derivation may take (default 10)")
    p.add_argument("--max-chars", type=int, default=10_000, help="characters of one expression (default 10,000)")
    p.add_argument("--verbose", action="store_true", help="log every request")
    add_limit_option(p)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C (chainrule.cli.main turns a ChainruleError into status 2)."""
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535, not {args.port}")
    if args.workers < 1 or args.timeout <= 0 or args.max_chars < 1:
        raise UsageError("--workers, --timeout and --max-chars must be positive")
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"chainrule serve: warning: listening on {args.host}, so other machines that can reach it may use "
              "this page and the computing time of this machine; the page has no login.", file=sys.stderr)
    if not mathml.available():
        print("chainrule serve: warning: latex2mathml is not installed, so formulas show as LaTeX source; "
              "install it with pip install 'chainrule[web]'", file=sys.stderr)
    settings = Settings(host=args.host, port=args.port, workers=args.workers, timeout=args.timeout,
                        max_chars=args.max_chars, allowed_hosts=tuple(args.allow_host),
                        limit_changes=limit_changes(args.limit, os.environ), quiet=not args.verbose)
    try:
        serve(settings, open_browser=args.open)
    except OSError as error:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {error.strerror or error}",
                         hint="Choose another --port (0 picks a free one).") from None
    return 0
