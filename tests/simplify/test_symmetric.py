"""simplify/symmetric.py: a matrix read as symmetric from its structure is symmetric at every value (the reading lets
a product list its indices in either order, so a wrong one would silently transpose a matrix), and the structures
of covariances, Gram matrices and their inverses are read as symmetric, so their derivatives print once."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import DECLARATIONS, SIZES, Ty, expressions

import chainrule as cr
from chainrule.simplify.symmetric import is_symmetric

SETTINGS = {"deadline": None, "derandomize": True, "database": None,
            "suppress_health_check": [HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large]}
WITH_S = {**DECLARATIONS, "S": "symmetric"}
# how a symmetric matrix is built from any matrix E (and the symmetric S, the identity): each is symmetric
SYMMETRIC_FROM = ("({E})*({E})'", "({E})'*({E})", "({E}) + ({E})'", "({E})*S*({E})'",
                  "({E})'*diag(sum(({E}).^2, 2))*({E})", "inv(({E})*({E})' + eye)", "exp(({E})'*({E}))",
                  "({E})'*({E}) + 2*S - 1")
# and the same with one operand changed: not symmetric in general
NOT_FROM = ("({E})*({E})", "({E})*S*({E})", "({E})'*({E}) + ({E})", "inv(({E})*({E}))")


def _value(text: str, seed: int = 0):
    f = cr.parse(text, **WITH_S)
    rng = np.random.default_rng(seed)
    values = {name: rng.standard_normal(info.shape) for name, info in f.variables.items()}
    if "S" in values:
        values["S"] = values["S"] + values["S"].T
    return f, np.asarray(f.evaluate(values), dtype=float)


def _numerically_symmetric(value: np.ndarray) -> bool:
    scale = max(1.0, float(np.max(np.abs(value))))
    return bool(np.allclose(value, value.T, rtol=0.0, atol=1e-9 * scale))


@settings(max_examples=200, **SETTINGS)
@given(e=expressions(max_depth=3, types=tuple(Ty("mat", (n, n)) for n in SIZES)), seed=st.integers(0, 2**16))
def test_a_matrix_read_as_symmetric_is_symmetric(e, seed):
    f, value = _value(e.text, seed)
    if f.shape == (3, 3) or f.shape == (4, 4):
        assert not is_symmetric(f.node) or _numerically_symmetric(value), f"{e.text} read as symmetric:\n{value}"


@settings(max_examples=100, **SETTINGS)
@given(e=expressions(max_depth=2, types=tuple(Ty("mat", (m, n)) for m in SIZES for n in SIZES)),
       form=st.sampled_from(SYMMETRIC_FROM + NOT_FROM), seed=st.integers(0, 2**16))
def test_structures_built_from_generated_matrices_are_not_misread(e, form, seed):
    text = _fitted(form, e.ty.shape[1]).format(E=e.text)
    try:
        f, value = _value(text, seed)
    except (cr.ShapeError, cr.EvaluationError):
        return                                       # E*E needs a square E; inv needs a regular matrix
    if np.all(np.isfinite(value)):
        assert not is_symmetric(f.node) or _numerically_symmetric(value), f"{text} read as symmetric:\n{value}"


MATRICES = {"A": 3, "B": 4, "C": 3, "C*B": 4, "tanh(B)": 4, "A*B + 1": 4, "B - mean(B, 2)": 4, "[A, x]": 4}


@pytest.mark.parametrize("form, e", [(form, e) for form in SYMMETRIC_FROM for e, columns in MATRICES.items()
                                     if "+ ({E})'" not in form or cr.parse(e, **WITH_S).shape == (columns, columns)])
def test_symmetric_structures_are_read(form, e):
    """Each form, built from matrices that vary entry by entry, is read as symmetric (from a degenerate one, such as
    a constant spread over a matrix, the structure may not show it: it is then not read, which is sound)."""
    f, value = _value(_fitted(form, cr.parse(e, **WITH_S).shape[1]).format(E=e))
    assert is_symmetric(f.node) and _numerically_symmetric(value)


def _fitted(form: str, columns) -> str:
    """The form with the identity for S where E has not S's 3 columns."""
    return form if columns == 3 else form.replace("S", "eye")


@pytest.mark.parametrize("text, wrt, printed", [
    ("logdet(X*X'+s*eye)", "X", "2*inv(s*eye(\"n\")+X*X')*X"),
    ("y'*inv(X*X'+eye)*y", "X", "-2*inv(eye(\"n\")+X*X')*y*y'*inv(eye(\"n\")+X*X')*X"),
    ("x'*inv(A*B)*x", "x", "x'*(inv(A*B)+inv(A*B)')"),
])
def test_derivatives_through_a_built_symmetric_matrix_print_once(text, wrt, printed):
    assert cr.derivative(text, wrt).text() == printed
