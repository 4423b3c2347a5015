"""The chain rule for tensors, printed in full, with every number derived by chainrule.

For a matrix X, a matrix Y = g(X) and a scalar z = f(Y), Goodfellow et al. (§6.5.2) write

    ∇_X z = Σ_j (∇_X Y_j) ∂z/∂Y_j          (j runs over every index tuple of Y)

This script prints each ∇_X Y_j (a matrix shaped like X), each ∂z/∂Y_j, the weighted sum, and shows that it equals
the direct gradient `chainrule.derivative(z, "X")` and central finite differences. Then the vector form
∇_x z = (∂y/∂x)' ∇_y z, and a parameter used in two places (treated as two copies first, then the sum). It ends with the
same computation through `chainrule.trace`.

Run:  .venv/bin/python examples/tensor_chain_rule.py
"""
from __future__ import annotations

import numpy as np

import chainrule as cr
from chainrule.trace import trace

TOLERANCE = 1e-7


def agree(what: str, a: np.ndarray, b: np.ndarray) -> None:
    """Print the largest difference; stop the script if the two computations disagree."""
    error = float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
    print(f"  {what}: max |difference| = {error:.1e}")
    if not error <= TOLERANCE * max(1.0, float(np.max(np.abs(b)))):
        raise SystemExit(f"MISMATCH: {what}")


def central_differences(z: cr.Expr, name: str, values: dict, h: float = 1e-6) -> np.ndarray:
    """∂z/∂v_i ≈ (z(v + h e_i) - z(v - h e_i)) / 2h for every entry i of the variable `name`."""
    v = np.asarray(values[name], dtype=float)
    grad = np.zeros_like(v)
    for i in np.ndindex(v.shape):
        step = np.zeros_like(v)
        step[i] = h
        grad[i] = (z.evaluate({**values, name: v + step}) - z.evaluate({**values, name: v - step})) / (2 * h)
    return grad


def tensor_form(rng: np.random.Generator) -> None:
    print("1. Tensor form: X is 2×3, Y = tanh(X*B) is 2×2, z = sum(exp(Y))")
    values = {"X": rng.standard_normal((2, 3)), "B": rng.standard_normal((3, 2))}
    g = cr.parse("tanh(X*B)", X=(2, 3), B=(3, 2))
    f = cr.parse("sum(exp(Y))", Y=(2, 2))
    z = cr.parse("sum(exp(tanh(X*B)))", X=(2, 3), B=(3, 2))
    Y = g.evaluate(values)
    jac = cr.derivative(g, "X")                      # shape Y.shape + X.shape: jac[j] is ∇_X Y_j
    dz_dY = cr.derivative(f, "Y")
    print(f"  Y =\n{Y}\n  ∂Y/∂X = {jac.text()}   (generalized Jacobian, shape (2×2)×(2×3))")
    print(f"  ∂z/∂Y = {dz_dY.text()}")
    J, G = jac.evaluate(values), dz_dY.evaluate(Y=Y)
    total = np.zeros_like(values["X"])
    for j in np.ndindex(Y.shape):
        print(f"  j = {j}:  ∂z/∂Y_j = {G[j]:.4f},  ∇_X Y_j =\n{J[j]}")
        total += J[j] * G[j]
    print(f"  Σ_j (∇_X Y_j) ∂z/∂Y_j =\n{total}")
    direct = cr.derivative(z, "X").evaluate(values)
    print(f"  direct: ∇_X z = {cr.derivative(z, 'X').text()} =\n{direct}")
    agree("weighted sum vs derivative(z, X)", total, direct)
    agree("weighted sum vs finite differences", total, central_differences(z, "X", values))


def vector_form(rng: np.random.Generator) -> None:
    print("\n2. Vector form: x in R^3, y = tanh(W*x) in R^2, z = logsumexp(y)")
    values = {"x": rng.standard_normal(3), "W": rng.standard_normal((2, 3))}
    g = cr.parse("tanh(W*x)", x=(3,), W=(2, 3))
    f = cr.parse("logsumexp(y)", y=(2,))
    z = cr.parse("logsumexp(tanh(W*x))", x=(3,), W=(2, 3))
    y = g.evaluate(values)
    dy_dx = cr.derivative(g, "x")                    # the 2×3 Jacobian of g
    grad_y = cr.derivative(f, "y")
    print(f"  ∂y/∂x = {dy_dx.text()} =\n{dy_dx.evaluate(values)}")
    print(f"  ∇_y z = {grad_y.text()} = {grad_y.evaluate(y=y)}")
    chained = dy_dx.evaluate(values).T @ grad_y.evaluate(y=y)
    direct = cr.derivative(z, "x").evaluate(values)
    print(f"  (∂y/∂x)' ∇_y z = {chained}\n  direct ∇_x z  = {direct}")
    agree("(∂y/∂x)' ∇_y z vs derivative(z, x)", chained, direct)
    agree("(∂y/∂x)' ∇_y z vs finite differences", chained, central_differences(z, "x", values))


def shared_parameter(rng: np.random.Generator) -> None:
    print("\n3. A parameter used twice: z = sum(tanh(W*tanh(W*x))) (as in a recurrent step)")
    W, x = rng.standard_normal((3, 3)), rng.standard_normal(3)
    copies = cr.parse("sum(tanh(W2*tanh(W1*x)))", W1=("n", "n"), W2=("n", "n"))
    shared = cr.parse("sum(tanh(W*tanh(W*x)))")
    at = {"W1": W, "W2": W, "x": x}
    parts = {name: cr.derivative(copies, name) for name in ("W1", "W2")}
    for name, d in parts.items():
        print(f"  copy {name}: ∂z/∂{name} = {d.text()} =\n{d.evaluate(at)}")
    total = sum(d.evaluate(at) for d in parts.values())
    direct = cr.derivative(shared, "W")
    print(f"  sum of the copies =\n{total}\n  direct ∂z/∂W = {direct.text()} =\n{direct.evaluate(W=W, x=x)}")
    agree("sum of copies vs derivative(z, W)", total, direct.evaluate(W=W, x=x))
    agree("sum of copies vs finite differences", total, central_differences(shared, "W", {"W": W, "x": x}))


def through_trace(rng: np.random.Generator) -> None:
    print("\n4. The same through chainrule.trace")
    at = {"X": rng.standard_normal((2, 3)), "B": rng.standard_normal((3, 2))}
    print(trace("sum(exp(tanh(X*B)))", "X", at, declarations={"X": (2, 3), "B": (3, 2)}).text())
    print()
    print(trace("sum(tanh(W*tanh(W*x)))", "W", {"W": rng.standard_normal((3, 3)), "x": rng.standard_normal(3)}).text())


def main() -> None:
    rng = np.random.default_rng(0)
    with np.printoptions(precision=4, suppress=True):
        tensor_form(rng)
        vector_form(rng)
        shared_parameter(rng)
        through_trace(rng)
    print("\nEvery route gives the same gradient.")


if __name__ == "__main__":
    main()
