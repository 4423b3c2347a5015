"""Every example of issue 3 (Parr & Howard, Goodfellow §6.5.2): the steps, the chosen chain rule, the local
Jacobians by form, and the final result, checked numerically step by step (see helpers.check_derivation)."""
import numpy as np
import pytest
from helpers import check_derivation, values_for

import chainrule as cr
from chainrule.explain import Derivation, explain

S = {"x": "scalar"}
XY = {"x": "scalar", "y": "scalar"}
VEC = {"w": "vector", "x": "vector"}
EXPANSION = {"x": "vector", "z": "scalar"}
NEURON = {"w": "vector", "x": "vector", "b": "scalar"}
MSE = {"X": ("N1", "n"), "w": ("n",), "b": (), "y": ("N1",), "N": ()}


def locals_of(d: Derivation) -> dict:
    return {(e.of, e.by): e.jacobian.text() for e in d.locals}


# ---- scalar rules table ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("expr, result, rule", [
    ("3*x", "3", "constant multiple rule"),
    ("x^3", "3*x^2", "power rule"),
    ("ln(x^2)", "2/x", "single-variable"),
    ("x^2+3*x", "2*x+3", "total-derivative"),
    ("x^2-3*x", "2*x-3", "total-derivative"),
    ("x^2*x", "3*x^2", "total-derivative"),
    ("9*(x+x^2)", "18*x+9", "total-derivative"),
])
def test_scalar_rules(expr, result, rule):
    d = explain(expr, "x", **S)
    assert d.result.text() == result
    assert rule in (d.rule, *(e.rule.split(":")[0] for e in d.locals))
    check_derivation(d)


def test_constant_has_no_chain():
    d = explain(cr.parse("99", x=()), "x")
    assert d.rule == "constant" and d.result.text() == "0" and not d.definitions
    assert "does not depend on x" in d.text()


def test_single_variable_chain_rule_reproduces_the_paper():
    d = explain("ln(sin(x^3)^2)", "x", **S)
    assert [u.expr.text() for u in d.definitions] == ["x^3", "sin(u1)", "u2^2", "log(u3)"]
    assert locals_of(d) == {("u1", "x"): "3*x^2", ("u2", "u1"): "cos(u1)", ("u3", "u2"): "2*u2",
                            ("u4", "u3"): "u3^-1"}
    assert d.rule == "single-variable"
    (path,) = d.paths
    assert [(f.of, f.by) for f in path.factors] == [("u4", "u3"), ("u3", "u2"), ("u2", "u1"), ("u1", "x")]
    assert path.expr.text() == "6*cos(u1)*x^2*u2/u3"          # the paper's 6 u2 x^2 cos(u1) / u3
    assert [s.name for s in d.substitutions] == ["u3", "u2", "u1"]
    assert d.result.text() == "6*x^2*cos(x^3)/sin(x^3)" and d.identical
    check_derivation(d)


def test_sin_of_square():
    d = explain("sin(x^2)", "x", **S)
    assert d.rule == "single-variable" and locals_of(d)[("u2", "u1")] == "cos(u1)"
    assert d.result.text() == "2*cos(x^2)*x" and np.isclose(d.result.evaluate(x=0.7), 2 * 0.7 * np.cos(0.49))
    check_derivation(d)


def test_forward_order_writes_the_product_from_x():
    d = explain("ln(sin(x^3)^2)", "x", order="forward", **S)
    assert [(f.of, f.by) for f in d.paths[0].factors] == [("u1", "x"), ("u2", "u1"), ("u3", "u2"), ("u4", "u3")]
    assert [a.num for a in d.accumulation] == ["u1", "u2", "u3", "u4"]
    assert "Forward accumulation" in d.text()
    check_derivation(d)


# ---- total-derivative chain rule and parameter sharing ------------------------------------------------------------

@pytest.mark.parametrize("expr, value", [
    ("x+x^2", lambda x: 1 + 2 * x),
    ("sin(x+x^2)", lambda x: np.cos(x + x**2) * (1 + 2 * x)),
    ("x*x^2", lambda x: 3 * x**2),
])
@pytest.mark.parametrize("order", ["reverse", "forward"])
def test_total_derivative_chain_rule(expr, value, order):
    d = explain(expr, "x", order=order, **S)
    assert d.rule == "total-derivative" and len(d.paths) == 2
    assert [c.name for c in d.copies] == ["x_1", "x_2"]          # each use of x is its own copy
    assert "u_(n+1) = x" in d.text()
    assert np.isclose(d.result.evaluate(x=0.7), value(0.7))
    check_derivation(d)


def test_x_times_x_squared_local_derivatives():
    d = explain("x*x^2", "x", **S)
    assert locals_of(d) == {("u1", "x"): "2*x", ("u2", "x"): "u1", ("u2", "u1"): "x"}   # the paper's u1, x, 2x


def test_same_operand_twice_is_one_edge():
    d = explain("x.*x", "x", x="vector")
    assert len(d.locals) == 1 and d.locals[0].jacobian.text() == "2*diag(x)"
    check_derivation(d)


def test_shared_matrix_weights():
    d = explain("sum(W*(W*x))", "W", W=("n", "n"), x=("n",))
    assert d.rule == "tensor" and len(d.copies) == 2 and len(d.paths) == 2
    check_derivation(d)


# ---- partial derivatives, gradient and Jacobian ---------------------------------------------------------------------

@pytest.mark.parametrize("expr, wrt, value", [
    ("3*x^2*y", "x", lambda x, y: 6 * x * y),
    ("3*x^2*y", "y", lambda x, y: 3 * x**2),
    ("2*x+y^8", "x", lambda x, y: 2.0),
    ("2*x+y^8", "y", lambda x, y: 8 * y**7),
])
def test_partial_derivatives(expr, wrt, value):
    d = explain(expr, wrt, **XY)
    assert np.isclose(d.result.evaluate(x=0.7, y=-1.3), value(0.7, -1.3))
    check_derivation(d, {"x": 0.7, "y": -1.3})


def test_single_path_through_a_product_is_the_single_variable_rule():
    assert explain("3*x^2*y", "x", **XY).rule == "single-variable"


@pytest.mark.parametrize("wrt, column", [("x", lambda x, y: [6 * x * y, 2]),
                                         ("y", lambda x, y: [3 * x**2, 8 * y**7])])
def test_jacobian_and_its_transpose(wrt, column):
    num = explain("[3*x^2*y; 2*x+y^8]", wrt, **XY)
    den = explain("[3*x^2*y; 2*x+y^8]", wrt, layout="denominator", **XY)
    assert num.rule == "vector"
    at = {"x": 0.7, "y": -1.3}
    assert np.allclose(check_derivation(num, at), column(0.7, -1.3))
    assert np.allclose(check_derivation(den, at), column(0.7, -1.3))
    assert num.result.stype.orient == "col" and den.result.stype.orient == "row"   # J and its transpose
    assert [e.shape for e in num.locals if e.of == num.output] == ["2×1", "2×1"]
    assert [e.shape for e in den.locals if e.of == den.output] == ["1×2", "1×2"]


# ---- vectors: identity, element-wise, scalar expansion, reductions --------------------------------------------------

def test_identity_jacobian():
    d = explain("x", "x", x="vector")
    assert d.rule == "identity" and d.result.text() == 'eye("n")' and d.result.unicode() == "I"
    check_derivation(d)


@pytest.mark.parametrize("expr, wrt, form", [
    ("w+x", "w", 'eye("n")'), ("w+x", "x", 'eye("n")'),
    ("w-x", "w", 'eye("n")'), ("w-x", "x", '-eye("n")'),
    ("w.*x", "w", "diag(x)"), ("w.*x", "x", "diag(w)"),
    ("w./x", "w", "diag(x.^-1)"), ("w./x", "x", "-diag(w./x.^2)"),
])
def test_elementwise_binary_operations(expr, wrt, form):
    d = explain(expr, wrt, **VEC)
    (e,) = d.locals
    assert e.jacobian.text() == form and e.shape == "n×n"
    assert "diagonal" in e.rule and "element-wise binary" in e.rule
    check_derivation(d)


@pytest.mark.parametrize("expr, wrt, form, words", [
    ("x+z", "x", 'eye("n")', "identity"),
    ("x+z", "z", 'vector(1, "n")', "vector of ones"),
    ("x*z", "x", 'z*eye("n")', "z times the identity"),
    ("x*z", "z", "x", "d(x*z)/dz = x"),
])
def test_scalar_expansion(expr, wrt, form, words):
    d = explain(expr, wrt, **EXPANSION)
    (e,) = d.locals
    assert e.jacobian.text() == form and "scalar expansion" in e.rule and words in e.rule
    check_derivation(d)


@pytest.mark.parametrize("expr, wrt, result", [
    ("sum(x)", "x", 'vector(1, "n")\''),
    ("sum(x*z)", "x", 'z*vector(1, "n")\''),
    ("sum(x*z)", "z", "sum(x)"),
])
def test_sum_reduction(expr, wrt, result):
    d = explain(expr, wrt, **EXPANSION)
    assert d.result.text() == result
    assert any("sum reduction" in e.rule for e in d.locals)
    check_derivation(d)


# ---- the vector chain rule ------------------------------------------------------------------------------------------

def test_vector_of_functions_of_a_scalar():
    d = explain("[ln(x^2); sin(3*x)]", "x", **S)
    assert d.rule == "vector" and len(d.paths) == 2
    assert np.allclose(check_derivation(d, {"x": 0.7}), [2 / 0.7, 3 * np.cos(2.1)])


def test_sum_of_elementwise_sum():
    d = explain("sum(w+x)", "w", **VEC)
    assert d.rule == "vector" and locals_of(d) == {("u1", "w"): 'eye("n")', ("u2", "u1"): 'vector(1, "n")\''}
    assert d.paths[0].shapes == "(1×n)(n×n) → 1×n"
    check_derivation(d)


def test_dot_product_via_hadamard_and_sum():
    d = explain("sum(w.*x)", "w", **VEC)
    assert locals_of(d) == {("u1", "w"): "diag(x)", ("u2", "u1"): 'vector(1, "n")\''}    # diag(x) and 1'
    assert d.paths[0].shapes == "(1×n)(n×n) → 1×n" and d.result.text() == "x'"
    check_derivation(d)


def test_dot_product_as_typed():
    d = explain("w'*x", "w", **VEC)
    assert "dot product" in next(e.rule for e in d.locals if e.of == "u2")
    assert d.result.text() == "x'"
    check_derivation(d)


# ---- the neuron and its loss ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("z", [1.0, -1.0])
@pytest.mark.parametrize("wrt", ["w", "b"])
def test_neuron(wrt, z):
    d = explain("max(0, w'*x+b)", wrt, **NEURON)
    relu = next(e for e in d.locals if e.of == "u4")
    assert relu.jacobian.text() == "step(u3)" and "piecewise" in relu.rule and "z > 0" in relu.rule
    at = values_for(d, positive=False)
    at["b"] = z - at["w"] @ at["x"]
    value = check_derivation(d, at)
    expected = (at["x"] if wrt == "w" else 1.0) * (z > 0)
    assert np.allclose(value, expected)


def _mse_values(d):
    at = values_for(d, positive=False)
    X, w = at["X"], at["w"]
    z = X @ w + at["b"]
    shift = np.where(np.abs(z) < 0.3, 0.6 * np.sign(z + 1e-12), 0.0)     # away from the kinks of max(0, z)
    at["X"] = X + np.outer(shift, w) / (w @ w)
    at["N"] = float(len(X))
    return at


@pytest.mark.parametrize("wrt", ["w", "b"])
def test_mean_squared_loss_ends_in_the_papers_form(wrt):
    d = explain("sum((y - max(0, X*w+b)).^2)/N", wrt, **MSE)
    assert d.rule == "vector"
    assert "diag(step(u2))" in locals_of(d)[("u3", "u2")]
    at = _mse_values(d)
    value = check_derivation(d, at)
    X, y, N = at["X"], at["y"], at["N"]
    z = X @ at["w"] + at["b"]
    e = z - y                                     # the paper's error e_i = w.x_i + b - y_i
    active = z > 0
    paper = 2 / N * sum(e[i] * (X[i] if wrt == "w" else 1.0) for i in range(len(z)) if active[i])
    assert np.allclose(value, paper)              # (2/N) sum of e_i x_i' over the active units


def test_augmented_weights():
    d = explain("max(0, v'*z)", "v", v="vector", z="vector")
    at = values_for(explain("max(0, w'*x+b)", "w", **NEURON), positive=True)
    hat = {"v": np.append(at["w"], at["b"]), "z": np.append(at["x"], 1.0)}
    by_w = explain("max(0, w'*x+b)", "w", **NEURON).result.evaluate(at)
    by_b = explain("max(0, w'*x+b)", "b", **NEURON).result.evaluate(at)
    assert np.allclose(check_derivation(d, hat), np.append(by_w, by_b))


# ---- Goodfellow §6.5.2 ----------------------------------------------------------------------------------------------

def test_goodfellow_vector_form_in_the_denominator_layout():
    # y = g(x) = W x, z = f(y) = sum(y.^2): grad_x z = (dy/dx)' grad_y z = W' (2 y)
    d = explain("sum((W*x).^2)", "x", layout="denominator", W=("n", "m"), x=("m",))
    first = d.paths[0].factors[0]
    assert (first.of, first.by) == ("u1", "x") and first.jacobian.text() == "W'"       # (dy/dx)' comes first
    assert d.paths[0].shapes == "(m×n)(n×n)(n×1) → m×1"
    assert d.result.text() == "2*W'*W*x"
    check_derivation(d)


def test_goodfellow_tensor_form():
    d = explain("sum(exp(A*X))", "X", A=("m", "n"), X=("n", "p"))
    assert d.rule == "tensor"
    assert {e.of: e.shape for e in d.locals} == {"u1": "(m×p)×(n×p)", "u2": "(m×p)×(m×p)", "u3": "1×(m×p)"}
    text = d.text()
    assert "Σ_j" in text and "A[ik] δ[jl]" in text                 # the index sums written out
    assert d.result.text() == "A'*exp(A*X)"
    check_derivation(d)


@pytest.mark.parametrize("layout", ["numerator", "denominator", "mixed"])
@pytest.mark.parametrize("order", ["reverse", "forward"])
def test_layouts_and_orders_agree_with_the_engine(layout, order):
    for expr, wrt, decls in [("sum(w+x)", "w", VEC), ("sin(x+x^2)", "x", S), ("sum(tanh(W*x))", "x", {}),
                             ("x'*A*x", "x", {"A": "symmetric"})]:
        check_derivation(explain(expr, wrt, layout=layout, order=order, **decls))


def test_expr_input():
    d = explain(cr.parse("x'*A*x"), "x")
    assert d.result.text() == cr.derivative("x'*A*x", "x").text()
    check_derivation(d)
