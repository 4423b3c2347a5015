"""The derivatives of det at and near singular matrices (issue 7, A7).

d det(A)/dA is the cofactor matrix cofactor(A) (the transposed adjugate), and the k-th derivative is cofactor(A, k),
a tensor of signed (n-k)-minors, evaluated through the SVD without dividing by anything. det is a polynomial, so
central differences are exact up to rounding and the references below are independent of the engine: minors by
deletion, finite differences, JAX.
"""
import itertools

import numpy as np
import pytest

import chainrule as cr

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
jnp = jax.numpy

DET = cr.parse("det(A)", A=("n", "n"))


def cofactor_by_minors(a: np.ndarray) -> np.ndarray:
    n = len(a)
    return np.array([[(-1) ** (i + j) * np.linalg.det(np.delete(np.delete(a, i, 0), j, 1)) for j in range(n)]
                     for i in range(n)])


def matrix_of_singular_values(s, seed=1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    u, _ = np.linalg.qr(rng.standard_normal((len(s), len(s))))
    v, _ = np.linalg.qr(rng.standard_normal((len(s), len(s))))
    return u @ np.diag(s) @ v.T


SINGULAR = {
    "rank n-1": [3.0, 2.0, 1.0, 0.0],
    "rank n-2": [3.0, 2.0, 0.0, 0.0],
    "near singular": [3.0, 2.0, 1.0, 1e-13],
    "nearly rank n-2": [3.0, 2.0, 1e-9, 1e-12],
    "zero": [0.0, 0.0, 0.0, 0.0],
}


def directional_fd(f, a: np.ndarray, h: float = 1e-3) -> np.ndarray:
    """d f(A)/dA entry by entry, by central differences (exact for a polynomial of degree <= 2 in each entry)."""
    value = np.asarray(f(a))
    result = np.zeros(value.shape + a.shape)
    for row, col in itertools.product(*map(range, a.shape)):
        e = np.zeros_like(a)
        e[row, col] = h
        result[..., row, col] = (np.asarray(f(a + e)) - np.asarray(f(a - e))) / (2 * h)
    return result


@pytest.mark.parametrize("case", SINGULAR)
def test_gradient_at_and_near_singular_matrices(case):
    a = matrix_of_singular_values(SINGULAR[case])
    gradient = cr.derivative(DET, "A").evaluate(A=a)
    np.testing.assert_allclose(gradient, cofactor_by_minors(a), atol=1e-12)
    np.testing.assert_allclose(gradient, directional_fd(np.linalg.det, a), atol=1e-8)


@pytest.mark.parametrize("case", SINGULAR)
def test_second_and_third_derivatives_at_and_near_singular_matrices(case):
    a = matrix_of_singular_values(SINGULAR[case])
    hessian = cr.hessian(DET, "A").evaluate(A=a)
    np.testing.assert_allclose(hessian, directional_fd(cofactor_by_minors, a), atol=1e-8)
    third = cr.derivative(DET, "A", order=3).evaluate(A=a)
    second = cr.hessian(DET, "A")
    np.testing.assert_allclose(third, directional_fd(lambda m: second.evaluate(A=m), a), atol=1e-8)


@pytest.mark.parametrize("a", [[[1.0, 2.0], [2.0, 4.0]], [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]],
                               [[0.0, 1.0], [0.0, 0.0]], [[5.0]], [[0.0]]])
def test_exactly_singular_matrices_have_their_cofactors(a):
    # det(A)*inv(A)' raised here (LAPACK finds an exact zero pivot); the cofactor matrix is a polynomial in A
    a = np.array(a)
    np.testing.assert_allclose(cr.derivative(DET, "A").evaluate(A=a), cofactor_by_minors(a) if len(a) > 1 else [[1.0]],
                               atol=1e-12)
    np.testing.assert_allclose(cr.hessian(DET, "A").evaluate(A=a), directional_fd(cofactor_by_minors, a)
                               if len(a) > 1 else np.zeros((1, 1, 1, 1)), atol=1e-9)


@pytest.mark.parametrize("order", [1, 2, 3])
def test_derivatives_match_jax_at_a_well_conditioned_matrix(order, rng):
    a = rng.standard_normal((3, 3)) + 3 * np.eye(3)
    reference = jnp.linalg.det
    for _ in range(order):
        reference = jax.jacfwd(reference)
    np.testing.assert_allclose(cr.derivative(DET, "A", order=order).evaluate(A=a), reference(a), atol=1e-9)


def test_derivatives_beyond_the_degree_are_zero(rng):
    f = cr.parse("det(A)", A=(3, 3))
    assert cr.derivative(f, "A", order=3).text() == "cofactor(A, 3)"
    d4 = cr.derivative(f, "A", order=4)
    assert d4.node.op == "const" and d4.node.params == (0.0,) and d4.shape == (3,) * 8
    # a symbolic size: the tensor is evaluated, and is 0 beyond the size it turns out to have
    d4n = cr.derivative(DET, "A", order=4).evaluate(A=rng.standard_normal((3, 3)))
    assert d4n.shape == (3,) * 8 and not d4n.any()


def test_derivatives_of_det_inside_expressions_at_singular_points(rng):
    a, b = rng.standard_normal((3, 3)), rng.standard_normal((3, 3))
    x = matrix_of_singular_values([2.0, 1.0, 0.0])
    f = cr.parse("det(A*X*B)", A=("n", "n"), X=("n", "n"), B=("n", "n"))
    g = cr.derivative(f, "X").evaluate(A=a, X=x, B=b)
    np.testing.assert_allclose(g, directional_fd(lambda m: np.linalg.det(a @ m @ b), x), atol=1e-8)
    h = cr.hessian(cr.parse("det(X)^2", X=("n", "n")), "X").evaluate(X=x)
    np.testing.assert_allclose(h, directional_fd(lambda m: 2 * np.linalg.det(m) * cofactor_by_minors(m), x),
                               atol=1e-8)


def test_the_printed_derivatives_read_and_parse_back(rng):
    assert cr.derivative(DET, "A").text() == "cofactor(A)"
    assert cr.hessian(DET, "A").text() == "cofactor(A, 2)"
    a = matrix_of_singular_values([2.0, 1.0, 0.0, 0.0])
    for d in (cr.derivative(DET, "A"), cr.hessian(DET, "A"), cr.derivative(DET, "A", order=3)):
        again = cr.parse(d.text(), A=("n", "n"))
        assert again.shape == d.shape
        np.testing.assert_allclose(again.evaluate(A=a), d.evaluate(A=a))
    symmetric = cr.derivative(cr.parse("det(S)", S="symmetric"), "S")
    assert symmetric.text() == "cofactor(S)"


def test_cofactor_is_a_function_of_the_language(rng):
    a = rng.standard_normal((3, 3))
    np.testing.assert_allclose(cr.parse("cofactor(A)").evaluate(A=a), cofactor_by_minors(a), atol=1e-12)
    np.testing.assert_allclose(cr.parse("sum(cofactor(A).*A)/3").evaluate(A=a), np.linalg.det(a))   # Laplace
    np.testing.assert_allclose(cr.derivative("cofactor(A)", "A").evaluate(A=a),
                               cr.parse("cofactor(A, 2)").evaluate(A=a))


@pytest.mark.parametrize("text", ["cofactor(A, 0)", "cofactor(A, 1.5)", "cofactor(A, B)", "cofactor(x)",
                                  "cofactor(A, 2, 3)", "cofactor()"])
def test_bad_cofactor_calls_are_shape_errors(text):
    with pytest.raises(cr.ChainruleError):
        cr.parse(text, A=("n", "n"), B=("n", "n"), x=("n",))


def test_a_high_order_cofactor_is_refused_by_the_limits():
    with pytest.raises(cr.LimitError, match="order"):
        cr.parse("cofactor(A, 50)", A=("n", "n"))
    with cr.limits(size=10**4), pytest.raises(cr.LimitError, match="size"):
        cr.parse("cofactor(A, 3)", A=("n", "n")).evaluate(A=np.eye(5))
