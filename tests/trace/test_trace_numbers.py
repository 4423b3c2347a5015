"""The numbers of a trace against independent computations: `derivative`, generalized Jacobians, finite differences."""
import numpy as np
import pytest

import chainrule as cr
from chainrule.language.steps import intermediates
from chainrule.trace import trace

RNG = np.random.default_rng(7)
NEURON = "max(0, w'*x+b)"

# (expression, declarations, wrt, values): scalar, vector, matrix and vector-valued outputs
CASES = [
    pytest.param(NEURON, {}, ["w", "b"], {"w": [0.5, -0.3], "x": [1.0, 2.0], "b": 0.4}, id="neuron"),
    pytest.param("x'*A*x", {}, ["x", "A"], {"x": RNG.standard_normal(3), "A": RNG.standard_normal((3, 3))},
                 id="quadratic form"),
    pytest.param("sum(exp(tanh(X*B)))", {}, ["X", "B"],
                 {"X": RNG.standard_normal((2, 3)), "B": RNG.standard_normal((3, 2))}, id="matrix chain"),
    pytest.param("logsumexp(W*sigmoid(V*x)+c)", {}, ["W", "V", "x"],
                 {"W": RNG.standard_normal((2, 3)), "V": RNG.standard_normal((3, 4)), "x": RNG.standard_normal(4),
                  "c": 0.3}, id="two layers"),
    pytest.param("softmax(W*x)", {}, ["W", "x"], {"W": RNG.standard_normal((2, 3)), "x": RNG.standard_normal(3)},
                 id="vector output"),
    pytest.param("sum(tanh(W*tanh(W*x)))", {}, ["W"], {"W": RNG.standard_normal((3, 3)), "x": RNG.standard_normal(3)},
                 id="shared weight"),
    pytest.param("x.*x./(1+a)", {}, ["x", "a"], {"x": [1.0, -2.0], "a": 0.5}, id="elementwise"),
]


@pytest.mark.parametrize("text, decls, wrt, at", CASES)
def test_backprop_equals_derivative_and_finite_differences(text, decls, wrt, at):
    t = trace(text, wrt, at, declarations=decls)
    f = cr.parse(text, **decls)
    for g in t.gradients:
        np.testing.assert_allclose(g.backprop, cr.derivative(f, g.wrt).evaluate(at), atol=1e-12)
        assert g.check.ok and g.difference < 1e-12
    assert t.ok


@pytest.mark.parametrize("text, decls, wrt, at", CASES)
def test_local_jacobians_are_the_values_of_derivative(text, decls, wrt, at):
    """Each local is d(op)/d(operand) as the public `derivative` builds it for the op on fresh variables."""
    t = trace(text, wrt, at, declarations=decls)
    steps = {u.name: u for u in intermediates(text, decls).intermediates}
    env = {**t.values, **{s.name: s.value for s in t.forward}}
    for step in t.backward:
        u = steps[step.name]
        local = cr.Expr(u.local)           # the op on its fresh variables, as explain prints it
        for edge in step.edges:
            d = cr.derivative(local, edge.local.operand)
            assert d.text() == edge.local.expression
            np.testing.assert_allclose(edge.local.value, d.evaluate({n: env[n] for n in local.variables}))


@pytest.mark.parametrize("text, decls, wrt, at", CASES)
def test_downstream_is_upstream_dot_local(text, decls, wrt, at):
    t = trace(text, wrt, at, declarations=decls)
    ranks = {s.name: s.value.ndim for s in t.forward}
    for step in t.backward:
        for edge in step.edges:
            expected = np.tensordot(step.upstream, edge.local.value, axes=ranks[step.name])
            np.testing.assert_allclose(edge.downstream, expected)


def _upstream_by_substitution(text, u, values, name="t"):
    """d f / d u_k from scratch: replace u_k's text by a fresh variable and differentiate the rest."""
    replacement = f"{name}'" if u.stype.orient == "row" else name
    assert text.count(u.source) == 1
    rest = cr.parse(text.replace(u.source, f"({replacement})"), **{name: u.shape})
    return rest, cr.derivative(rest, name)


@pytest.mark.parametrize("text, wrt, at", [
    ("sum(exp(tanh(X*B)))", ["X"], {"X": RNG.standard_normal((2, 3)), "B": RNG.standard_normal((3, 2))}),
    ("log(1+exp(w'*x+b))", ["w", "b"], {"w": RNG.standard_normal(3), "x": RNG.standard_normal(3), "b": 0.2}),
    ("norm2(A*x-y)^2", ["A"], {"A": RNG.standard_normal((2, 3)), "x": RNG.standard_normal(3),
                               "y": RNG.standard_normal(2)}),
])
def test_upstream_is_the_gradient_of_the_output_by_the_node(text, wrt, at):
    t = trace(text, wrt, at)
    steps = {u.name: u for u in intermediates(text).intermediates}
    values = {s.name: s.value for s in t.forward}
    for step in t.backward:
        rest, d = _upstream_by_substitution(text, steps[step.name], at)
        point = {n: v for n, v in {**at, "t": values[step.name]}.items() if n in rest.variables}
        np.testing.assert_allclose(step.upstream, d.evaluate(point), atol=1e-12)
        assert cr.check(rest, "t", at=point).ok


def test_tensor_chain_rule_through_generalized_jacobians():
    """For Y = X*B (a matrix) and z = sum(exp(tanh(Y))): ∇_X z = Σ_j (∇_X Y_j) ∂z/∂Y_j, with the trace's numbers."""
    at = {"X": RNG.standard_normal((2, 3)), "B": RNG.standard_normal((3, 2))}
    t = trace("sum(exp(tanh(X*B)))", "X", at)
    u1 = next(s for s in t.backward if s.name == "u1")
    jac = cr.derivative(cr.parse("X*B", X=(2, 3), B=(3, 2)), "X").evaluate(at)      # shape (2, 2) + (2, 3)
    np.testing.assert_allclose(u1.edges[0].local.value, jac)
    weighted = sum(jac[j] * u1.upstream[j] for j in np.ndindex(2, 2))
    np.testing.assert_allclose(weighted, t.gradients[0].backprop, atol=1e-12)


def test_neuron_by_hand():
    active = trace(NEURON, ["w", "b"], {"w": [1.0, 2.0], "x": [3.0, 4.0], "b": 0.5})
    assert [g.backprop.tolist() for g in active.gradients] == [[3.0, 4.0], 1.0]
    assert float(active.value) == 11.5
    dead = trace(NEURON, ["w", "b"], {"w": [1.0, 2.0], "x": [-3.0, -4.0], "b": 0.5})
    assert [g.backprop.tolist() for g in dead.gradients] == [[0.0, 0.0], 0.0]


def test_forward_pass_values_are_the_subexpressions():
    at = {"w": [0.5, -0.3], "x": [1.0, 2.0], "b": 0.4}
    t = trace(NEURON, "w", at)
    assert [s.name for s in t.forward] == ["u1", "u2", "u3", "u4"]
    assert [s.source for s in t.forward] == ["w'", "w'*x", "w'*x+b", NEURON]
    assert [s.formula for s in t.forward] == ["w'", "u1*x", "u2+b", "max(0, u3)"]
    np.testing.assert_allclose([float(np.sum(s.value)) for s in t.forward[1:]], [-0.1, 0.3, 0.3])


def test_shared_variable_shows_each_path_and_the_sum():
    x, A = np.array([1.0, 2.0]), np.array([[1.0, 2.0], [3.0, 4.0]])
    t = trace("x'*A*x", "x", {"x": x, "A": A})
    (s,) = [s for s in t.sums if s.name == "x"]
    parts = dict(s.parts)
    np.testing.assert_allclose(parts["u3"], A.T @ x)       # through the right-hand x
    np.testing.assert_allclose(parts["u1"], A @ x)         # through x'
    np.testing.assert_allclose(s.total, (A + A.T) @ x)


def test_repeated_operand_in_one_node_has_one_local_covering_both():
    t = trace("sum(x.*x)", "x", {"x": [1.0, 2.0]})
    (edge,) = t.backward[-1].edges
    assert edge.local.count == 2
    np.testing.assert_allclose(edge.local.value, np.diag([2.0, 4.0]))


def test_only_paths_to_wrt_variables_carry_gradients():
    t = trace(NEURON, "b", {"w": [0.5, -0.3], "x": [1.0, 2.0], "b": 0.4})
    assert [s.name for s in t.backward] == ["u4", "u3"]
    assert [e.local.operand for e in t.backward[-1].edges] == ["b"]


def test_output_that_is_a_variable():
    t = trace("x", "x", {"x": [1.0, 2.0]})
    assert t.forward == () and t.ok
    np.testing.assert_allclose(t.gradients[0].backprop, np.eye(2))


def test_expr_input_uses_its_printed_text():
    x = cr.vector_var("x")
    t = trace(cr.call("sum", cr.call("exp", x)), "x", {"x": [0.0, 1.0]})
    np.testing.assert_allclose(t.gradients[0].backprop, np.exp([0.0, 1.0]))


# ---- forward mode ----

@pytest.mark.parametrize("text, decls, wrt, at", CASES)
def test_forward_mode_tangents_match_finite_differences_of_each_node(text, decls, wrt, at):
    t = trace(text, wrt, at, mode="forward", declarations=decls)
    expanded = intermediates(text, decls).expand()
    f = cr.parse(text, **decls)
    h = 1e-6
    for step in t.tangents:
        node = cr.Expr(expanded[step.name], None, f.variables)
        moved = [node.evaluate({**t.values, **{w: t.values[w] + s * h * t.direction[w] for w in wrt}})
                 for s in (1, -1)]
        np.testing.assert_allclose(step.tangent, (moved[0] - moved[1]) / (2 * h), atol=1e-6)
    assert t.directional.ok and t.ok


def test_forward_mode_directional_derivative_is_jacobian_times_direction():
    at = {"W": RNG.standard_normal((2, 3)), "x": RNG.standard_normal(3)}
    v = RNG.standard_normal((2, 3))
    t = trace("softmax(W*x)", "W", at, mode="forward", direction=v)
    jac = cr.derivative(cr.parse("softmax(W*x)"), "W").evaluate(at)
    np.testing.assert_allclose(t.directional.tangent, np.tensordot(jac, v, axes=2), atol=1e-12)
    np.testing.assert_allclose(t.direction["W"], v)


def test_forward_mode_default_direction_is_ones():
    t = trace(NEURON, ["w", "b"], {"w": [1.0, 2.0], "x": [3.0, 4.0], "b": 0.5}, mode="forward")
    assert float(t.directional.tangent) == 8.0   # x·1 + 1


# ---- errors ----

@pytest.mark.parametrize("call, message", [
    (lambda: trace(NEURON, "y", {}), "not a variable"),
    (lambda: trace(NEURON, "w", {"w": [1, 2], "x": [1, 2]}), "no value given for b"),
    (lambda: trace(NEURON, "w", {"w": [1, 2], "x": [1, 2, 3], "b": 0}), "dimension n"),
    (lambda: trace(NEURON, "w", {"w": [1, 2], "x": [1, 2], "b": 0}, mode="sideways"), "unknown mode"),
    (lambda: trace("u1+exp(a)", "a", {"u1": [1.0], "a": 0}), "name of an intermediate"),
    (lambda: trace(NEURON, "w", {"w": [1, 2], "x": [1, 2], "b": 0}, mode="forward", direction=[1, 2, 3]),
     "direction for w"),
    (lambda: trace(NEURON, ["w", "b"], {"w": [1, 2], "x": [1, 2], "b": 0}, mode="forward", direction=[1, 2]),
     "exactly one wrt"),
    (lambda: trace(NEURON, [], {"w": [1, 2], "x": [1, 2], "b": 0}), "at least one"),
])
def test_errors_are_chainrule_errors(call, message):
    with pytest.raises(cr.ChainruleError, match=message):
        call()


@pytest.mark.parametrize("text, decls, wrt, at", [
    *CASES[:4],
    pytest.param("x'*inv(A)*x+logdet(A)", {"A": "symmetric"}, ["A", "x"],
                 {"x": RNG.standard_normal(3), "A": np.eye(3) + 0.1 * np.ones((3, 3))}, id="symmetric"),
])
def test_local_jacobians_are_the_values_explain_shows(text, decls, wrt, at):
    explain = pytest.importorskip("chainrule.explain").explain
    t = trace(text, wrt, at, declarations=decls)
    for w in wrt:
        d = explain(text, w, **decls)
        values = d.values(at)
        shown = {(loc.of, loc.by): cr.Expr(loc.node, None, d.scope).evaluate(values) for loc in d.locals}
        mine = {(s.name, e.local.operand): e.local.value for s in t.backward for e in s.edges}
        for key, value in shown.items():
            np.testing.assert_allclose(mine[key], value, atol=1e-12)
