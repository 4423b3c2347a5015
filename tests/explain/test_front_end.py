"""explain, trace and the graph share one front end (language.steps + notation.formula): the same intermediates, the
same formulas, names that never clash with the user's, leaves found by the IR (issue 7, items A4 and A5)."""
from __future__ import annotations

import re

import numpy as np
import pytest
from helpers import check_derivation, values_for
from hypothesis import HealthCheck, given, settings
from strategies import DECLARATIONS, expressions, random_values

import chainrule as cr
from chainrule.errors import ChainruleError, DerivativeError
from chainrule.explain import explain
from chainrule.language.steps import intermediates
from chainrule.trace import trace

# The paper's examples (Parr & Howard, Goodfellow §6.5) and the shapes that once printed wrongly.
CORPUS = [
    ("ln(sin(x^3)^2)", {"x": "scalar"}),
    # indexing moves its selection into the operand ((exp(x))(1) is built exp(x(1))): a regrouping, no fused step
    ("(exp((x)))(1)", {"x": (3,)}),
    ("sum((sin(X))(2, :))", {"X": (2, 3)}),
    ("[exp(x); sin(y)](4)", {"x": (3,), "y": (2,)}),
    ("((C) * (B))(2:4, :).^0", {"C": (4, 3), "B": (3, 4)}),
    ("x^2*x", {"x": "scalar"}),
    ("max(0, w'*x+b)", {"w": "vector", "x": "vector", "b": "scalar"}),
    ("sum((y - max(0, X*w+b)).^2)/N", {"X": ("N1", "n"), "w": ("n",), "b": (), "y": ("N1",), "N": ()}),
    ("x'*A*x", {}),
    ("x'*S*x", {"S": "symmetric"}),
    ("sum(exp(A*X))", {"A": ("m", "n"), "X": ("n", "p")}),
    ("sum((W*x).^2)", {"W": ("n", "m"), "x": ("m",)}),
    ("sum(tanh(W*x))", {}),
    ("x*x'", {}),
    ("(x'*y)^2 + x'*A'*y", {}),
    ("A^-1*x", {}),
    ("(a)*b", {}),
    ("(a)-sin(a)", {}),
    ("x'*eye*x", {}),
    ("softmax(x)'*A*exp(x)", {}),
    ("[a; b]'*x", {"x": (2,)}),
    ("norm2(x - 2*(y))^2 + pi*sum(x./y)", {}),
    ('einsum("ij,j->i", A, x)\'*z', {}),
    ("log(1+exp(w'*x+b))", {}),
    ("-x'*A", {}),
]
LABEL = re.compile(r'^\s*"(u\d+)" \[label="((?:[^"\\]|\\.)*)"')


def graph_formulas(d) -> dict[str, str]:
    found = {}
    for line in d.dot().splitlines():
        match = LABEL.match(line)
        if match:
            label = re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), match.group(2))
            found[match.group(1)] = label.split("\n")[0].split(" = ", 1)[1]
    return found


def check_front_end(text: str, decls: dict, at: dict | None = None) -> None:
    """explain's, trace's and the graph's formulas agree, and each formula type-checks to its intermediate's type."""
    steps = intermediates(text, decls)
    wrt = next(iter(steps.variables))
    d = explain(text, wrt, **decls)
    at = at if at is not None else values_for(d)
    t = trace(text, wrt, at, declarations=decls)
    explained = {u.name: u.formula.text() for u in d.definitions}
    traced = {s.name: s.formula for s in t.forward}
    assert explained == traced == graph_formulas(d)
    values = {**at, **{s.name: s.value for s in t.forward}}
    for u in steps.intermediates:
        f = _parse_formula(traced[u.name], steps)
        assert f.shape == u.shape, (u.name, traced[u.name])
        assert f.stype.orient == (u.stype.orient if u.stype.rank == 1 else None), (u.name, traced[u.name])
        np.testing.assert_allclose(f.evaluate({n: values[n] for n in f.variables}), values[u.name], rtol=1e-9,
                                   atol=1e-12)


def _parse_formula(formula: str, steps) -> cr.Expr:
    """The formula parsed with the intermediates as variables of their shapes; the language declares a vector as a
    column, so a row intermediate r is read as (r')."""
    rows = {u.name for u in steps.intermediates if u.stype.orient == "row"}
    typed = re.sub(r"\bu\d+\b", lambda m: f"({m.group(0)}')" if m.group(0) in rows else m.group(0), formula)
    decls = {n: ("symmetric" if sym else shape) for n, (shape, sym) in steps.variables.items()}
    return cr.parse(typed, **decls, **{u.name: u.shape for u in steps.intermediates})


@pytest.mark.parametrize("text, decls", CORPUS, ids=[t for t, _ in CORPUS])
def test_explain_trace_and_graph_write_the_same_typed_formulas(text, decls):
    check_front_end(text, decls)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expressions(min_depth=1, max_depth=3))
def test_random_expressions_have_the_same_typed_formulas_everywhere(e):
    decls = {n: DECLARATIONS[n] for n in sorted(e.variables)}
    if not decls:
        return
    values = random_values(0)
    check_front_end(e.text, decls, {n: values[n] for n in decls})


def test_a_row_times_a_column_is_written_as_typed():
    # issue 7 A5: explain printed u2 = x'·u1 (a row times a row) and the graph u2 = u1'*A
    neuron = explain("max(0, w'*x+b)", "w", w="vector", x="vector", b="scalar")
    assert [u.formula.unicode() for u in neuron.definitions] == ["wᵀ", "u1·x", "u2 + b", "max(0, u3)"]
    assert "u₂ = u₁·x" in neuron.text() and "u₂ = xᵀ·u₁" not in neuron.text()
    assert graph_formulas(explain("x'*A*x", "x"))["u2"] == "u1*A"


# ---- A4: leaves are found by the IR, never by their text ----------------------------------------------------------

def test_a_parenthesised_variable_is_the_variable():
    d = explain("(a)*b", "a")
    assert d.rule == "single-variable" and d.total.text() == "b" and d.identical
    check_derivation(d)
    t = trace("(a)*b", "a", {"a": 1.0, "b": 2.0})
    assert t.ok and float(t.gradients[0].backprop) == 2.0
    t = trace("(a)-sin(a)", "a", {"a": 1.0})
    assert t.ok and np.isclose(float(t.gradients[0].backprop), 1 - np.cos(1.0))
    assert intermediates("((x))'*(A)*(x)").intermediates[0].operands == ("x",)


def test_constants_are_operands_not_intermediates():
    steps = intermediates("x'*eye*x + 2*pi*a", {})
    assert all(any(v is not None for v in u.operand_vars) for u in steps.intermediates)   # no u_k = 2*pi
    assert steps.intermediates[-2].operands == ("2*pi", "a")
    d = explain("A^-1*x", "A")
    assert d.definitions[0].formula.text() == "A^-1"           # not u1 = -1 and u2 = A.^u1
    check_derivation(d, values_for(d, positive=False) | {"A": np.eye(3) * 2 + 0.1})
    t = trace("x'*eye*x", "x", {"x": [1.0, 2.0]})
    assert t.ok and t.gradients[0].backprop.tolist() == [2.0, 4.0]


def test_trace_of_a_parenthesised_variable_on_the_command_line():
    import subprocess
    import sys
    run = subprocess.run([sys.executable, "-m", "chainrule.cli", "trace", "(a)*b", "--wrt", "a", "--at", "a=1", "--at",
                          "b=2"], capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    assert "MISMATCH" not in run.stdout and re.search(r"^\s*a\s+2\s", run.stdout, re.MULTILINE)


# ---- names and declarations ---------------------------------------------------------------------------------------

def test_the_output_is_never_called_like_a_variable():
    d = explain("sum((y - X*w).^2)", "w", X=("m", "n"), w=("n",), y=("m",))
    assert d.y != "y" and d.y not in d.scope
    assert f"∂{d.y}/∂w" in d.text() and "∂y/∂" not in d.text()
    t = trace("f*x", "x", {"f": 2.0, "x": 3.0}, declarations={"x": "scalar"})
    assert t.name != "f" and f"{t.name} = u1" in t.text()


def test_trace_keeps_the_symmetric_flag_of_an_expression():
    f = cr.parse("x'*S*x", S="symmetric")
    d = explain(f, "x")
    t = trace(f, "x", {"x": [1.0, 2.0], "S": [[2.0, 1.0], [1.0, 3.0]]})
    assert d.result.text() == t.gradients[0].expression == "2*x'*S"


@pytest.mark.parametrize("call", [lambda: explain("u1+x", "x"), lambda: trace("u1+x", "x", {"u1": 1.0, "x": 1.0})])
def test_a_variable_named_like_an_intermediate_is_the_same_error(call):
    with pytest.raises(DerivativeError, match="name of an intermediate"):
        call()


@pytest.mark.parametrize("call", [lambda: explain(5, "x"), lambda: trace(5, "x", {"x": 1.0})])
def test_only_text_or_expressions_are_explained(call):
    with pytest.raises(ChainruleError, match=r"(explain|trace) needs an expression .*, not int"):
        call()


# ---- B: long expressions are summarised beyond limits().explain_steps ----------------------------------------------

def test_a_long_derivation_keeps_its_first_and_last_steps_and_the_whole_result():
    text = "sin(" * 14 + "x" + ")" * 14
    with cr.limits(explain_steps=10):
        d = explain(text, "x", x="scalar")
    assert d.summarised and d.omitted == 4 and len(d.definitions) == 10
    assert [u.name for u in d.definitions][4:6] == ["u5", "u10"]
    assert d.accumulation[-1].expr is d.result
    assert d.result.text() == cr.derivative(cr.parse(text, x="scalar"), "x").text()
    out = d.text()
    assert "explain_steps=14" in out and "⋮" in out and "…" in out
    assert '"omitted": 4' in d.json() and d.markdown() and d.latex() and d.dot()
    x = 0.3
    expected = np.prod([np.cos(x := np.sin(x) if k else x) for k in range(14)])  # cos(x)·cos(sin x)·…
    assert np.isclose(d.result.evaluate(x=0.3), expected)
    full = explain(text, "x", x="scalar")          # under the default limit: every step
    assert not full.summarised and len(full.definitions) == 14 and full.identical


@pytest.mark.parametrize("order", ["reverse", "forward"])
def test_a_summary_over_the_default_limit_stays_small(order):
    steps = cr.current_limits().explain_steps
    d = explain("+".join(f"a{k}*x" for k in range(steps)), "x", order=order, x="scalar")
    assert d.summarised and len(d.accumulation) <= 12 and len(d.text()) < 20_000
    assert d.total is d.result and d.rule == "total-derivative"


def test_a_long_trace_prints_a_summary_but_keeps_every_number():
    text = "sin(" * 14 + "a" + ")" * 14
    with cr.limits(explain_steps=10):
        t = trace(text, "a", {"a": 0.3})
    assert t.summarised and len(t.forward) == 14 and len(t.backward) == 14 and t.ok
    out = t.text()
    assert "explain_steps=14" in out and out.count("\n  u") < 30
    assert "u7 " not in out and "u14" in out and "u1 " in out
    assert len(t.to_dict()["forward"]) == 14
