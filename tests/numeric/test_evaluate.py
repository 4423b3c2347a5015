import itertools

import numpy as np
import pytest

import chainrule as cr
from chainrule.ir import topological
from chainrule.numeric.evaluate import _LETTERS, _product


def test_fast_products_agree_with_einsum_on_every_two_operand_pattern(rng):
    sizes = {0: 2, 1: 3, 2: 4}
    for ra, rb in itertools.product(range(3), repeat=2):
        for a, b in itertools.product(itertools.product(sizes, repeat=ra), itertools.product(sizes, repeat=rb)):
            present = sorted(set(a) | set(b))
            for r in range(len(present) + 1):
                for out in itertools.permutations(present, r):
                    xs = [rng.standard_normal([sizes[i] for i in s]) for s in (a, b)]
                    eq = ",".join("".join(_LETTERS[i] for i in s) for s in (a, b)) + "->" + \
                        "".join(_LETTERS[i] for i in out)
                    got = _product([a, b], out, [x.shape for x in xs])(*xs)
                    np.testing.assert_allclose(got, np.einsum(eq, *xs), err_msg=eq)


def test_scalars_may_be_numbers_and_extra_values_are_accepted():
    f = cr.parse("a*sum(x)")
    g = cr.derivative(f, "a")
    assert g.evaluate(a=2, x=[1.0, 2.0]) == 3.0


@pytest.mark.parametrize("values, message", [
    ({"x": np.ones(3)}, "no value given for A"),
    ({"x": np.ones((3, 1)), "A": np.eye(3)}, "x is declared"),
    ({"x": np.ones(2), "A": np.eye(3)}, "dimension n is"),
    ({"x": np.ones(3), "A": np.eye(3), "q": 1.0}, "'q' is not a variable"),
])
def test_evaluation_errors_say_what_is_wrong(values, message):
    with pytest.raises(cr.EvaluationError, match=message):
        cr.parse("x'*A*x").evaluate(values)


def _no_dense_identity(expr):
    return all(node.op != "delta" for node in topological([expr.node]))


def test_logistic_hessian_costs_one_weighted_product():
    H = cr.hessian("sum(log(1+exp(-y.*(X*w))))", "w")
    assert _no_dense_identity(H)
    products = [n for n in topological([H.node]) if n.op == "contract" and n.rank == 2 and
                sum(a.rank == 2 for a in n.args) == 2]
    assert len(products) == 1   # X' * (a weighted X): the only matrix-matrix product


def test_factorization_gradient_needs_nothing_larger_than_the_product(rng):
    g = cr.derivative("norm2(T-U*V')^2", "U")
    assert _no_dense_identity(g)
    assert all(n.rank <= 2 for n in topological([g.node]))
    T, U, V = rng.standard_normal((5, 5)), rng.standard_normal((5, 2)), rng.standard_normal((5, 2))
    np.testing.assert_allclose(g.evaluate(T=T, U=U, V=V), -2 * (T - U @ V.T) @ V)


def _inverse_computed(expr, sizes):
    from chainrule.numeric.evaluate import Plan
    plan = Plan(expr.node, sizes)
    return any(need for node, need in zip(plan.order, plan.needed, strict=True) if node.op == "inv")


@pytest.mark.parametrize("text", ["x'*inv(A)*x", "inv(A)*x", "x'*inv(A)", "inv(A)*B", "x'*inv(A)*y"])
def test_inverse_times_something_is_a_solve_and_the_inverse_is_never_computed(text):
    assert not _inverse_computed(cr.parse(text), {"n": 4, "m": 3})


@pytest.mark.parametrize("text, wrt", [("x'*inv(A)*x", "x"), ("x'*inv(A)*y", "x"), ("norm2(inv(A)*x - y)^2", "x")])
def test_derivatives_that_multiply_an_inverse_solve_too(text, wrt):
    assert not _inverse_computed(cr.derivative(text, wrt), {"n": 4})


def test_an_inverse_used_on_its_own_is_still_computed():
    assert _inverse_computed(cr.parse("inv(A) + x*x'"), {"n": 4})


def test_solving_is_backward_stable_at_an_ill_conditioned_matrix(rng):
    # the Hilbert matrix, condition number ~1e13, and b = A*x for a random x: y = inv(A)*b by a solve has a residual
    # A*y - b at rounding level, where forming inv(A) first leaves one about 1e10 times larger
    n = 10
    A = 1.0 / (np.arange(n)[:, None] + np.arange(n)[None, :] + 1.0)
    b = A @ rng.standard_normal(n)
    y = cr.parse("inv(A)*b", b="vector").evaluate(A=A, b=b)
    scale = np.linalg.norm(A, 2) * np.linalg.norm(y)
    assert np.linalg.norm(A @ y - b) <= 1e-13 * scale
    np.testing.assert_allclose(y, np.linalg.solve(A, b), rtol=1e-12)
    with_inverse = np.linalg.inv(A) @ b
    assert np.linalg.norm(A @ with_inverse - b) > 10 * np.linalg.norm(A @ y - b)    # the test can tell them apart


def _computed(expr, sizes, op):
    from chainrule.numeric.evaluate import Plan
    plan = Plan(expr.node, sizes)
    return [node for node, need in zip(plan.order, plan.needed, strict=True) if need and node.op == op]


@pytest.mark.parametrize("text, closed", [
    ("A+A'", lambda A, B, C, X, Y: A + A.T),
    ("A'+B'", lambda A, B, C, X, Y: A.T + B.T),
    ("A'+B", lambda A, B, C, X, Y: A.T + B),
    ("A'+B+C'", lambda A, B, C, X, Y: A.T + B + C.T),
    ("A'+B'+C'", lambda A, B, C, X, Y: A.T + B.T + C.T),
    ("X+Y'", lambda A, B, C, X, Y: X + Y.T),
    ("A'+1", lambda A, B, C, X, Y: A.T + 1),
    ("A'-3*A", lambda A, B, C, X, Y: A.T - 3 * A),
])
def test_a_sum_reads_its_transposed_terms_as_views(rng, text, closed):
    values = {"A": rng.standard_normal((4, 4)), "B": rng.standard_normal((4, 4)), "C": rng.standard_normal((4, 4)),
              "X": rng.standard_normal((3, 5)), "Y": rng.standard_normal((5, 3))}
    f = cr.parse(text, X=("m", "p"), Y=("p", "m"))
    used = {name: values[name] for name in f.variables}
    np.testing.assert_allclose(f.evaluate(**used), closed(**values), rtol=1e-14, atol=1e-14)   # terms in any order


def test_a_transpose_read_only_by_a_sum_is_no_step_of_its_own():
    H = cr.hessian("x'*A*x", "x")
    assert not _computed(H, {"n": 4}, "contract")       # A+A': one step, A' read as A.T
    assert len(_computed(cr.parse("A+A' + exp(A')"), {"n": 4}, "contract")) == 1    # A' read by exp too: a step
