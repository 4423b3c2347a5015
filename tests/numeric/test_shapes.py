"""Every node evaluates to a float array of exactly its node's shape (issue 7, A1), and the checking evaluator that
the whole suite runs under (tests/conftest.py) catches a step that breaks it."""
import numpy as np
import pytest

import chainrule as cr
from chainrule.ir import checking, topological
from chainrule.ir.validate import checking_on
from chainrule.numeric import evaluate
from chainrule.numeric.evaluate import StepShapeError


def test_the_suite_evaluates_in_checking_mode():
    assert checking_on() is True


@pytest.mark.parametrize("text, values, expected", [
    ("a+1+0*x", {"a": 1.0, "x": np.ones(3)}, [2.0, 2.0, 2.0]),
    ("sum(a+1+0*x)", {"a": 1.0, "x": np.ones(3)}, 6.0),
    ("softmax(x.^0)", {"x": np.array([1.0, -2.0, 5.0])}, [1 / 3] * 3),
    ("X*softmax(z.^0)", {"X": np.arange(6.0).reshape(2, 3), "z": np.ones(3)}, [1.0, 4.0]),
    ("a-a+0*x", {"a": 2.0, "x": np.ones(2)}, [0.0, 0.0]),
    ("b+a+2-2+0*X", {"a": 1.0, "b": 2.0, "X": np.ones((2, 3))}, np.full((2, 3), 3.0)),
])
def test_constant_terms_keep_the_shape_of_the_sum(text, values, expected):
    f = cr.parse(text)
    got = f.evaluate(values)
    np.testing.assert_allclose(got, expected)
    assert got.shape == np.shape(expected)


def test_a_sum_whose_shaped_terms_cancel_is_no_add_node_of_that_shape():
    node = cr.parse("a+1+0*x").node
    for n in topological([node]):
        if n.op == "add":
            assert any(a.shape == n.shape for a in n.args), n


def test_derivatives_of_cancelled_sums_have_their_shape():
    g = cr.derivative("sum(softmax(x.^0).*y)", "y")
    np.testing.assert_allclose(g.evaluate(x=np.ones(3), y=np.ones(3)), [1 / 3] * 3)


def _break_step(monkeypatch, op, wrong):
    """Replace the compiled step of every node of `op` by one whose value is `wrong(correct value)`."""
    original = evaluate.STEPS[op]

    def broken(node, sizes):
        compiled = original(node, sizes)
        return evaluate.Compiled(lambda xs: wrong(compiled.run(xs)), compiled.reads, compiled.result,
                                 compiled.scratch)
    monkeypatch.setitem(evaluate.STEPS, op, broken)


@pytest.mark.parametrize("op, text, wrong, message", [
    ("add", "x+y", lambda v: v[:1], r"add step `x\+y` \(3\) gave shape \(1,\)"),
    ("contract", "A*x", lambda v: v.sum(), r"contract step `A\*x` \(2\) gave shape \(\)"),
    ("map", "exp(x)", lambda v: v.astype(np.float32).astype(int), "dtype int"),
    ("map", "exp(x)", lambda v: float(v[0]), "gave shape None"),
])
def test_the_checking_evaluator_catches_a_wrongly_shaped_step(monkeypatch, op, text, wrong, message):
    _break_step(monkeypatch, op, wrong)
    f = cr.parse(text)
    values = {"x": np.ones(3), "y": np.ones(3)} if "y" in text else {"x": np.ones(3)}
    if "A" in text:
        values = {"A": np.ones((2, 3)), "x": np.ones(3)}
    with pytest.raises(StepShapeError, match=message):
        f.evaluate(values)
    with checking(False):
        f.evaluate(values)     # unchecked, the wrong step goes through: only the check stands between


def test_checking_can_be_turned_off_in_a_block():
    with checking(False):
        assert checking_on() is False
    assert checking_on() is True


def test_command_line_subprocesses_of_the_suite_check_too():
    import subprocess
    import sys
    code = "from chainrule.ir.validate import checking_on; print(checking_on())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "True"
