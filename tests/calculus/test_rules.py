"""Every primitive, on every kind of operand, first and second derivatives against finite differences."""
import numpy as np
import pytest

import chainrule as cr
from chainrule.calculus.rules import VJP
from chainrule.ir import Op
from chainrule.ir.elementwise import ELEMENTWISE
from chainrule.language.rules import FUNCTIONS

KINDS = {"scalar": (), "vector": (3,), "matrix": (3, 2)}
# where each function is smooth and defined: values are drawn from this interval
DOMAIN = {"log": (0.5, 2.0), "sqrt": (0.5, 2.0), "arcsin": (-0.8, 0.8), "arccos": (-0.8, 0.8),
          "abs": (0.3, 1.5), "sign": (0.3, 1.5), "relu": (0.3, 1.5), "step": (0.3, 1.5), "tan": (-1.0, 1.0)}

PRIMITIVE_ROWS = [
    ("x+y", {}), ("x-a", {}), ("a*x+b", {}), ("x.*y", {}), ("x./y", {"y": (0.5, 2.0)}), ("x.^3", {}),
    ("x.^a", {"x": (0.5, 2.0)}), ("a^b", {"a": (0.5, 2.0)}), ("max(x, y)", {}), ("min(x, a)", {}),
    ("A*x", {}), ("x'*A*x", {}), ("x*y'", {}), ("A'*B", {}), ("tr(A*B')", {}), ("diag(x)", {}), ("diag(A)", {}),
    ("sum(A)", {}), ("A.*B", {}), ("logsumexp(A*x)", {}), ("softmax(x)", {}), ("inv(S)", {}), ("det(S)", {}),
    ("logdet(S)", {}), ("[a*b; a^2; sin(b)]", {}), ("eye*x", {}), ("vector(2)'*x", {}), ("norm1(x)", {"x": (0.3, 1.5)}),
    ("norm2(A)", {}), ("S^3", {}), ("einsum(\"ij,jk,k->i\", A, B', x)", {}),
    ("norm2(x)", {}), ("unit(x)", {}), ("unit(A)", {}), ("cofactor(A)", {}), ("cofactor(B, 2)", {}),
    ("det(A)", {}), ("max(x, relu(x))", {}), ("min(a, max(a, b))", {}),
]
DECLARATIONS = {"a": "scalar", "b": "scalar", "x": ("n",), "y": ("n",), "A": ("n", "n"), "B": ("n", "n"),
                "S": ("n", "n")}


def values_for(f, domains, rng, n=3):
    values = {}
    for name, info in f.variables.items():
        shape = tuple(n if isinstance(d, str) else d for d in info.shape)
        low, high = domains.get(name, (-1.0, 1.0))
        values[name] = rng.uniform(low, high, shape)
    if "S" in values:
        values["S"] = values["S"] @ values["S"].T + n * np.eye(n)
    return values


def assert_checks(f, values, order):
    for name in f.variables:
        result = cr.check(f, name, at=values, order=order)
        assert result.ok, f"{f.text()} by {name}, order {order}: {result}"


def elementwise_rows():
    return [(name, kind) for name in ELEMENTWISE for kind in KINDS]


@pytest.mark.parametrize("name, kind", elementwise_rows())
@pytest.mark.parametrize("order", [1, 2])
def test_elementwise_function(name, kind, order, rng):
    f = cr.parse(f"{name}(u)", u=KINDS[kind])
    low, high = DOMAIN.get(name, (-1.0, 1.0))
    assert_checks(f, {"u": rng.uniform(low, high, KINDS[kind])}, order)


@pytest.mark.parametrize("text, domains", PRIMITIVE_ROWS, ids=[r[0] for r in PRIMITIVE_ROWS])
@pytest.mark.parametrize("order", [1, 2])
def test_primitive(text, domains, order, rng):
    f = cr.parse(text, **{k: v for k, v in DECLARATIONS.items() if k in text})
    assert_checks(f, values_for(f, domains, rng), order)


def test_every_elementwise_function_is_in_the_language():
    assert set(ELEMENTWISE) <= set(FUNCTIONS)


def test_a_missing_rule_names_the_primitive(monkeypatch):
    monkeypatch.delitem(VJP, Op.LOGDET)
    with pytest.raises(cr.DerivativeError, match="logdet"):
        cr.derivative("logdet(X)", "X")
