"""Expressions for the code-generation tests: Matrix Cookbook identities, the paper's examples, the deep-learning
losses of benchmarks/, matrix variables, and every primitive. (text, variables to differentiate by, declarations)."""
import numpy as np

import chainrule as cr

CORPUS = [
    # Matrix Cookbook
    ("x'*A*x", ("x",), {}),
    ("x'*A*x", ("x", "A"), {"A": "symmetric"}),
    ("a'*X*b", ("X",), {"a": ("m",), "X": ("m", "n"), "b": ("n",)}),
    ("b'*X'*X*c", ("X",), {"b": ("n",), "X": ("m", "n"), "c": ("n",)}),
    ("(B*x+b)'*C*(D*x+d)", ("x", "C"), {"x": ("n",), "B": ("m", "n"), "b": ("m",), "C": ("m", "k"), "D": ("k", "n"),
                                         "d": ("k",)}),
    ("(x-A*s)'*W*(x-A*s)", ("s", "A"), {"W": "symmetric", "x": ("m",), "A": ("m", "n"), "s": ("n",)}),
    ("(a'*x)^2", ("x",), {"a": "vector", "x": "vector"}),
    ("x'*A*x/(x'*x)", ("x",), {}),
    ("tr(X'*A*X)", ("X", "A"), {"X": ("n", "k")}),
    ("tr(inv(A)*B)", ("A", "B"), {}),
    ("x'*inv(A)*x", ("x", "A"), {}),
    ("logdet(A)", ("A",), {}),
    ("det(A)", ("A",), {}),
    ("sum(cofactor(A))", ("A",), {}),       # its derivatives are det's second and third
    ("a'*X*X'*b", ("X",), {"a": ("m",), "b": ("m",), "X": ("m", "n")}),
    ("sum(X.*Y)", ("X", "Y"), {}),
    ("norm2(X*W)^2", ("W",), {"X": ("m", "n"), "W": ("n", "k")}),
    # the paper's examples and scalar calculus
    ("sin(x^2)", ("x",), {"x": "scalar"}),
    ("ln(sin(x^3)^2)", ("x",), {"x": "scalar"}),
    ("3*x^2*y + exp(x*y)", ("x", "y"), {"x": "scalar", "y": "scalar"}),
    ("max(0, w'*x+b)", ("w", "b"), {}),
    ("n*log(s) + norm2(x-m)^2/(2*s^2)", ("s", "m"), {"n": "scalar", "s": "scalar"}),
    # deep-learning losses (benchmarks/)
    ("sum(log(1+exp(-y.*(X*w))))", ("w",), {}),
    ("sum(log(1+exp(-y.*(X*w))))", ("w", "X"), {}),
    ("log(sum(exp(A*x)))", ("x",), {}),
    ("norm2(T-U*V')^2", ("U", "V"), {"U": ("n", "r"), "V": ("m", "r")}),
    ("sum((W2*tanh(W1*x) - y).^2)", ("W1", "W2"), {"W1": ("h", "n"), "W2": ("k", "h"), "x": ("n",), "y": ("k",)}),
    ("norm2(X*w-y)^2", ("w",), {}),
    ("-sum(y.*log(p))", ("p",), {}),
    ("sum(sigmoid(X*w))", ("w",), {}),
    # element-wise functions, extrema, reductions
    ("sum(exp(x))", ("x",), {}),
    ("sum(sin(x).*cos(x))", ("x",), {}),
    ("sum(sqrt(x.^2+1))", ("x",), {}),
    ("sum(tanh(A*x))", ("x", "A"), {}),
    ("sum(relu(X*w))", ("w",), {}),
    ("sum(abs(x))", ("x",), {}),
    ("sum(arctan(x)) + sum(tan(x/4))", ("x",), {}),
    ("sum(log(x.^2+1))", ("x",), {}),
    ("logsumexp(A*x)", ("x",), {}),
    ("norm2(x)", ("x",), {}),
    ("sum(unit(x).*a)", ("x",), {}),
    ("sum(max(x, 0).^2) + min(x'*x, 1)", ("x",), {}),
    ("sum(max(x, y))", ("x", "y"), {}),
    ("x'*x*a", ("a", "x"), {"a": "scalar"}),
    ("exp(x'*x/10)", ("x",), {}),
    ("sum(x)*sum(x)", ("x",), {}),
    ("sum(arcsin(x/4)) + sum(arccos(x/4))", ("x",), {}),
    ("sum(x.^y)", ("x", "y"), {}),
    ("sum(softplus(A*x) - x'*x)", ("x",), {}),
    # broadcasting and reductions along a dimension (issue 9)
    ("sum(relu(X*W + b'))", ("W", "b"), {"X": ("m", "n"), "W": ("n", "k"), "b": ("k",)}),
    # torch's one-pass g .* (1 - tanh(x).^2) (codegen/targets.py's derivatives): a layer with a bias, a tanh the value
    # reads again, a tanh of a tanh
    ("sum(sum(V.*tanh(X*W + b')))", ("W", "b", "X"), {"X": ("m", "n"), "W": ("n", "k"), "b": ("k",), "V": ("m", "k")}),
    ("sum(tanh(tanh(x)).^2) + norm2(A*tanh(x))^2", ("x", "A"), {"A": ("m", "n")}),
    ("-sum(sum(Y.*logsoftmax(X*W + b', 2)))/size(X, 1)", ("W", "b"),
     {"X": ("m", "n"), "W": ("n", "k"), "b": ("k",), "Y": ("m", "k")}),
    ("sum(logsumexp(X, 1)) + max(x) - min(x) + sum(max(X, [], 2))", ("X", "x"), {"X": ("m", "n"), "x": ("n",)}),
    # the ties of a min of a sum (ismax: the derivative once divided by a tie count rounded to 0)
    ("sum(min(logsoftmax(X, 2), [], 1))", ("X",), {"X": ("m", "n")}),
    # found by tests/codegen/test_generated_properties.py: a number made of sizes read by a library function or
    # placed in an array, a unit vector's entry in torch's backward, a function that is one of its inputs
    ("a + mean(z) + sin(sum(z.^0))", ("a", "z"), {"a": "scalar", "z": ("m",)}),
    ("x(1) + x(1)*x(2)", ("x",), {"x": (3,)}),
    ("a", ("a",), {"a": "scalar"}),
]

# numpy's hessian and hvp, checked against chainrule's Hessian
SECOND_ORDER = [
    ("x'*A*x", ("x",), {}),
    ("sum(log(1+exp(-y.*(X*w))))", ("w",), {}),
    ("log(sum(exp(A*x)))", ("x",), {}),
    ("norm2(T-U*V')^2", ("U",), {"U": ("n", "r"), "V": ("m", "r")}),
    ("sum(exp(x))", ("x",), {}),
    ("x'*inv(A)*x", ("x",), {}),
    ("sum((W2*tanh(W1*x) - y).^2)", ("W1",), {"W1": ("h", "n"), "W2": ("k", "h"), "x": ("n",), "y": ("k",)}),
]


def ident(row) -> str:
    text, wrt, _ = row
    return f"{text} by {','.join(wrt)}"


def values(f: cr.Expr, wrt, seed: int = 0) -> dict:
    """Random values with a different size for every dimension (so a transposed product cannot pass), square
    matrices + 2I, symmetric ones symmetric; redrawn in [0.2, 0.9] where f or a derivative is not finite."""
    dims = sorted({d for info in f.variables.values() for d in info.shape if isinstance(d, str)})
    size = {d: 2 + k for k, d in enumerate(dims)}
    rng = np.random.default_rng(seed)
    exprs = [f, *(cr.derivative(f, w) for w in wrt)]
    for attempt in range(20):
        drawn = {}
        for name, info in f.variables.items():
            shape = tuple(size.get(d, d) for d in info.shape)
            x = rng.standard_normal(shape) if attempt < 5 else rng.uniform(0.2, 0.9, shape)
            if len(shape) == 2 and shape[0] == shape[1] and attempt < 5:
                x = x + 2 * np.eye(shape[0])
            drawn[name] = (x + x.T) / 2 if info.symmetric else x
        with np.errstate(all="ignore"):
            if all(np.all(np.isfinite(e.evaluate(drawn))) for e in exprs):
                return drawn
    raise AssertionError("no point in the domain")
