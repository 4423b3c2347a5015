"""`chainrule demo neuron|mlp`: the training demos from the command line. `register` adds the subcommand."""
from __future__ import annotations

import argparse
import inspect
import time
from collections.abc import Callable

from ..arguments import add_limit_option, learning_rate, positive, reports_errors, seed
from .demos import mlp_demo, neuron_demo

# name -> (function, help); the defaults of --steps and --lr are the function's own.
DEMOS: dict[str, tuple[Callable, str]] = {
    "neuron": (neuron_demo, "a single ReLU neuron max(0, w'*x+b) recovered from noise-free data"),
    "mlp": (mlp_demo, "a one-hidden-layer tanh network fit to y = sin(x1)*cos(x2)"),
}


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add `demo` to a parser's subcommands; each demo sets `func`, a callable(args) -> exit status."""
    demo = subparsers.add_parser("demo", help="train a model by gradient descent on chainrule's derived gradients")
    choices = demo.add_subparsers(dest="demo", required=True, metavar="{" + ",".join(DEMOS) + "}")
    for name, (function, text) in DEMOS.items():
        defaults = {k: p.default for k, p in inspect.signature(function).parameters.items()}
        sub = choices.add_parser(name, help=text, description=text)
        sub.add_argument("--steps", type=positive, default=defaults["steps"],
                         help="gradient-descent steps (%(default)s)")
        sub.add_argument("--lr", type=learning_rate, default=defaults["lr"], help="learning rate (%(default)s)")
        sub.add_argument("--seed", type=seed, default=defaults["seed"], help="seed of data and initial weights")
        plot = sub.add_mutually_exclusive_group()
        plot.add_argument("--plot", metavar="FILE",
                          help="where to save the loss curve (PNG; default a new private temporary file)")
        plot.add_argument("--no-plot", action="store_true", help="do not save a loss curve")
        add_limit_option(sub)
        sub.set_defaults(func=_runner(function))
    return demo


def _runner(function: Callable) -> Callable[[argparse.Namespace], int]:
    @reports_errors
    def run(args: argparse.Namespace) -> int:
        """0 when done; errors go to chainrule.cli.main (2 for bad input, such as a --plot file it cannot write)."""
        plot = False if args.no_plot else (args.plot or True)
        start = time.perf_counter()
        function(steps=args.steps, lr=args.lr, seed=args.seed, plot=plot)
        print(f"done in {time.perf_counter() - start:.2f} s")
        return 0

    return run
