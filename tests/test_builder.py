"""Expressions built in Python are the same IR as the same text parsed."""
import doctest

import numpy as np
import pytest

import chainrule as cr
from chainrule.builder import PYTHON_FUNCTIONS
from chainrule.language.rules import FUNCTIONS

x, y, w = cr.vector_var("x", "n"), cr.vector_var("y", "m"), cr.vector_var("w", "n")
A, X = cr.matrix_var("A", "n"), cr.matrix_var("X", "m", "n")
DECLS = {"x": ("n",), "y": ("m",), "w": ("n",), "A": ("n", "n"), "X": ("m", "n")}

CASES = [
    (x.T @ A @ x, "x'*A*x"),
    (cr.sum(cr.log(1 + cr.exp(-y * (X @ w)))), "sum(log(1+exp(-y.*(X*w))))"),
    (cr.maximum(0, w.T @ x + 1), "max(0, w'*x+1)"),
    (cr.norm2(X @ w - y) ** 2, "norm2(X*w-y)^2"),
    (cr.tr(A.T @ A) / 2, "tr(A'*A)/2"),
    (cr.logdet(A) - cr.det(A), "logdet(A)-det(A)"),
    (cr.softmax(x) * cr.tanh(x), "softmax(x).*tanh(x)"),
    (abs(x) + cr.arcsin(x) + cr.arccos(x) + cr.arctan(x) + cr.step(x), "abs(x)+arcsin(x)+arccos(x)+arctan(x)+step(x)"),
    (cr.cofactor(A, 2), "cofactor(A, 2)"),
    (cr.eye("n") @ x + cr.vector(2, "n"), 'eye("n")*x+vector(2, "n")'),
    (cr.einsum("ij,j->i", X, w), 'einsum("ij,j->i", X, w)'),
    (2 ** x, "2.^x"),
]


@pytest.mark.parametrize("built, text", CASES, ids=[c[1] for c in CASES])
def test_builder_matches_the_language(built, text):
    assert built.node is cr.parse(text, **DECLS).node


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_function_of_the_language_is_in_python_and_agrees_with_the_text(name):
    """Each docstring example builds cr.<name>(...) and compares it with parse("<name>(...)")."""
    function = getattr(cr, name)
    assert function is PYTHON_FUNCTIONS[name] and function.__name__ == name
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for test in doctest.DocTestFinder().find(function, name, globs={}):
        runner.run(test)
    assert runner.summarize(verbose=False) == (0, 3)


def test_python_names_of_max_and_min_and_the_builtins():
    assert cr.maximum is cr.max and cr.minimum is cr.min
    assert "maximum" in cr.__all__ and "sum" not in cr.__all__ and "abs" not in cr.__all__
    assert abs(x) == cr.abs(x) == cr.parse("abs(x)", x=("n",))


def test_unknown_attributes_are_attribute_errors():
    with pytest.raises(AttributeError, match="no attribute 'nosuch'"):
        _ = cr.nosuch
    with pytest.raises(AttributeError, match=r"did you mean cr\.scalar_var"):
        _ = cr.scalar


def test_vector_and_matrix_are_the_languages_filled_tensors():
    assert cr.vector(2, "n").node is cr.parse('vector(2, "n")').node
    assert cr.matrix(0, 2, 3).evaluate().tolist() == [[0, 0, 0], [0, 0, 0]]
    with pytest.raises(cr.ShapeError, match="quoted text") as error:
        cr.vector("x")
    assert 'cr.vector_var("x")' in error.value.hint


def test_a_size_left_open_is_an_error_in_python():
    with pytest.raises(cr.ShapeError, match="leaves a size unknown"):
        cr.eye()


def test_builder_results_differentiate_and_evaluate():
    f = x.T @ A @ x
    assert cr.derivative(f, x).text() == "x'*(A+A')"
    rng = np.random.default_rng(0)
    xv, Av = rng.standard_normal(3), rng.standard_normal((3, 3))
    np.testing.assert_allclose(f.evaluate(x=xv, A=Av), xv @ Av @ xv)


def test_variables_get_their_own_dimensions_unless_told():
    W, v = cr.matrix_var("W"), cr.vector_var("v")
    assert W.shape == ("m_W", "n_W") and v.shape == ("n_v",)
    assert cr.matrix_var("S", symmetric=True).shape == ("n_S", "n_S")
    f = cr.norm2(W) ** 2 + cr.sum(v)
    np.testing.assert_allclose(f.evaluate(W=np.ones((2, 3)), v=np.ones(3)), 6 + 3)
    g = W @ cr.vector_var("u", W.shape[1])
    assert g.evaluate(W=np.ones((2, 3)), u=[1.0, 2.0, 3.0]).tolist() == [6.0, 6.0]


def test_builder_shape_errors_name_the_operands():
    with pytest.raises(cr.ShapeError, match=r"inner dimensions .*'X' is a matrix \(m×n\), 'y' a col vector \(m\)"):
        _ = X @ y
    with pytest.raises(cr.ShapeError, match=r"'exp\(x\)' is a col vector \(n\), 'X\*w' a col vector \(m\)"):
        _ = cr.exp(x) + X @ w
    with pytest.raises(cr.ShapeError, match=r"det needs a square matrix, but 'X' is a matrix"):
        cr.det(X)


def test_one_name_is_one_variable():
    with pytest.raises(cr.ShapeError, match="two different variables are called x"):
        _ = cr.sum(x) + cr.sum(cr.vector_var("x", 3))


def test_equality_and_hashing_follow_the_ir():
    f, g = cr.parse("x'*A*x"), cr.parse("x'*A*x")
    assert f == g and hash(f) == hash(g) and len({f, g}) == 1
    assert f != cr.parse("x'*A'*x") and f != "x'*A*x"
    assert cr.parse("x") != cr.parse("x'")                     # the same node, shown as a column and as a row
    assert x.T @ A @ x == cr.parse("x'*A*x", **DECLS)
    assert cr.parse("x'*A*x", A="symmetric") != cr.parse("x'*A*x")
