"""Hand-written torch.autograd.Function for each problem of benchmarks/codegen.py: the floor of a custom autograd
function written in Python.

Each forward computes the loss and saves what its backward reads; each backward is the closed-form gradient of
benchmarks/evaluation_time.py (and codegen.py's batched models) by the variables the problem differentiates by, times
the incoming gradient, and None for the others: no shape checks, no double backward, no vmap rule. The cross-entropy
backwards use that the rows of Y sum to 1 (one-hot labels), which the generated code may not assume.
"""
from collections.abc import Callable


def hand_functions(torch) -> dict[str, Callable]:
    """The loss of each problem as a hand-written autograd function, called with the problem's variables by name."""
    def function(names: str, forward: Callable, backward: Callable) -> Callable:
        # forward(*inputs) -> (value, saved tensors); backward(g, *saved) -> one gradient (or None) per input
        class Hand(torch.autograd.Function):
            @staticmethod
            def forward(ctx, *inputs):
                value, saved = forward(*inputs)
                ctx.save_for_backward(*saved)
                return value

            @staticmethod
            def backward(ctx, g):
                return backward(g, *ctx.saved_tensors)
        order = names.split()
        return lambda **inputs: Hand.apply(*(inputs[name] for name in order))

    return {
        "quadratic form": function("x A", _quadratic_forward, lambda g, x, A, Ax: (g * (Ax + x @ A), None)),
        "logistic regression": function(
            "y X w", lambda y, X, w: _logistic_forward(torch, y, X, w),
            lambda g, y, X, z: (None, None, -(g * y * torch.sigmoid(-z)) @ X)),
        "matrix factorization": function(
            "T U V", lambda T, U, V: (torch.sum((T - U @ V.T) ** 2), (T, U, V)),
            lambda g, T, U, V: (None, (2.0 * g) * (U @ (V.T @ V) - T @ V), None)),
        "one-hidden-layer MLP": function(
            "W2 W1 x y", lambda W2, W1, x, y: _mlp_forward(torch, W2, W1, x, y),
            lambda g, W2, x, a, r: (None, torch.ops.aten.tanh_backward((2.0 * g * r) @ W2, a)[:, None] * x, None,
                                    None)),
        "log-sum-exp": function(
            "A x", lambda A, x: _logsumexp_forward(torch, A, x),
            lambda g, A, Ax, value: (None, (g * torch.exp(Ax - value)) @ A)),
        "softmax regression": function(
            "Y X W b", lambda Y, X, W, b: _softmax_regression_forward(torch, Y, X, W, b),
            lambda g, Y, X, L: _softmax_regression_backward(torch, g, Y, X, L)),
        "two-layer MLP": function(
            "Y X W1 b1 W2 b2", lambda Y, X, W1, b1, W2, b2: _two_layer_forward(torch, Y, X, W1, b1, W2, b2),
            lambda g, Y, X, W2, A, L: _two_layer_backward(torch, g, Y, X, W2, A, L)),
    }


def _quadratic_forward(x, A):
    Ax = A @ x
    return x @ Ax, (x, A, Ax)


def _logistic_forward(torch, y, X, w):
    z = y * (X @ w)
    return torch.sum(torch.logaddexp(torch.zeros_like(z), -z)), (y, X, z)


def _mlp_forward(torch, W2, W1, x, y):
    a = torch.tanh(W1 @ x)
    r = W2 @ a - y
    return torch.sum(r * r), (W2, x, a, r)


def _logsumexp_forward(torch, A, x):
    Ax = A @ x
    value = torch.logsumexp(Ax, 0)
    return value, (A, Ax, value)


def _softmax_regression_forward(torch, Y, X, W, b):
    L = torch.log_softmax(X @ W + b, 1)
    return -torch.sum(Y * L) / X.shape[0], (Y, X, L)


def _softmax_regression_backward(torch, g, Y, X, L):
    # G = g (softmax(XW + b') - Y)/m; d/dW = X'G, d/db = G'1
    G = (g / X.shape[0]) * (torch.exp(L) - Y)
    return None, None, X.T @ G, torch.sum(G, 0)


def _two_layer_forward(torch, Y, X, W1, b1, W2, b2):
    A = torch.tanh(X @ W1 + b1)
    L = torch.log_softmax(A @ W2 + b2, 1)
    return -torch.sum(Y * L) / X.shape[0], (Y, X, W2, A, L)


def _two_layer_backward(torch, g, Y, X, W2, A, L):
    # G2 = g (softmax(AW2 + b2') - Y)/m, G1 = (G2 W2') .* (1 - A.^2)
    G2 = (g / X.shape[0]) * (torch.exp(L) - Y)
    G1 = torch.ops.aten.tanh_backward(G2 @ W2.T, A)
    return None, None, X.T @ G1, torch.sum(G1, 0), A.T @ G2, torch.sum(G2, 0)
