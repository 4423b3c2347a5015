"""A compact form the user wrote prints back under its name, whatever its operand: softmax(Z, d), logsoftmax(Z, d)
and logsumexp(Z, d) of a generated matrix expression Z print as the name around Z's own text, and so does mean(Z, d)
(stored as sum(Z, d)/size(Z, d), or times 1/n where sizes are numbers), up to a number pulled out of Z.

softmax(Z, d) is stored as exp(Z - logsumexp(Z, d)); the printer finds Z beside its logsumexp again. It lost the name
where Z's text differed between the two places (a size in Z: Q*K'/sqrt(size(K, 2))), where the sum held Z's terms
one by one but in another grouping (-(U - V)), and where Z was itself a log-softmax, whose terms stood beside its
own logsumexp (softmax(logsoftmax(Y, 1), 1)).

Z is a generated expression plus a matrix variable of its shape that no generated expression uses, so that it
varies along both axes: where Z is constant along the axis, or repeats one vector over it, the sum holding Z and its
logsumexp is stored gathered ((u - logsumexp(u*1', 2))*1'), and the printer does not recover the name (the function
is then constant: 1/n for softmax).
"""
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import DECLARATIONS, SIZES, Ty, expressions

import chainrule as cr

SETTINGS = {"deadline": None, "derandomize": True, "database": None,
            "suppress_health_check": [HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large]}
MATRICES = tuple(Ty("mat", (m, n)) for m in SIZES for n in SIZES)
FULL = {(3, 3): "P", (3, 4): "Q", (4, 3): "R", (4, 4): "S"}     # a term of each shape, which nothing generated cancels
WITH_FULL = {**DECLARATIONS, **{name: shape for shape, name in FULL.items()}}


@settings(max_examples=300, **SETTINGS)
@given(e=expressions(max_depth=3, types=MATRICES), name=st.sampled_from(("softmax", "logsoftmax", "logsumexp")),
       d=st.sampled_from((1, 2)), scaled=st.booleans(), nested=st.sampled_from((None, 1, 2)))
def test_a_compact_form_prints_under_its_name(e, name, d, scaled, nested):
    """name(Z, d) prints as name and Z's text, where Z is e plus a variable, as it is, or divided by a size, or in a
    log-softmax along either dimension."""
    z = f"{e.text} + {FULL[e.ty.shape]}"
    z = f"({z})/sqrt(size(B, 2))" if scaled else z
    z = f"logsoftmax({z}, {nested})" if nested else z
    inner = cr.parse(z, **WITH_FULL).text()
    assert cr.parse(f"{name}({z}, {d})", **WITH_FULL).text() == f"{name}({inner}, {d})"


@settings(max_examples=150, **SETTINGS)
@given(e=expressions(max_depth=3, types=MATRICES), d=st.sampled_from((1, 2)), scaled=st.booleans())
def test_a_mean_prints_as_a_mean(e, d, scaled):
    """mean(Z, d) prints as mean and Z's text; a number in Z (its scaling by a size, where sizes are numbers) may
    come out in front: mean(0.5*(P+A), 2) prints 0.5*mean(P+A, 2)."""
    z = f"{e.text} + {FULL[e.ty.shape]}"
    if scaled:
        printed = cr.parse(f"mean(({z})/sqrt(size(B, 2)), {d})", **WITH_FULL).text()
        assert re.fullmatch(rf"-?[0-9.]+\*mean\(.+, {d}\)", printed), printed
    else:
        inner = cr.parse(z, **WITH_FULL).text()
        assert cr.parse(f"mean({z}, {d})", **WITH_FULL).text() == f"mean({inner}, {d})"


def test_nested_log_softmaxes_keep_their_names():
    for text in ("softmax(logsoftmax(A, 1), 1)", "logsoftmax(logsoftmax(logsoftmax(C, 1), 2), 2)",
                 "softmax(logsoftmax(x))", "logsoftmax(-(R-C*A), 1)", "softmax(logsoftmax(b*x*x', 1), 1)"):
        assert cr.parse(text, **WITH_FULL).text() == text
