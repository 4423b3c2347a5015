"""Ties in max and min (issue 7, A6): the derivative matches finite differences wherever the function is
differentiable, including where two different operands are equal over a whole region.

The rule (calculus/rules.py): between two non-constant operands a tie is split 1/2-1/2, as PyTorch's maximum does;
against a constant the chosen operand takes step(x - c), 0 at the kink, as relu does.
"""
import numpy as np
import pytest
import torch

import chainrule as cr

# (expression, declarations, points away from the kinks; some lie where the two operands are equal on an interval)
REGION_TIES = [
    ("max(a, relu(a))", {}, [-1.3, -0.4, 0.7, 2.5]),        # a = relu(a) for every a > 0
    ("max(a, abs(a))", {}, [-1.3, -0.4, 0.7, 2.5]),         # a = abs(a) for every a > 0
    ("min(a, abs(a))", {}, [-1.3, -0.4, 0.7, 2.5]),
    ("min(a, max(a, b))", {"b": 0.25}, [-1.3, 0.1, 0.7, 2.5]),   # max(a, b) = a for every a > b
    ("max(abs(a), max(a, -a))", {}, [-1.3, -0.4, 0.7, 2.5]),     # equal everywhere
    ("max(a^2, abs(a)^2)", {}, [-1.3, -0.4, 0.7, 2.5]),      # equal everywhere, curved: checks the second order
    ("max(sin(a), sin(a)*max(1, 0.5))", {}, [-1.3, 0.7]),    # equal everywhere, not built the same way
    ("min(relu(a), step(a)*a)", {}, [-1.3, 0.7, 2.5]),       # equal everywhere
]


def _scalar_fd(f, point, extra, order, h=1e-4):
    def value(t):
        return float(f.evaluate(a=t, **extra))
    if order == 1:
        return (value(point + h) - value(point - h)) / (2 * h)
    return (value(point + h) - 2 * value(point) + value(point - h)) / h ** 2


@pytest.mark.parametrize("text, extra, points", REGION_TIES, ids=[r[0] for r in REGION_TIES])
@pytest.mark.parametrize("order", [1, 2])
def test_ties_on_a_region_match_finite_differences(text, extra, points, order):
    f = cr.parse(text, a="scalar", **dict.fromkeys(extra, "scalar"))
    d = cr.derivative(f, "a", order=order)
    for point in points:
        expected = _scalar_fd(f, point, extra, order)
        assert float(d.evaluate(a=point, **extra)) == pytest.approx(expected, abs=1e-5), (text, point)


def test_vector_ties_match_finite_differences(rng):
    # max(x, relu(x)) = relu(x): the entries with x_i > 0 tie on a region, where d/dx_i is 1, not 0
    f = cr.parse("sum(max(x, relu(x)).*c)", x=("n",), c=("n",))
    g = cr.derivative(f, "x")
    x, c = np.array([-1.0, 0.5, 2.0, -0.3]), rng.standard_normal(4)
    np.testing.assert_allclose(g.evaluate(x=x, c=c), c * (x > 0), atol=1e-12)


def test_the_tie_between_two_operands_is_split_as_torch_splits_it():
    f = cr.parse("max(a, b) + 2*min(a, b)", a="scalar", b="scalar")
    da, db = cr.derivative(f, "a"), cr.derivative(f, "b")
    ta, tb = torch.tensor(0.7, dtype=torch.float64, requires_grad=True), torch.tensor(0.7, dtype=torch.float64,
                                                                                     requires_grad=True)
    (torch.maximum(ta, tb) + 2 * torch.minimum(ta, tb)).backward()
    assert float(da.evaluate(a=0.7, b=0.7)) == pytest.approx(ta.grad.item()) == pytest.approx(1.5)
    assert float(db.evaluate(a=0.7, b=0.7)) == pytest.approx(tb.grad.item()) == pytest.approx(1.5)


def test_a_tie_with_a_constant_keeps_the_relu_convention():
    # max(0, z) has slope 0 at z = 0 (step), as relu and the paper's neuron; the printed forms do not change
    f = cr.parse("max(0, w'*x+b)", w=("n",), x=("n",), b="scalar")
    db = cr.derivative(f, "b")
    assert db.text() == "step(b+w'*x)"
    assert float(db.evaluate(w=np.zeros(2), x=np.ones(2), b=0.0)) == 0.0
    assert cr.derivative("max(a, 3)", "a").text() == "step(a-3)"


@pytest.mark.parametrize("text, decls, wrt, expected", [
    ("max(x, y)", {"x": ("n",), "y": ("n",)}, "x", "0.5*diag(1+sign(x-y))"),
    ("max(a, b)", {"a": "scalar", "b": "scalar"}, "a", "0.5*(1+sign(a-b))"),
])
def test_the_split_prints_and_parses_back(text, decls, wrt, expected, rng):
    d = cr.derivative(cr.parse(text, **decls), wrt)
    assert d.text() == expected
    again = cr.parse(d.text(), **decls)
    first, second = decls
    tied = rng.standard_normal(3) if decls[first] != "scalar" else rng.standard_normal()
    for values in ({first: tied, second: tied}, {first: tied, second: tied - 1.0}):
        np.testing.assert_allclose(again.evaluate(**values), d.evaluate(**values))


def test_explain_and_trace_use_the_same_rule():
    text = str(cr.explain("max(a, relu(a))", "a"))
    assert "1/2 at a tie" in text
    assert "max(0, z)" not in text
    assert "z > 0" in str(cr.explain("max(0, a)", "a"))
    traced = str(cr.trace("max(a, abs(a))", "a", {"a": 1.0}))
    assert "all checks ok" in traced
