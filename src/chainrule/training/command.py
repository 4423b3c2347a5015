"""`chainrule demo neuron|mlp|classifier`: the training demos from the command line. `register` adds the subcommand."""
from __future__ import annotations

import argparse
import inspect
import time
from collections.abc import Callable

from ..arguments import add_limit_option, learning_rate, positive, reports_errors, seed
from ..errors import UsageError
from .demos import CLASSIFIER_LOGITS, HIDDEN, classifier_demo, mlp_demo, neuron_demo

# name -> (function, help); the defaults of --steps and --lr are the function's own.
DEMOS: dict[str, tuple[Callable, str]] = {
    "neuron": (neuron_demo, "a single ReLU neuron max(0, w'*x+b) recovered from noise-free data"),
    "mlp": (mlp_demo, "a one-hidden-layer tanh network fit to y = sin(x1)*cos(x2)"),
    "classifier": (classifier_demo, "softmax regression (or one hidden layer) with softmax cross-entropy on three "
                                    "Gaussian blobs, with its accuracy"),
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
        options = OPTIONS.get(name)
        if options is not None:
            options[0](sub)
        sub.set_defaults(func=_runner(function, options[1] if options else _no_options))
    return demo


def _classifier_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", choices=tuple(CLASSIFIER_LOGITS), default="softmax",
                        help="softmax: softmax regression X*W + b'; mlp: one hidden tanh layer (%(default)s)")
    parser.add_argument("--hidden", type=_hidden_units, metavar="UNITS",
                        help=f"hidden units of --model mlp ({HIDDEN})")


def _classifier_arguments(args: argparse.Namespace) -> dict[str, object]:
    if args.hidden is not None and args.model != "mlp":
        raise UsageError(f"--hidden sizes the hidden layer of --model mlp; --model {args.model} has none",
                         hint=f"Add --model mlp, or leave out --hidden {args.hidden}.")
    return {"model": args.model, "hidden": args.hidden}


def _hidden_units(text: str) -> int:
    """argparse type of --hidden: a whole number >= 1."""
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"a number of hidden units is a whole number >= 1, not {text!r}")
    return number


def _no_options(args: argparse.Namespace) -> dict[str, object]:
    return {}


# name -> (add the demo's own options to its parser, read them from the parsed arguments as keyword arguments)
OPTIONS: dict[str, tuple[Callable[[argparse.ArgumentParser], None],
                         Callable[[argparse.Namespace], dict[str, object]]]] = {
    "classifier": (_classifier_options, _classifier_arguments),
}


def _runner(function: Callable,
            own: Callable[[argparse.Namespace], dict[str, object]]) -> Callable[[argparse.Namespace], int]:
    @reports_errors
    def run(args: argparse.Namespace) -> int:
        """0 when done; errors go to chainrule.cli.main (2 for bad input, such as a --plot file it cannot write)."""
        plot = False if args.no_plot else (args.plot or True)
        start = time.perf_counter()
        function(steps=args.steps, lr=args.lr, seed=args.seed, plot=plot, **own(args))
        print(f"done in {time.perf_counter() - start:.2f} s")
        return 0

    return run
