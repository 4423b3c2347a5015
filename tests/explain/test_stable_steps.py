"""explain and trace follow the engine's stable rewrites (issue 9, item 5): where the constructors rewrote an operation
through an operand operation (log(sigmoid(z)) is -softplus(-z)), the two are one step, written as typed, evaluated
from the stable form and differentiated as it, so every number is finite at logits of ±1000."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import check_derivation
from test_front_end import check_front_end

import chainrule as cr
from chainrule.explain import explain
from chainrule.language.steps import intermediates
from chainrule.notation.formula import formula
from chainrule.trace import trace

BCE = "-sum(y.*log(sigmoid(z)) + (1-y).*log(1-sigmoid(z)))"
LARGE = [
    (BCE, "z", {"z": [1000.0, -1000.0, 0.5, -3.0], "y": [1.0, 0.0, 1.0, 0.0]}),
    (BCE, "z", {"z": [-1000.0, 1000.0], "y": [1.0, 0.0]}),          # confidently wrong: loss 2000, gradient ±1
    ("-y'*log(softmax(z))", "z", {"z": [1000.0, -1000.0, 0.0], "y": [0.0, 1.0, 0.0]}),
    ("-softmax(z)'*log(softmax(z))", "z", {"z": [1000.0, 999.0, -1000.0]}),
    ("sum(log(1+exp(x)))", "x", {"x": [1000.0, -1000.0, 0.3]}),
    ("sum(log(sigmoid(z)))", "z", {"z": [1000.0, -1000.0]}),
    ("log(1-sigmoid(a))*b", "a", {"a": 1000.0, "b": 2.0}),
]
IDS = [f"{text} at {np.ravel(at[wrt])[0]:g}" for text, wrt, at in LARGE]


def _torch_value_and_gradient(text: str, wrt: str, at: dict) -> tuple[float, np.ndarray]:
    """The same function written with PyTorch's own stable functions, and its autograd gradient."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    t = {n: torch.tensor(np.asarray(v, dtype=float), dtype=torch.float64, requires_grad=n == wrt)
         for n, v in at.items()}
    written = {
        BCE: lambda: F.binary_cross_entropy_with_logits(t["z"], t["y"], reduction="sum"),
        "-y'*log(softmax(z))": lambda: -(t["y"] * torch.log_softmax(t["z"], 0)).sum(),
        "-softmax(z)'*log(softmax(z))": lambda: -(torch.softmax(t["z"], 0) * torch.log_softmax(t["z"], 0)).sum(),
        "sum(log(1+exp(x)))": lambda: F.softplus(t["x"]).sum(),
        "sum(log(sigmoid(z)))": lambda: F.logsigmoid(t["z"]).sum(),
        "log(1-sigmoid(a))*b": lambda: F.logsigmoid(-t["a"]) * t["b"],
    }
    value = written[text]()
    value.backward()
    return float(value.detach()), t[wrt].grad.numpy()


@pytest.mark.parametrize("text, wrt, at", LARGE, ids=IDS)
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_trace_is_finite_and_checked_at_large_logits(text, wrt, at, mode):
    t = trace(text, wrt, at, mode=mode)
    assert t.ok and t.not_finite is None, t.text()
    assert all(np.all(np.isfinite(s.value)) for s in t.forward)
    for step in t.backward:
        assert np.all(np.isfinite(step.upstream))
        assert all(np.all(np.isfinite(e.local.value)) and np.all(np.isfinite(e.downstream)) for e in step.edges)
    for step in t.tangents:
        assert np.all(np.isfinite(step.tangent))
    value, gradient = _torch_value_and_gradient(text, wrt, at)
    np.testing.assert_allclose(float(t.value), value, rtol=1e-12, atol=1e-12)
    accumulated = t.gradients[0].backprop if mode == "reverse" else t.directional.tangent
    expected = gradient if mode == "reverse" else np.sum(gradient)         # forward: along a direction of ones
    np.testing.assert_allclose(accumulated, expected, rtol=1e-12, atol=1e-12)
    assert "NaN" not in t.text() and "inf" not in t.text()


@pytest.mark.parametrize("text, wrt, at", LARGE, ids=IDS)
def test_explain_trace_and_graph_agree_at_large_logits(text, wrt, at):
    decls = {n: "scalar" if np.ndim(v) == 0 else (len(v),) for n, v in at.items()}
    check_front_end(text, decls, {n: np.asarray(v, dtype=float) for n, v in at.items()})
    for order in ("reverse", "forward"):
        d = explain(text, wrt, order=order, **decls)
        check_derivation(d, {n: np.asarray(v, dtype=float) for n, v in at.items()})
        assert "nan" not in d.text().lower()


def test_a_fused_step_is_written_as_typed_with_the_operands_that_remain():
    steps = intermediates(BCE, {})
    shown = {formula(u).text(): u for u in steps.intermediates}
    # both 1-sigmoid(z) and sigmoid(z) vanished from log's node (-softplus(z)): one step, operand z
    assert shown["log(1-sigmoid(z))"].operands == ("z",) and shown["log(1-sigmoid(z))"].fused
    assert cr.parse("-softplus(z)", z=("n",)).node is shown["log(1-sigmoid(z))"].local
    assert not any(u.op == "sigmoid" for u in steps.intermediates)            # no step computes sigmoid(z) alone
    assert any("log(sigmoid(z))" in text for text in shown)
    t = trace(BCE, "z", {"z": [1000.0, -1000.0], "y": [1.0, 0.0]})
    assert "log(1-sigmoid(z))" in t.text() and "log(sigmoid(z))" in t.text()
    for text, decls, expected in [("-y'*log(softmax(z))", {}, "log(softmax(z))"),
                                  ("log(1+exp(x))", {"x": "scalar"}, "log(1+exp(x))"),
                                  ("log(exp(x))", {"x": "scalar"}, "log(exp(x))")]:
        fused = [u for u in intermediates(text, decls).intermediates if u.fused]
        assert [formula(u).text() for u in fused] == [expected] and fused[0].operands == (text[-3],)
        assert expected in explain(text, text[-3], **decls).text()


def test_a_fused_local_jacobian_is_the_derivative_of_its_formula():
    # ∂u1/∂z of u1 = log(sigmoid(z)) is diag(sigmoid(-z)), finite where 1/sigmoid(z) is not
    at = {"z": np.array([1000.0, -1000.0, 0.7])}
    t = trace("sum(log(sigmoid(z)))", "z", at)
    u1 = t.forward[0]
    assert u1.formula == "log(sigmoid(z))" and u1.operands == ("z",)
    local = next(s for s in t.backward if s.name == "u1").edges[0].local
    of_formula = cr.derivative(cr.parse(u1.formula, z=(3,)), "z").evaluate(at)
    np.testing.assert_allclose(local.value, of_formula)
    torch = pytest.importorskip("torch")
    z = torch.tensor(at["z"], dtype=torch.float64)
    expected = torch.autograd.functional.jacobian(torch.nn.functional.logsigmoid, z).numpy()
    np.testing.assert_allclose(local.value, expected, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(u1.value, torch.nn.functional.logsigmoid(z).numpy(), rtol=1e-15)


@pytest.mark.parametrize("text", ["x'*A*x", "(x'*A)*x", "2*(3*a)", "x^2*x", "a+b+c", "-(-x)'*y", "(A*B)'",
                                  "x - 2*(y)", "sum(x./y)/N", "-x'*A", "softmax(z)'*log(z)"])
def test_regrouped_sums_and_products_are_not_fused(text):
    # the constructors regroup these (x'*A*x is one product, 2*(3*a) is 6*a, x^2*x is x^3): nothing is rewritten
    # through, so each operation keeps its own step
    steps = intermediates(text, {"N": "scalar"})
    assert not any(u.fused for u in steps.intermediates)


def test_the_rule_is_general_not_a_list_of_pairs():
    # norm2(x)^2 is built as sum(x.^2) (not one of the logistic rewrites): the same rule makes it one step
    u, = intermediates("norm2(x)^2").intermediates
    assert u.fused and formula(u).text() == "norm2(x)^2" and u.operands == ("x", "2")
    assert u.local is cr.parse("sum(x.^2)").node
    at = {"x": np.array([0.0, 0.0])}          # where norm2's own derivative is a convention: here it is exact
    t = trace("norm2(x)^2", "x", at)
    assert t.ok and t.gradients[0].backprop.tolist() == [0.0, 0.0]
