"""Expressions built in Python are the same IR as the same text parsed."""
import doctest
import re

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
    assert f == cr.parse("x'*A'*x")                             # one sum, its two indices named the other way round
    assert f != cr.parse("x'*B*x") and f != cr.parse("x'*A*y") and f != "x'*A*x"
    assert cr.parse("x") != cr.parse("x'")                     # the same node, shown as a column and as a row
    assert x.T @ A @ x == cr.parse("x'*A*x", **DECLS)
    assert cr.parse("x'*A*x", A="symmetric") != cr.parse("x'*A*x")


# ---- dimensions from Python: dim=, and MATLAB's [] as None; size needs its dimension ----

M = cr.matrix_var("M", "m", "n")
ALONG = [
    (lambda: cr.sum(M, dim=2), "sum(M, 2)"),
    (lambda: cr.mean(M, dim=1), "mean(M, 1)"),
    (lambda: cr.logsumexp(M, dim=2), "logsumexp(M, 2)"),
    (lambda: cr.softmax(M, dim=2), "softmax(M, 2)"),
    (lambda: cr.logsoftmax(M, dim=1), "logsoftmax(M, 1)"),
    (lambda: cr.size(M, dim=2), "size(M, 2)"),
    (lambda: cr.max(M, None, 2), "max(M, [], 2)"),
    (lambda: cr.max(M, [], 2), "max(M, [], 2)"),
    (lambda: cr.max(M, dim=2), "max(M, [], 2)"),
    (lambda: cr.min(M, None, 1), "min(M, [], 1)"),
    (lambda: cr.minimum(M, dim=1), "min(M, [], 1)"),
    (lambda: cr.call("max", M, [], 2), "max(M, [], 2)"),
]


@pytest.mark.parametrize("built, text", ALONG, ids=[a[1] + f" #{k}" for k, a in enumerate(ALONG)])
def test_a_dimension_is_an_operand_or_dim(built, text):
    f = cr.parse(text, M=("m", "n"))
    assert built().node is f.node
    values = np.random.default_rng(0).standard_normal((3, 4))
    np.testing.assert_allclose(built().evaluate(M=values), f.evaluate(M=values))


def test_max_along_a_dimension_evaluates_and_differentiates_as_numpy_says():
    values = np.random.default_rng(1).standard_normal((3, 4))
    row_max, column_min = cr.max(M, dim=2), cr.min(M, None, 1)
    np.testing.assert_allclose(row_max.evaluate(M=values), values.max(axis=1))
    np.testing.assert_allclose(column_min.evaluate(M=values), values.min(axis=0))
    gradient = cr.derivative(cr.sum(row_max), M).evaluate(M=values)     # 1 at each row's largest entry
    np.testing.assert_array_equal(gradient, values == values.max(axis=1, keepdims=True))


@pytest.mark.parametrize("call, message, hint", [
    (lambda: cr.max(M, axis=2), "no keyword argument 'axis'", "counted from 1 as in MATLAB"),
    (lambda: cr.exp(M, dim=2), "cr.exp takes no keyword argument 'dim'", None),
    (lambda: cr.sum(M, 1, dim=2), "takes one expression and the dimension", "cr.sum(X, dim=2)"),
    (lambda: cr.sin(None), "None stands for MATLAB's []", "cr.max(X, dim=2)"),
    (lambda: cr.max(M, None), "None stands for MATLAB's []", "cr.max(X, None, 2)"),
    (lambda: cr.sum(M, None), "not an operand of cr.sum", None),
])
def test_misplaced_dimensions_are_usage_errors_that_say_how(call, message, hint):
    with pytest.raises(cr.UsageError, match=re.escape(message)) as error:
        call()
    assert hint is None or hint in error.value.hint


def test_a_dimension_past_2_is_the_languages_error():
    with pytest.raises(cr.ShapeError, match="the dimension of max is 1"):
        cr.max(M, dim=3)


@pytest.mark.parametrize("call", [lambda: cr.size(M), lambda: cr.parse("size(M)"), lambda: cr.parse("1/size(x)")])
def test_size_without_a_dimension_is_a_clear_error(call):
    with pytest.raises(cr.ShapeError, match=r"with one argument would be MATLAB's vector of sizes") as error:
        call()
    assert "size(X, 1) for the rows" in error.value.hint and "numel(X)" in error.value.hint


def test_size_with_a_dimension_and_numel_are_numbers():
    f = cr.sum(M) / (cr.size(M, 1) * cr.size(M, dim=2))
    values = np.random.default_rng(2).standard_normal((3, 4))
    assert f.shape == () and f.evaluate(M=values) == pytest.approx(values.mean())
    np.testing.assert_allclose(cr.derivative(f, M).evaluate(M=values), np.full((3, 4), 1 / 12))   # sizes: constants
    with pytest.raises(cr.ShapeError, match="size takes an expression and a dimension"):
        cr.size(M, 1, 2)


# ---- building and taking apart: cr.vstack, cr.hstack, x[...] (Python's indices from 0) ----

X4 = cr.matrix_var("X", 3, 4)
x4 = cr.vector_var("x", 4)


@pytest.mark.parametrize("built, text, decls", [
    (lambda: x4[1], "x(2)", {"x": (4,)}),
    (lambda: x4[1:3], "x(2:3)", {"x": (4,)}),
    (lambda: x4[:2], "x(1:2)", {"x": (4,)}),
    (lambda: X4[0, :], "X(1, :)", {"X": (3, 4)}),
    (lambda: X4[:, 3], "X(:, 4)", {"X": (3, 4)}),
    (lambda: X4[1, 2], "X(2, 3)", {"X": (3, 4)}),
    (lambda: X4[0:2, 1:4], "X(1:2, 2:4)", {"X": (3, 4)}),
    (lambda: (X4 @ x4)[2], "(X*x)(3)", {"X": (3, 4), "x": (4,)}),
    (lambda: cr.vstack(x4, cr.scalar_var("b")), "[x; b]", {"x": (4,), "b": ()}),
    (lambda: cr.vstack(X4, x4.T), "[X; x']", {"X": (3, 4), "x": (4,)}),
    (lambda: cr.hstack(X4, cr.vector(1, 3)), "[X, vector(1, 3)]", {"X": (3, 4)}),
])
def test_python_indexing_and_stacking_build_the_languages_expression(built, text, decls, rng):
    f = built()
    g = cr.parse(text, **decls)
    assert f == g
    values = {n: rng.standard_normal(s) for n, s in decls.items()}
    np.testing.assert_array_equal(np.asarray(f.evaluate(values)), np.asarray(g.evaluate(values)))
    reference = {"x(2)": lambda v: v["x"][1], "x(2:3)": lambda v: v["x"][1:3],
                 "X(1:2, 2:4)": lambda v: v["X"][0:2, 1:4]}
    if text in reference:      # Python's meaning of the index, from NumPy
        np.testing.assert_array_equal(f.evaluate(values), reference[text](values))


@pytest.mark.parametrize("built, error, message", [
    (lambda: x4[-1], cr.UsageError, "whole number from 0"),
    (lambda: x4[0:4:2], cr.UsageError, "slice first:last"),
    (lambda: x4[2:2], cr.UsageError, "slice first:last"),
    (lambda: x4["a"], cr.UsageError, "not 'a'"),
    (lambda: x4[4], cr.ShapeError, "beyond the end"),
    (lambda: X4[1], cr.ShapeError, "indexing takes two indices"),
    (lambda: cr.vstack(X4, x4), cr.ShapeError, "the same number of columns"),
])
def test_bad_indices_and_stacks_are_clear_errors(built, error, message):
    with pytest.raises(error, match=re.escape(message)):
        built()


def test_a_stacked_parameter_vector_differentiates_like_its_text(rng):
    w, b = cr.vector_var("w", 3), cr.scalar_var("b")
    X = cr.matrix_var("X", 5, 4)
    f = cr.sum(cr.softplus(X @ cr.vstack(w, b)))
    assert f == cr.parse("sum(softplus(X*[w; b]))", X=(5, 4), w=(3,), b=())
    assert cr.check(f, "w", seed=3).ok and cr.check(f, "b", seed=3).ok
