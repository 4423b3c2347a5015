"""NaN and infinity are never silent (issue 7, D): structural zeros stay zero, and `diagnose` names the first
intermediate that became NaN or infinite and why."""
import subprocess
import sys

import numpy as np
import pytest

import chainrule as cr
from chainrule.cli import main


def _central(f, x, h=1e-6):
    g = np.zeros_like(x)
    for k in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[k] = h
        g[k] = (f(x + e) - f(x - e)) / (2 * h)
    return g


def test_gradient_entries_that_tr_never_reads_are_zero_not_nan():
    f = cr.parse("tr(arcsin(arctan(A)))")
    g = cr.derivative(f, "A")
    A = np.array([[0.1, 5.0, -3.0], [7.0, 0.2, 2.0], [4.0, 9.0, -0.3]])   # arcsin(arctan(.)) is NaN off the diagonal
    got = g.evaluate(A=A)
    assert np.all(np.isfinite(got))
    assert np.all(got[~np.eye(3, dtype=bool)] == 0.0)
    expected = np.diag(1 / np.sqrt(1 - np.arctan(np.diag(A)) ** 2) / (1 + np.diag(A) ** 2))
    np.testing.assert_allclose(got, expected)
    # the true gradient: moving an off-diagonal entry does not change tr(...)
    diagonal = np.diag(_central(lambda d: float(f.evaluate(A=A - np.diag(np.diag(A)) + np.diag(d))), np.diag(A)))
    np.testing.assert_allclose(got, diagonal, atol=1e-6)


def test_a_hessian_diagonal_overflow_does_not_spread_off_the_diagonal():
    H = cr.hessian("sum(exp(x))", "x").evaluate(x=[0.0, 1000.0, 1.0])
    assert H[1, 1] == np.inf
    assert np.count_nonzero(H[~np.eye(3, dtype=bool)]) == 0


def test_a_unit_vector_selects_one_entry_whatever_the_others_are():
    g = cr.derivative("[a; b]'*log(x)", "a")     # log(x_0): log(x_1) is NaN but not read
    assert float(g.evaluate(a=1.0, b=2.0, x=[2.0, -1.0])) == pytest.approx(np.log(2.0))


@pytest.mark.parametrize("text, values, first, reason", [
    ("sum(log(x-1))", {"x": [2.0, 0.5]}, "log(x-1)", "log of a negative number, log(-0.5)"),
    ("sum(log(x))", {"x": [2.0, 0.0]}, "log(x)", "log of zero"),
    ("exp(a)-b", {"a": 1000.0, "b": 1.0}, "exp(a)", "overflow in exp, exp(1000)"),
    ("a/b", {"a": 1.0, "b": 0.0}, "b^-1", "division by zero"),
    ("sum(sqrt(x))", {"x": [4.0, -1.0]}, "sqrt(x)", "square root of a negative number"),
    ("arcsin(a)", {"a": 2.0}, "arcsin(a)", "arcsin of a number outside [-1, 1]"),
    ("logdet(A)", {"A": -np.eye(3)}, "logdet(A)", "determinant is not positive"),
    ("a.^0.3", {"a": -2.0}, "a^0.3", "a negative number to a non-integer power"),
    ("sum(x)", {"x": [1.0, np.nan]}, "x", "the given value of x is NaN"),
    ("x'*A*x", {"x": [1e200, 1.0], "A": np.eye(2)}, "x'*A*x", "overflow in a product or sum"),
])
def test_diagnose_names_the_first_nonfinite_intermediate_and_why(text, values, first, reason):
    report = cr.diagnose(text, values)
    assert report is not None
    assert report.text == first
    assert reason in report.reason
    assert first in str(report) and reason in str(report)


def test_diagnose_reports_the_entry_and_operand():
    report = cr.diagnose("sum(log(x-1))", {"x": [2.0, 3.0, 0.5]})
    assert (report.value, report.index, report.operands) == ("NaN", (2,), (-0.5,))
    assert str(report) == ("log(x-1) is the first intermediate to become NaN, at entry [2]: "
                           "log of a negative number, log(-0.5)")


def test_diagnose_is_none_when_every_intermediate_is_finite():
    assert cr.diagnose("sum(log(x))", {"x": [1.0, 2.0]}) is None
    # a NaN that a structural zero removes is not an intermediate of the evaluation
    assert cr.diagnose(cr.derivative("tr(arcsin(arctan(A)))", "A"), {"A": [[0.1, 5.0], [7.0, 0.2]]}) is None


def test_diagnose_of_a_derivative():
    g = cr.derivative("sum(sqrt(x))", "x")
    assert np.isinf(g.evaluate(x=[1.0, 0.0])[1])
    report = cr.diagnose(g, {"x": [1.0, 0.0]})
    assert report.value == "inf" and "division by zero" in report.reason


def test_diagnose_rejects_bad_values_with_the_projects_error():
    with pytest.raises(cr.EvaluationError, match="no value given for x"):
        cr.diagnose("log(x)", {})


def _cli(capsys, *argv):
    code = main(list(argv))
    return code, capsys.readouterr().out


def test_cli_value_with_nan_names_the_first_nonfinite_intermediate(capsys):
    code, out = _cli(capsys, "diff", "sum(log(x))", "--wrt", "x", "--at", "x=1,0")
    assert code == 0
    assert "x.^-1 is the first intermediate to become inf, at entry [1]: division by zero" in out


def test_cli_check_failing_on_nonfinite_numbers_says_why(capsys):
    code, out = _cli(capsys, "diff", "sum(log(x))", "--wrt", "x", "--at", "x=1,-2", "--check")
    assert code == 1
    assert "log(x) is the first intermediate to become NaN, at entry [1]: log of a negative number" in out


def test_cli_json_carries_the_diagnosis():
    out = subprocess.run([sys.executable, "-m", "chainrule.cli", "diff", "log(a)", "--wrt", "a", "--at", "a=0",
                          "--format", "json"], capture_output=True, text=True, check=True).stdout
    assert '"not_finite": "a^-1 is the first intermediate to become inf' in out


@pytest.mark.parametrize("f, values", [("log(x)", "x=1"), ("log(x)", [1.0]), (5, {"x": 1.0}), ("log(x)", {1: 2})])
def test_diagnose_of_bad_arguments_raises_the_projects_error(f, values):
    with pytest.raises(cr.ChainruleError):
        cr.diagnose(f, values)
