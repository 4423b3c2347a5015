"""Expressions built in Python are the same IR as the same text parsed."""
import numpy as np
import pytest

import chainrule as cr

x, y, w = cr.vector("x"), cr.vector("y", "m"), cr.vector("w")
A, X = cr.matrix("A"), cr.matrix("X", "m", "n")
DECLS = {"x": ("n",), "y": ("m",), "w": ("n",), "A": ("n", "n"), "X": ("m", "n")}

CASES = [
    (x.T @ A @ x, "x'*A*x"),
    (cr.sum(cr.log(1 + cr.exp(-y * (X @ w)))), "sum(log(1+exp(-y.*(X*w))))"),
    (cr.maximum(0, w.T @ x + 1), "max(0, w'*x+1)"),
    (cr.norm2(X @ w - y) ** 2, "norm2(X*w-y)^2"),
    (cr.tr(A.T @ A) / 2, "tr(A'*A)/2"),
    (cr.logdet(A) - cr.det(A), "logdet(A)-det(A)"),
    (cr.softmax(x) * cr.tanh(x), "softmax(x).*tanh(x)"),
]


@pytest.mark.parametrize("built, text", CASES, ids=[c[1] for c in CASES])
def test_builder_matches_the_language(built, text):
    assert built.node is cr.parse(text, **DECLS).node


def test_builder_results_differentiate_and_evaluate():
    f = x.T @ A @ x
    assert cr.derivative(f, x).text() == "x'*(A+A')"
    rng = np.random.default_rng(0)
    xv, Av = rng.standard_normal(3), rng.standard_normal((3, 3))
    np.testing.assert_allclose(f.evaluate(x=xv, A=Av), xv @ Av @ xv)


def test_builder_shape_errors_are_chainrule_errors():
    with pytest.raises(cr.ShapeError, match="inner dimensions"):
        _ = X @ y
