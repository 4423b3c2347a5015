"""What the training tests share: plain SGD written in torch (the reference), and running the `demo` command."""
import argparse

import pytest

from chainrule.training.command import register


def torch_descent(loss_of, params: dict, lr: float, steps: int):
    """Losses before the first and after every step of p <- p - lr * p.grad, and the final parameters as arrays;
    `loss_of(params)` is the torch loss of the leaf tensors `params`."""
    torch = pytest.importorskip("torch")
    losses = []
    for step in range(steps + 1):
        loss = loss_of(params)
        losses.append(loss.item())
        if step == steps:
            break
        loss.backward()
        with torch.no_grad():
            for p in params.values():
                p.sub_(lr * p.grad)
                p.grad = None
    return losses, {k: p.detach().numpy() for k, p in params.items()}


def run_cli(argv: list[str]) -> int:
    """`chainrule demo ...` in this process (its output goes to the captured stdout)."""
    parser = argparse.ArgumentParser(prog="chainrule")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)
