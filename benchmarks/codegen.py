"""Generated code against hand-written closed forms and framework autodiff, as ratios measured in one run.

- NumPy: the generated `grad` against the closed-form gradients of benchmarks/evaluation_time.py;
- PyTorch: the generated autograd function (forward + backward) against torch.autograd on the same expression;
- JAX: jax.jit of the generated `grad` against jax.jit(jax.grad(f)) of the same expression.
float64, CPU, one BLAS thread. Run: .venv/bin/python benchmarks/codegen.py
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import sys

import numpy as np
from common import markdown_table, ms, paired_times
from evaluation_time import CASES, MF_RANK, MLP_OUT, verify

import chainrule as cr

SIZES = (100, 1000)


def torch_losses(torch):
    return {
        "quadratic form": lambda x, A: x @ A @ x,
        "logistic regression": lambda y, X, w: torch.sum(torch.logaddexp(torch.zeros_like(y), -y * (X @ w))),
        "matrix factorization": lambda T, U, V: torch.sum((T - U @ V.T) ** 2),
        "one-hidden-layer MLP": lambda W2, W1, x, y: torch.sum((W2 @ torch.tanh(W1 @ x) - y) ** 2),
        "log-sum-exp": lambda A, x: torch.logsumexp(A @ x, 0),
    }


def jax_losses(jnp, jax):
    return {
        "quadratic form": lambda x, A: x @ A @ x,
        "logistic regression": lambda y, X, w: jnp.sum(jnp.logaddexp(0.0, -y * (X @ w))),
        "matrix factorization": lambda T, U, V: jnp.sum((T - U @ V.T) ** 2),
        "one-hidden-layer MLP": lambda W2, W1, x, y: jnp.sum((W2 @ jnp.tanh(W1 @ x) - y) ** 2),
        "log-sum-exp": lambda A, x: jax.nn.logsumexp(A @ x),
    }


def sizes_for(case, n):
    return {d: (MF_RANK if d == "r" else MLP_OUT if d == "k" else n) for d in ("n", "m", "r", "h", "k")}


def modules(case, n):
    f = cr.parse(case.text, **case.decls)
    sizes = {d: v for d, v in sizes_for(case, n).items() if any(d in info.shape for info in f.variables.values())}
    return f, {t: cr.compile(f, case.wrt, t, sizes=sizes) for t in ("numpy", "torch", "jax")}


def torch_ratio(torch, module, autograd_loss, tensors, case, values):
    """Times (generated, torch.autograd) for one case, each a forward and a backward pass."""

    def torch_step(fn):
        inputs = dict(tensors)
        inputs[case.wrt] = tensors[case.wrt].detach().requires_grad_()
        return torch.autograd.grad(fn(**inputs), inputs[case.wrt])[0]

    verify(torch_step(module.f).numpy(), case.closed[1](**values))
    return paired_times(lambda: torch_step(module.f), lambda: torch_step(autograd_loss))


def jax_ratio(jax, jnp, module, loss, args, case, values):
    """Times (generated, jax.grad), both under jax.jit."""
    arrays = tuple(jnp.asarray(v) for v in args.values())
    j_ours = jax.jit(module.grad)
    j_auto = jax.jit(jax.grad(loss, argnums=list(args).index(case.wrt)))
    verify(np.asarray(j_ours(*arrays)), case.closed[1](**values))
    return paired_times(lambda: j_ours(*arrays).block_until_ready(),
                        lambda: j_auto(*arrays).block_until_ready())


def measure_case(case, n, frameworks, tl, jl) -> list:
    torch, jax, jnp = frameworks
    f, m = modules(case, n)
    values = dict(case.values(n, np.random.default_rng(n)))
    args = {k: values[k] for k in f.variables}
    verify(m["numpy"].grad(**args), case.closed[1](**values))
    ours, closed = paired_times(lambda: m["numpy"].grad(**args), lambda: case.closed[1](**values))
    tensors = {k: torch.tensor(v) for k, v in args.items()}
    t_ours, t_auto = torch_ratio(torch, m["torch"], tl[case.name], tensors, case, values)
    jo, ja = jax_ratio(jax, jnp, m["jax"], jl[case.name], args, case, values)
    return [case.name, case.wrt, n, ms(closed), ms(ours), f"{ours / closed:.2f}×", ms(t_auto), ms(t_ours),
            f"{t_ours / t_auto:.2f}×", ms(ja), ms(jo), f"{jo / ja:.2f}×"]


def measure(n: int) -> list[list]:
    import jax
    import jax.numpy as jnp
    import torch
    jax.config.update("jax_enable_x64", True)
    torch.set_num_threads(1)
    tl, jl = torch_losses(torch), jax_losses(jnp, jax)
    return [measure_case(case, n, (torch, jax, jnp), tl, jl) for case in CASES]


def main() -> int:
    rows = [row for n in SIZES for row in measure(n)]
    header = ["problem", "by", "n", "closed form ms", "numpy ms", "ratio", "torch autograd ms", "torch generated ms",
              "ratio", "jax.jit(jax.grad) ms", "jax generated ms", "ratio"]
    print(markdown_table(header, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
