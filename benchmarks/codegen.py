"""Generated code against hand-written closed forms and framework autodiff, as ratios measured in one run.

Three tables:
- gradients: the generated NumPy `grad` against the closed forms of benchmarks/evaluation_time.py; the generated
  PyTorch autograd function (forward + backward) against torch.autograd on the same expression; jax.jit of the
  generated `grad` against jax.jit(jax.grad(f)). The five problems of benchmarks/ at n = 10, 100, 1000, 3000, and the
  batched models (softmax regression, a two-layer MLP with biases: every parameter gradient at once) at n = 100, 1000
  against closed forms written here;
- Hessians: the generated NumPy `hessian` against the closed-form Hessians (n = 100, 1000; the factorisation's dense
  Hessian only at n = 100);
- HVPs: the generated `hvp` (never forming the Hessian) against the generated `grad` of the same module, NumPy and
  under jax.jit, at n = 1000 (the factorisation's dense Hessian would be 800 MB there).
float64, CPU, one BLAS thread. Run: .venv/bin/python benchmarks/codegen.py [gradients|hessians|hvps|batched ...]

Apart from these, `codegen.py generation` prints the CPU seconds cr.codegen takes per target (planning and writing),
for the problems above and networks of 4 and 8 layers by every weight and bias, with the matrix products in the
generated NumPy `grad` (a hand-written backward pass of L layers has 3L - 1: L forward, L - 1 signals, L weights).
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from common import alternating_times, markdown_table, ms, paired_times
from evaluation_time import CASES, MF_RANK, MLP_OUT, verify
from torch_functions import hand_functions

import chainrule as cr

SIZES = (10, 100, 1000, 3000)
HESSIAN_SIZES = (100, 1000)
HVP_SIZE = 1000
BATCHED_SIZES = (100, 1000)
CLASSES = 10        # the batched models' outputs
GRADIENT_HEADER = ["problem", "by", "n", "closed form ms", "numpy ms", "ratio", "torch autograd ms",
                   "torch generated ms", "ratio", "torch hand-written Function ms", "generated ÷ hand-written",
                   "jax.jit(jax.grad) ms", "jax generated ms", "ratio"]


def torch_losses(torch):
    return {
        "quadratic form": lambda x, A: x @ A @ x,
        "logistic regression": lambda y, X, w: torch.sum(torch.logaddexp(torch.zeros_like(y), -y * (X @ w))),
        "matrix factorization": lambda T, U, V: torch.sum((T - U @ V.T) ** 2),
        "one-hidden-layer MLP": lambda W2, W1, x, y: torch.sum((W2 @ torch.tanh(W1 @ x) - y) ** 2),
        "log-sum-exp": lambda A, x: torch.logsumexp(A @ x, 0),
        "softmax regression": lambda Y, X, W, b: -torch.sum(Y * torch.log_softmax(X @ W + b, 1)) / X.shape[0],
        "two-layer MLP": lambda Y, X, W1, b1, W2, b2: -torch.sum(
            Y * torch.log_softmax(torch.tanh(X @ W1 + b1) @ W2 + b2, 1)) / X.shape[0],
    }


def jax_losses(jnp, jax):
    return {
        "quadratic form": lambda x, A: x @ A @ x,
        "logistic regression": lambda y, X, w: jnp.sum(jnp.logaddexp(0.0, -y * (X @ w))),
        "matrix factorization": lambda T, U, V: jnp.sum((T - U @ V.T) ** 2),
        "one-hidden-layer MLP": lambda W2, W1, x, y: jnp.sum((W2 @ jnp.tanh(W1 @ x) - y) ** 2),
        "log-sum-exp": lambda A, x: jax.nn.logsumexp(A @ x),
        "softmax regression": lambda Y, X, W, b: -jnp.sum(Y * jax.nn.log_softmax(X @ W + b, axis=1)) / X.shape[0],
        "two-layer MLP": lambda Y, X, W1, b1, W2, b2: -jnp.sum(
            Y * jax.nn.log_softmax(jnp.tanh(X @ W1 + b1) @ W2 + b2, axis=1)) / X.shape[0],
    }


# ---- the batched models: closed forms ------------------------------------------------------------------------

def softmax_rows(Z):
    return np.exp(Z - _logsumexp_rows(Z)[:, None])


def _logsumexp_rows(Z):
    m = Z.max(axis=1)
    return m + np.log(np.exp(Z - m[:, None]).sum(axis=1))


def softmax_regression_grads(Y, X, W, b):
    # G = (softmax(XW + b') - Y)/m (rows of Y sum to 1); d/dW = X'G, d/db = G'1
    G = (softmax_rows(X @ W + b) - Y) / X.shape[0]
    return X.T @ G, G.sum(axis=0)


def two_layer_grads(Y, X, W1, b1, W2, b2):
    # A = tanh(XW1 + b1'); G2 = (softmax(AW2 + b2') - Y)/m; G1 = (G2 W2') .* (1 - A.^2)
    A = np.tanh(X @ W1 + b1)
    G2 = (softmax_rows(A @ W2 + b2) - Y) / X.shape[0]
    G1 = (G2 @ W2.T) * (1 - A * A)
    return X.T @ G1, G1.sum(axis=0), A.T @ G2, G2.sum(axis=0)


def _one_hot(rng, m):
    return np.eye(CLASSES)[rng.integers(0, CLASSES, m)]


def softmax_regression_values(n, rng):
    return {"Y": _one_hot(rng, n), "X": rng.standard_normal((n, n)),
            "W": rng.standard_normal((n, CLASSES)) / np.sqrt(n), "b": rng.standard_normal(CLASSES)}


def two_layer_values(n, rng):
    return {"Y": _one_hot(rng, n), "X": rng.standard_normal((n, n)), "W1": rng.standard_normal((n, n)) / np.sqrt(n),
            "b1": rng.standard_normal(n), "W2": rng.standard_normal((n, CLASSES)) / np.sqrt(n),
            "b2": rng.standard_normal(CLASSES)}


@dataclass(frozen=True)
class Model:
    name: str
    text: str
    wrt: tuple[str, ...]
    decls: dict
    values: Callable[[int, np.random.Generator], dict]
    closed: Callable[..., tuple]


BATCHED = [
    Model("softmax regression", "-sum(sum(Y.*logsoftmax(X*W + b', 2)))/size(X, 1)", ("W", "b"),
          {"X": ("m", "n"), "W": ("n", "k"), "b": ("k",), "Y": ("m", "k")}, softmax_regression_values,
          softmax_regression_grads),
    Model("two-layer MLP", "-sum(sum(Y.*logsoftmax(tanh(X*W1 + b1')*W2 + b2', 2)))/size(X, 1)",
          ("W1", "b1", "W2", "b2"),
          {"X": ("m", "n"), "W1": ("n", "h"), "b1": ("h",), "W2": ("h", "k"), "b2": ("k",), "Y": ("m", "k")},
          two_layer_values, two_layer_grads),
]


def _as_model(case) -> Model:
    return Model(case.name, case.text, (case.wrt,), case.decls, case.values, lambda **v: (case.closed[1](**v),))


# ---- measuring ------------------------------------------------------------------------------------------------

def planning_sizes(f, n):
    sizes = {"n": n, "m": n, "h": n, "r": MF_RANK, "k": CLASSES if "Y" in f.variables else MLP_OUT}
    return {d: v for d, v in sizes.items() if any(d in info.shape for info in f.variables.values())}


def frameworks():
    import jax
    import jax.numpy as jnp
    import torch
    jax.config.update("jax_enable_x64", True)
    torch.set_num_threads(1)
    return torch, jax, jnp


def _tuple(x, k):
    return tuple(x) if k > 1 else (x,)


def verify_all(actual, expected):
    for a, e in zip(actual, expected, strict=True):
        verify(np.asarray(a), e)


def gradient_row(model: Model, n: int, fw) -> list:
    torch, jax, jnp = fw
    f = cr.parse(model.text, **model.decls)
    sizes = planning_sizes(f, n)
    m = {t: cr.compile(f, list(model.wrt), t, sizes=sizes) for t in ("numpy", "torch", "jax")}
    values = model.values(n, np.random.default_rng(n))
    args = {k: values[k] for k in f.variables}
    k = len(model.wrt)
    expected = model.closed(**values)
    verify_all(_tuple(m["numpy"].grad(**args), k), expected)
    ours, closed = paired_times(lambda: m["numpy"].grad(**args), lambda: model.closed(**values))
    t_ours, t_auto, t_hand = torch_times(torch, [m["torch"].f, torch_losses(torch)[model.name],
                                                 hand_functions(torch)[model.name]], args, model.wrt, expected)
    j_ours, j_auto = jax_times(jax, jnp, m["jax"], jax_losses(jnp, jax)[model.name], args, model.wrt, expected)
    return [model.name, ", ".join(model.wrt), n, ms(closed), ms(ours), f"{ours / closed:.2f}×", ms(t_auto),
            ms(t_ours), f"{t_ours / t_auto:.2f}×", ms(t_hand), f"{t_ours / t_hand:.2f}×", ms(j_auto), ms(j_ours),
            f"{j_ours / j_auto:.2f}×"]


# Rounds of alternation for the torch and JAX columns: their times move more between rounds than NumPy's (XLA runs
# its own thread pool), and with 3 rounds the same code of the quadratic form gave 0.93x and 1.09x jax.grad at
# n = 1000; with 10 rounds, ad hoc, 0.97x. The best of more rounds is the time the machine allows.
FRAMEWORK_ROUNDS = 7


def torch_times(torch, losses, args, wrt, expected):
    """Times of each loss (the generated f, torch.autograd's, the hand-written Function's), each a forward and a
    backward pass for every wrt variable, measured in alternation."""
    tensors = {k: torch.tensor(v) for k, v in args.items()}

    def step(fn):
        inputs = {k: (t.detach().requires_grad_() if k in wrt else t) for k, t in tensors.items()}
        return torch.autograd.grad(fn(**inputs), [inputs[w] for w in wrt])

    for loss in losses:
        verify_all([g.numpy() for g in step(loss)], expected)
    return alternating_times([lambda loss=loss: step(loss) for loss in losses], FRAMEWORK_ROUNDS)


def jax_times(jax, jnp, module, loss, args, wrt, expected):
    """Times (generated grad, jax.grad), both under jax.jit."""
    arrays = tuple(jnp.asarray(v) for v in args.values())
    argnums = tuple(list(args).index(w) for w in wrt)
    ours = jax.jit(module.grad)
    auto = jax.jit(jax.grad(loss, argnums=argnums if len(argnums) > 1 else argnums[0]))
    verify_all([np.asarray(g) for g in _tuple(ours(*arrays), len(wrt))], expected)
    return paired_times(lambda: jax.block_until_ready(ours(*arrays)), lambda: jax.block_until_ready(auto(*arrays)),
                        FRAMEWORK_ROUNDS)


def hessian_row(case, n: int) -> list | None:
    if 2 not in case.closed or n > case.max_n.get(2, n):
        return None
    f = cr.parse(case.text, **case.decls)
    m = cr.compile(f, case.wrt, "numpy", hessian=True, sizes=planning_sizes(f, n))
    values = case.values(n, np.random.default_rng(n))
    args = {k: values[k] for k in f.variables}
    verify(m.hessian(**args), case.closed[2](**values))
    ours, closed = paired_times(lambda: m.hessian(**args), lambda: case.closed[2](**values))
    return [case.name, case.wrt, n, ms(closed), ms(ours), f"{ours / closed:.2f}×"]


def hvp_row(case, n: int, fw) -> list:
    """The generated hvp against the generated grad of the same module: NumPy, and JAX under jit."""
    _, jax, jnp = fw
    f = cr.parse(case.text, **case.decls)
    sizes = planning_sizes(f, n)
    values = case.values(n, np.random.default_rng(n))
    args = {k: values[k] for k in f.variables}
    v = np.random.default_rng(1).standard_normal(np.shape(args[case.wrt]))
    m = cr.compile(f, case.wrt, "numpy", hvp=True, sizes=sizes)
    _check_hvp(m, args, case.wrt, v)
    hvp, grad = paired_times(lambda: m.hvp(**args, v=v), lambda: m.grad(**args))
    mj = cr.compile(f, case.wrt, "jax", hvp=True, sizes=sizes)
    arrays, jv = tuple(jnp.asarray(a) for a in args.values()), jnp.asarray(v)
    j_hvp, j_grad = jax.jit(mj.hvp), jax.jit(mj.grad)
    verify(np.asarray(j_hvp(*arrays, jv)), m.hvp(**args, v=v))
    jh, jg = paired_times(lambda: jax.block_until_ready(j_hvp(*arrays, jv)),
                          lambda: jax.block_until_ready(j_grad(*arrays)))
    return [case.name, case.wrt, n, ms(grad), ms(hvp), f"{hvp / grad:.2f}×", ms(jg), ms(jh), f"{jh / jg:.2f}×"]


def _check_hvp(m, args, wrt, v, h=1e-6):
    """hvp against the central difference of the generated gradient along v."""
    up = m.grad(**{**args, wrt: args[wrt] + h * v})
    down = m.grad(**{**args, wrt: args[wrt] - h * v})
    np.testing.assert_allclose(m.hvp(**args, v=v), (up - down) / (2 * h), rtol=1e-4,
                               atol=1e-6 * max(1.0, float(np.abs(up).max())))


def deep_network(layers: int) -> Model:
    """A network of `layers` tanh layers with biases and a softmax cross-entropy loss, by every weight and bias."""
    z, decls = "X", {"X": ("m", "n"), "Y": ("m", "k")}
    for k in range(1, layers + 1):
        decls[f"W{k}"] = ("n" if k == 1 else "h", "k" if k == layers else "h")
        decls[f"b{k}"] = ("k" if k == layers else "h",)
        z = f"{z}*W{k} + b{k}'" if k == layers else f"tanh({z}*W{k} + b{k}')"
    wrt = tuple(name for k in range(1, layers + 1) for name in (f"W{k}", f"b{k}"))
    return Model(f"{layers}-layer network", f"-sum(sum(Y.*logsoftmax({z}, 2)))/size(X, 1)", wrt, decls,
                 lambda n, rng: {}, lambda **v: ())


def generation_row(model: Model) -> list:
    """CPU seconds of cr.codegen (planning and writing; no hessian or hvp) per target, and the matrix products in the
    generated NumPy `grad`."""
    f = cr.parse(model.text, **model.decls)
    sizes = planning_sizes(f, 1000)
    seconds = []
    for target in ("numpy", "torch", "jax"):
        start = time.process_time()
        source = cr.codegen(f, list(model.wrt), target, sizes=sizes)
        seconds.append(time.process_time() - start)
        if target == "numpy":
            grad = source[source.index("def grad("):source.index("def value_and_grad(")]
            products = sum(line.count(" @ ") for line in grad.splitlines() if not line.strip().startswith("#"))
    return [model.name, len(model.wrt), *(f"{t:.2f}" for t in seconds), products]


def main(parts: list[str]) -> int:
    if parts == ["generation"]:          # needs neither torch nor JAX installed
        models = [_as_model(case) for case in CASES] + BATCHED + [deep_network(k) for k in (4, 8)]
        print(markdown_table(["problem", "wrt", "numpy s", "torch s", "jax s", "products in numpy grad"],
                             [generation_row(model) for model in models]))
        return 0
    fw = frameworks()
    parts = parts or ["gradients", "batched", "hessians", "hvps"]
    if "gradients" in parts or "batched" in parts:
        rows = [gradient_row(_as_model(case), n, fw) for n in SIZES for case in CASES] if "gradients" in parts else []
        rows += [gradient_row(model, n, fw) for n in BATCHED_SIZES for model in BATCHED] if "batched" in parts else []
        print(markdown_table(GRADIENT_HEADER, rows), end="\n\n")
    if "hessians" in parts:
        rows = [row for n in HESSIAN_SIZES for case in CASES if (row := hessian_row(case, n)) is not None]
        print(markdown_table(["problem", "by", "n", "closed-form Hessian ms", "numpy hessian ms", "ratio"], rows),
              end="\n\n")
    if "hvps" in parts:
        rows = [hvp_row(case, HVP_SIZE, fw) for case in CASES]
        print(markdown_table(["problem", "by", "n", "numpy grad ms", "numpy hvp ms", "hvp ÷ grad", "jax grad ms",
                              "jax hvp ms", "hvp ÷ grad"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
