"""Values given to evaluate: real numbers only, every bad value an EvaluationError (issue 7, C)."""
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest

import chainrule as cr


class _Exploding:
    def __array__(self, dtype=None, copy=None):
        raise RuntimeError("no array from me")


@pytest.mark.parametrize("value, message", [
    ([1 + 2j, 3.0], "complex"),
    (np.array([1.0, 2.0], dtype=complex), "complex"),      # zero imaginary parts: still not silently dropped
    ("1,2", "holds text"),
    (["1", "2"], "holds text"),
    ([[1.0], [2.0, 3.0]], "not an array of numbers"),   # ragged
    ([{"a": 1}, 2.0], "not an array of numbers"),
    ([None, 1.0], "holds None"),
    ([10**400, 1.0], "too large"),
    (np.array(["2020-01-01", "2020-01-02"], dtype="datetime64[D]"), "datetime64"),
    (_Exploding(), "no array from me"),
])
def test_values_that_are_not_real_numbers_are_rejected(value, message):
    with pytest.raises(cr.EvaluationError, match=message):
        cr.parse("sum(x)").evaluate(x=value)


@pytest.mark.parametrize("value", [10**400, 1j, "3", None, {"a": 1}, [1.0]])
def test_scalar_values_too(value):
    with pytest.raises(cr.EvaluationError):
        cr.parse("a+1").evaluate(a=value)


@pytest.mark.parametrize("value, expected", [
    ([1, 2], 3.0),
    ([True, True], 2.0),
    (np.array([1, 2], dtype=np.int8), 3.0),
    (np.array([1.5, 2], dtype=np.float32), 3.5),
    ([Fraction(1, 2), Decimal("1.5")], 2.0),
    (np.array([1, 2], dtype=object), 3.0),
])
def test_real_numbers_of_any_numeric_type_are_accepted(value, expected):
    assert float(cr.parse("sum(x)").evaluate(x=value)) == expected


def test_nan_and_infinity_in_given_values_are_accepted_and_diagnosed():
    # a user may want NaN to flow through; diagnose then says it was given
    f = cr.parse("sum(x)")
    assert np.isnan(f.evaluate(x=[1.0, np.nan]))
    assert f.evaluate(x=[1.0, np.inf]) == np.inf
    assert cr.diagnose(f, {"x": [1.0, np.inf]}).reason == "the given value of x is infinite"


def test_a_symmetric_matrix_with_nan_entries_in_symmetric_places_is_symmetric():
    S = np.array([[1.0, np.nan], [np.nan, 2.0]])
    assert np.isnan(cr.parse("tr(S)+sum(S*x)", S="symmetric").evaluate(S=S, x=[1.0, 1.0]))
