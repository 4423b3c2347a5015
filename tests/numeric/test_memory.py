"""Evaluation estimates its memory before allocating and stops with a LimitError naming the step (issue 7, B)."""
import time
import tracemalloc

import numpy as np
import pytest

import chainrule as cr
from chainrule.numeric.evaluate import Plan, _intermediate


def _refused_quickly(evaluate, match):
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(cr.LimitError, match=match) as error:
            evaluate()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - start < 5.0
    assert peak < 50 * 2**20          # nothing of the refused size was allocated
    return str(error.value)


def test_a_huge_identity_is_refused_before_allocating():
    message = _refused_quickly(lambda: cr.parse("eye(100000000)").evaluate(), r"entries of `eye\(100000000\)`")
    assert "cr.limits(size=...)" in message


def test_a_hessian_at_n_100000_is_refused_before_allocating():
    H = cr.hessian("sum(exp(x))", "x")
    _refused_quickly(lambda: H.evaluate(x=np.zeros(100_000)), r"entries of `diag\(exp\(x\)\)` \(100000×100000\)")


def test_memory_over_eval_bytes_names_the_step_and_the_limit():
    f = cr.parse("A*B")
    A = np.ones((300, 300))
    with cr.limits(eval_bytes=300 * 300 * 8 - 1):
        message = _refused_quickly(lambda: f.evaluate(A=A, B=A), r"bytes of memory to evaluate `A\*B` \(300×300\)")
    assert "(eval_bytes)" in message
    with cr.limits(eval_bytes=4 * 300 * 300 * 8):
        np.testing.assert_allclose(f.evaluate(A=A, B=A), A @ A)


def test_limits_are_read_at_each_evaluation_not_when_the_plan_was_built():
    f = cr.parse("A*B")
    A = np.ones((100, 100))
    f.evaluate(A=A, B=A)                                # the plan for these sizes is cached
    with cr.limits(eval_bytes=1000), pytest.raises(cr.LimitError):
        f.evaluate(A=A, B=A)


def test_structural_identities_of_a_product_are_never_materialised():
    # a Kronecker delta inside a product is absorbed, never built as an n×n matrix
    g = cr.derivative("sum(exp(x))", "x")
    with cr.limits(eval_bytes=10 * 8 * 1000):
        g.evaluate(x=np.zeros(1000))
    H = cr.hessian("sum(exp(x))", "x")               # diag(exp(x)): the n×n result, and the vector exp(x)
    plan = Plan(H.node, {"n": 1000})
    assert plan.peak_bytes <= 8 * (1000 * 1000 + 3 * 1000)


@pytest.mark.parametrize("text", ["sum(cofactor(A).*B)", "sum(cofactor(A))"])
def test_the_second_derivative_of_det_against_a_matrix_is_never_materialised(text):
    """The derivative of the cofactor matrix along B (or along ones) is D2det(A) against it: n^4 entries (4 GB at
    n = 150) that the plan takes through the SVD of A instead. Compared with the closed form at an invertible A:
    det(A) (tr(inv(A) B) inv(A)' - inv(A)' B' inv(A)')."""
    n = 150
    rng = np.random.default_rng(0)
    A = np.eye(n) + rng.standard_normal((n, n)) / (2 * np.sqrt(n))
    B = rng.standard_normal((n, n)) if "B" in text else np.ones((n, n))
    g = cr.derivative(cr.parse(text, A=("n", "n"), B=("n", "n")), "A")
    plan = Plan(g.node, {"n": n})
    assert plan.peak_bytes <= 8 * 8 * n * n
    inverse = np.linalg.inv(A)
    expected = np.linalg.det(A) * (np.trace(inverse @ B) * inverse.T - inverse.T @ B.T @ inverse.T)
    got = g.evaluate(A=A, B=B) if "B" in text else g.evaluate(A=A)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9 * np.abs(expected).max())


def test_values_are_freed_after_their_last_use():
    f = cr.parse("sum(exp(exp(exp(exp(x)))))")
    plan = Plan(f.node, {"n": 10_000})
    assert plan.peak_bytes <= 8 * 3 * 10_000             # two vectors alive at once (and some scratch), not four


def test_the_largest_intermediate_of_a_long_product_is_counted():
    # A_ij B_jk C_kl with a 1000-long inner index: any pairwise order builds a 10×1000 or 1000×10 matrix at least
    shapes = [(10, 1000), (1000, 1000), (1000, 10)]
    assert _intermediate([(0, 1), (1, 2), (2, 3)], (0, 3), shapes) >= 10 * 1000
