"""Chains of * and .* are lowered as one list of factors (language/rules.py lower_product_chain and
lower_elementwise_chain), which must build what lowering one operator at a time builds: the same interned node up to
MAX_FUSED factors (so the same printed form), the same values beyond."""
import numpy as np
import pytest

import chainrule as cr
from chainrule.language.infer import compile_text
from chainrule.simplify.contract import MAX_FUSED

DECLS = {"x": (3,), "y": (3,), "z": (3,), "r": (4,), "A": (3, 3), "B": (3, 3), "X": (3, 4), "a": (), "b": ()}
RNG = np.random.default_rng(4)
VALUES = {n: RNG.uniform(0.5, 1.5, shape) for n, shape in DECLS.items()}


def one_at_a_time(text: str):
    # every_node lowers each operator on its own (as explain needs): the reference the chains must agree with
    return compile_text(text, DECLS, every_node=True).node


SHORT = [
    "x.*y", "a.*b.*a", "x.*y.*z", "x.*x.*x.*x", "a.*x.*b.*y", "2.*x.*3", "exp(x).*sigmoid(-x).*x", "x.*exp(-x).*x",
    "x.*y'.*A", "x.*r'.*X", "a.*x'.*y'", "A.*B.*A'", "sin(x).*(y.*z).*x", "x'.*y'.*z'",
    "x'*A*x", "A*B*A*x", "a*x'*A*b*y", "x*y'*A*2", "x'*y*z'*A", "y'*x*x'*y", "A'*x*a*y'*B",
]


@pytest.mark.parametrize("text", SHORT)
def test_a_short_chain_is_the_node_one_operator_at_a_time_builds(text):
    assert compile_text(text, DECLS).node is one_at_a_time(text)


@pytest.mark.parametrize("text", [
    ".*".join(f"sin({v})" for v in "xyz" * 15), ".*".join(["x"] * 40), ".*".join(["a", "x", "b", "y'"] * 5),
    "x'*" + "*".join(["A", "B"] * 20) + "*y", "*".join(["a", "x'", "A", "y", "b"] * 4),
])
def test_a_long_chain_has_the_values_of_one_operator_at_a_time(text):
    assert text.count("*") + 1 > MAX_FUSED
    chained, stepwise = cr.parse(text, **DECLS), one_at_a_time(text)
    assert chained.shape == stepwise.shape
    expected = cr.Expr(stepwise, chained.orient, chained.variables).evaluate(VALUES)
    np.testing.assert_allclose(chained.evaluate(VALUES), expected, rtol=1e-10)
    by = max(chained.variables)
    d = cr.derivative(chained, by)
    reference = cr.derivative(cr.Expr(stepwise, chained.orient, chained.variables), by)
    np.testing.assert_allclose(d.evaluate(VALUES), reference.evaluate(VALUES), rtol=1e-10)
