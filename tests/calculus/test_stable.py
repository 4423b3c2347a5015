"""Stable forms (issue 7, D): values and derivatives stay finite and right at extreme arguments.

log(1+exp(u)) is softplus(u), log(sigmoid(u)) = -softplus(-u), 1/(1+exp(-u)) = sigmoid(u); norm2 is a primitive
evaluated scaled by its largest entry, with gradient unit(x) = x/norm2(x) and unit(0) = 0. References are computed
with mpmath at 50 digits.
"""
import mpmath
import numpy as np
import pytest

import chainrule as cr

mpmath.mp.dps = 50


def _softplus(t):
    return mpmath.log(1 + mpmath.exp(t))


def _sigmoid(t):
    return 1 / (1 + mpmath.exp(-t))


# (expression in x, the same function of one mpmath number)
LOGISTIC = [
    ("log(1+exp(x))", _softplus),
    ("log(exp(x)+1)", _softplus),
    ("log(1+exp(-x))", lambda t: _softplus(-t)),
    ("1./(1+exp(-x))", _sigmoid),
    ("1/(1+exp(x))", lambda t: _sigmoid(-t)),
    ("exp(x)./(1+exp(x))", _sigmoid),
    ("log(sigmoid(x))", lambda t: mpmath.log(_sigmoid(t))),
    ("log(1-sigmoid(x))", lambda t: -_softplus(t)),     # 1 - 1/(1+e^-t) = 1/(1+e^t); 1-sigmoid(1000) is 0 at 50 digits
    ("softplus(x)", _softplus),
]
POINTS = [-1000.0, -40.0, -1.5, 0.0, 0.3, 40.0, 1000.0]


@pytest.mark.parametrize("text, reference", LOGISTIC, ids=[r[0] for r in LOGISTIC])
@pytest.mark.parametrize("order", [0, 1, 2])
def test_logistic_forms_are_finite_and_right_at_extreme_values(text, reference, order):
    f = cr.parse(text, x="scalar")
    d = f if order == 0 else cr.derivative(f, "x", order=order)
    for point in POINTS:
        expected = float(mpmath.diff(reference, mpmath.mpf(point), order))
        got = float(d.evaluate(x=point))
        assert np.isfinite(got), (text, order, point)
        assert got == pytest.approx(expected, rel=1e-12, abs=1e-15), (text, order, point)


def test_the_issue_examples():
    f = cr.parse("log(1+exp(x))", x="scalar")
    assert float(f.evaluate(x=1000.0)) == 1000.0
    g = cr.derivative("sum(1./(1+exp(-x)))", "x")
    np.testing.assert_array_equal(g.evaluate(x=np.array([-1000.0, 1000.0])), [0.0, 0.0])


@pytest.mark.parametrize("text, printed", [
    ("log(1+exp(x))", "softplus(x)"),
    ("sum(1./(1+exp(-x)))", "sum(sigmoid(x))"),
    ("log(sigmoid(x))", "-softplus(-x)"),
    ("sum(log(1+exp(-y.*(X*w))))", "sum(softplus(-y.*(X*w)))"),
])
def test_stable_forms_print_by_name_and_parse_back(text, printed, rng):
    f = cr.parse(text, x=("n",))
    assert f.text() == printed
    assert cr.parse(printed, x=("n",)).node is f.node


# ---- norm2 ----

def _mp_norm(x):
    return mpmath.sqrt(mpmath.fsum(mpmath.mpf(float(v)) ** 2 for v in x))


@pytest.mark.parametrize("scale", [1e200, 1e-200, 1e-310, 1.0, 1e150])
def test_norm2_and_its_gradient_are_scaled(scale):
    x = np.array([3.0, -4.0, 12.0]) * scale
    f = cr.parse("norm2(x)", x=("n",))
    exact = _mp_norm(x)
    assert float(f.evaluate(x=x)) == pytest.approx(float(exact), rel=1e-15)
    gradient = cr.derivative(f, "x").evaluate(x=x)
    np.testing.assert_allclose(gradient, [float(mpmath.mpf(float(v)) / exact) for v in x], rtol=1e-15)
    hessian = cr.hessian(f, "x").evaluate(x=x)
    assert np.all(np.isfinite(hessian)) or scale < 1e-300    # 1/norm2 overflows only below 1e-308


def test_the_gradient_of_norm2_is_zero_at_zero():
    # the minimum-norm subgradient, as PyTorch's torch.linalg.vector_norm gives
    for text, decls, value in [("norm2(x)", {"x": ("n",)}, np.zeros(3)), ("norm2(A)", {"A": ("n", "m")},
                                                                          np.zeros((2, 3))), ("norm2(a)", {}, 0.0)]:
        f = cr.parse(text, **decls)
        name = next(iter(decls), "a")
        assert float(f.evaluate(**{name: value})) == 0.0
        np.testing.assert_array_equal(cr.derivative(f, name).evaluate(**{name: value}), np.zeros_like(value))


def test_norm2_matches_torch_at_zero_and_elsewhere(rng):
    torch = pytest.importorskip("torch")
    for x in (np.zeros(3), rng.standard_normal(3)):
        t = torch.tensor(x, requires_grad=True)
        torch.linalg.vector_norm(t).backward()
        np.testing.assert_allclose(cr.derivative("norm2(x)", "x").evaluate(x=x), t.grad.numpy(), atol=1e-15)


@pytest.mark.parametrize("text, shown, printed", [
    ("norm2(x)", "norm2(x)", "unit(x)'"),
    ("norm2(A*x-m)", "norm2(A*x-m)", "unit(A*x-m)'*A"),
    ("norm2(x-m)^2", "sum((x-m).^2)", "2*(x'-m')"),     # an even power of norm2 is a sum of squares: no root
])
def test_norm2_derivatives_read_well(text, shown, printed):
    f = cr.parse(text, x=("n",))
    assert f.text() == shown
    assert cr.derivative(f, "x").text() == printed


def test_unit_is_a_function_of_the_language(rng):
    x = rng.standard_normal(4)
    np.testing.assert_allclose(cr.parse("unit(x)").evaluate(x=x), x / np.linalg.norm(x))
    np.testing.assert_array_equal(cr.parse("unit(x)").evaluate(x=np.zeros(4)), np.zeros(4))
    a = rng.standard_normal((2, 3))
    np.testing.assert_allclose(cr.parse("unit(A)").evaluate(A=a), a / np.linalg.norm(a))
    result = cr.check(cr.parse("sum(unit(x).*c)", x=("n",), c=("n",)), "x", at={"x": x, "c": rng.standard_normal(4)},
                      order=2)
    assert result.ok, result
