import numpy as np
import pytest

import chainrule as cr

rng = np.random.default_rng(7)
_M = rng.standard_normal((3, 3))
V = {
    "a": 0.7, "b": -1.3, "c": 0.4,
    "x": rng.uniform(0.5, 2.0, 3), "y": rng.uniform(0.5, 2.0, 3),
    "z": np.array([-1.5, 0.0, 2.0]), "w": rng.standard_normal(3),
    "A": _M, "B": rng.standard_normal((3, 3)), "X": rng.standard_normal((4, 3)),
    "S": _M @ _M.T + 3 * np.eye(3), "y4": rng.uniform(-1.0, 1.0, 4),
}


def sigmoid(t):
    return 1 / (1 + np.exp(-t))


def softmax(t):
    e = np.exp(t - t.max())
    return e / e.sum()


def lse(t):
    return np.log(np.sum(np.exp(t)))


CASES = [
    ("2", {}, lambda v: 2.0, "scalar"),
    ("0.5", {}, lambda v: 0.5, "scalar"),
    ("1e-3", {}, lambda v: 1e-3, "scalar"),
    (".5", {}, lambda v: 0.5, "scalar"),
    ("2.5E+2", {}, lambda v: 250.0, "scalar"),
    ("pi", {}, lambda v: np.pi, "scalar"),
    ("pi*a", {}, lambda v: np.pi * v["a"], "scalar"),
    ("a+b", {}, lambda v: v["a"] + v["b"], "scalar"),
    ("a-b-c", {}, lambda v: v["a"] - v["b"] - v["c"], "scalar"),
    ("a*b", {}, lambda v: v["a"] * v["b"], "scalar"),
    ("a/b/c", {}, lambda v: v["a"] / v["b"] / v["c"], "scalar"),
    ("a+b*c", {}, lambda v: v["a"] + v["b"] * v["c"], "scalar"),
    ("(a+b)*c", {}, lambda v: (v["a"] + v["b"]) * v["c"], "scalar"),
    ("a^b", {}, lambda v: v["a"] ** v["b"], "scalar"),
    ("a^-1", {}, lambda v: 1 / v["a"], "scalar"),
    ("-a^2", {}, lambda v: -(v["a"] ** 2), "scalar"),
    ("-a", {}, lambda v: -v["a"], "scalar"),
    ("--a", {}, lambda v: v["a"], "scalar"),
    ("+a", {}, lambda v: v["a"], "scalar"),
    ("a - -b", {}, lambda v: v["a"] + v["b"], "scalar"),
    ("x+y", {}, lambda v: v["x"] + v["y"], "col vector"),
    ("x-y", {}, lambda v: v["x"] - v["y"], "col vector"),
    ("-x", {}, lambda v: -v["x"], "col vector"),
    ("x'", {}, lambda v: v["x"], "row vector"),
    ("-x'", {}, lambda v: -v["x"], "row vector"),
    ("x''", {}, lambda v: v["x"], "col vector"),
    ("A'", {}, lambda v: v["A"].T, "matrix"),
    ("x'*y", {}, lambda v: v["x"] @ v["y"], "scalar"),
    ("x*y'", {}, lambda v: np.outer(v["x"], v["y"]), "matrix"),
    ("x'*A*x", {}, lambda v: v["x"] @ v["A"] @ v["x"], "scalar"),
    ("A*x", {}, lambda v: v["A"] @ v["x"], "col vector"),
    ("x'*A", {}, lambda v: v["x"] @ v["A"], "row vector"),
    ("X*w", {}, lambda v: v["X"] @ v["w"], "col vector"),
    ("A*B", {}, lambda v: v["A"] @ v["B"], "matrix"),
    ("X'*X", {}, lambda v: v["X"].T @ v["X"], "matrix"),
    ("a*x", {}, lambda v: v["a"] * v["x"], "col vector"),
    ("x*a", {}, lambda v: v["a"] * v["x"], "col vector"),
    ("x/2", {}, lambda v: v["x"] / 2, "col vector"),
    ("A/a", {}, lambda v: v["A"] / v["a"], "matrix"),
    ("x.*y", {}, lambda v: v["x"] * v["y"], "col vector"),
    ("x./y", {}, lambda v: v["x"] / v["y"], "col vector"),
    ("x.^2", {}, lambda v: v["x"] ** 2, "col vector"),
    ("x.^y", {}, lambda v: v["x"] ** v["y"], "col vector"),
    ("x.^-1", {}, lambda v: 1 / v["x"], "col vector"),
    ("A.*B", {}, lambda v: v["A"] * v["B"], "matrix"),
    ("A^3", {}, lambda v: v["A"] @ v["A"] @ v["A"], "matrix"),
    ("A^(2)", {}, lambda v: v["A"] @ v["A"], "matrix"),
    ("A^0", {}, lambda v: np.eye(3), "matrix"),
    ("A^-1", {"A": "matrix"}, lambda v: np.linalg.inv(v["A"]), "matrix"),
    ("x+1", {}, lambda v: v["x"] + 1, "col vector"),
    ("1-x", {}, lambda v: 1 - v["x"], "col vector"),
    ("A+a", {}, lambda v: v["A"] + v["a"], "matrix"),
    ("sin(a)", {}, lambda v: np.sin(v["a"]), "scalar"),
    ("cos(x)", {}, lambda v: np.cos(v["x"]), "col vector"),
    ("tan(x)", {}, lambda v: np.tan(v["x"]), "col vector"),
    ("arcsin(c)", {}, lambda v: np.arcsin(v["c"]), "scalar"),
    ("arccos(c)", {}, lambda v: np.arccos(v["c"]), "scalar"),
    ("arctan(x)", {}, lambda v: np.arctan(v["x"]), "col vector"),
    ("exp(A)", {}, lambda v: np.exp(v["A"]), "matrix"),
    ("log(x)", {}, lambda v: np.log(v["x"]), "col vector"),
    ("ln(x)", {}, lambda v: np.log(v["x"]), "col vector"),
    ("tanh(z)", {}, lambda v: np.tanh(v["z"]), "col vector"),
    ("sqrt(x)", {}, lambda v: np.sqrt(v["x"]), "col vector"),
    ("abs(z)", {}, lambda v: np.abs(v["z"]), "col vector"),
    ("sign(z)", {}, lambda v: np.sign(v["z"]), "col vector"),
    ("relu(z)", {}, lambda v: np.maximum(v["z"], 0), "col vector"),
    ("sigmoid(z)", {}, lambda v: sigmoid(v["z"]), "col vector"),
    ("step(z)", {}, lambda v: (v["z"] > 0).astype(float), "col vector"),
    ("max(0, z)", {}, lambda v: np.maximum(0, v["z"]), "col vector"),
    ("max(z, 0)", {}, lambda v: np.maximum(v["z"], 0), "col vector"),
    ("min(z, 1)", {}, lambda v: np.minimum(v["z"], 1), "col vector"),
    ("max(a, b)", {}, lambda v: max(v["a"], v["b"]), "scalar"),
    ("min(x, y)", {}, lambda v: np.minimum(v["x"], v["y"]), "col vector"),
    ("max(0, w'*x+b)", {}, lambda v: max(0.0, v["w"] @ v["x"] + v["b"]), "scalar"),
    ("sum(x)", {}, lambda v: v["x"].sum(), "scalar"),
    ("sum(X)", {}, lambda v: v["X"].sum(), "scalar"),
    ("norm1(z)", {}, lambda v: np.abs(v["z"]).sum(), "scalar"),
    ("norm2(w)", {}, lambda v: np.linalg.norm(v["w"]), "scalar"),
    ("norm2(X)", {}, lambda v: np.linalg.norm(v["X"], "fro"), "scalar"),
    ("norm2(X*w-y)^2", {"y": (4,)}, lambda v: np.sum((v["X"] @ v["w"] - v["y4"]) ** 2), "scalar"),
    ("tr(A)", {}, lambda v: np.trace(v["A"]), "scalar"),
    ("det(A)", {}, lambda v: np.linalg.det(v["A"]), "scalar"),
    ("logdet(S)", {}, lambda v: np.linalg.slogdet(v["S"])[1], "scalar"),
    ("inv(A)", {}, lambda v: np.linalg.inv(v["A"]), "matrix"),
    ("diag(x)", {}, lambda v: np.diag(v["x"]), "matrix"),
    ("diag(A)", {}, lambda v: np.diag(v["A"]), "col vector"),
    ("softmax(w)", {}, lambda v: softmax(v["w"]), "col vector"),
    ("logsumexp(w)", {}, lambda v: lse(v["w"]), "scalar"),
    ("log(sum(exp(A*x)))", {}, lambda v: lse(v["A"] @ v["x"]), "scalar"),
    ("sum(log(1+exp(-y.*(X*w))))", {"y": (4,)},
     lambda v: np.sum(np.log(1 + np.exp(-v["y4"] * (v["X"] @ v["w"])))), "scalar"),
    ("x+vector(c)", {}, lambda v: v["x"] + v["c"], "col vector"),
    ("vector(2, 3)", {}, lambda v: np.full(3, 2.0), "col vector"),
    ("x'*vector(1, \"n\")", {}, lambda v: v["x"].sum(), "scalar"),
    ("A+matrix(c)", {}, lambda v: v["A"] + v["c"], "matrix"),
    ("x'*matrix(c)*y", {}, lambda v: v["c"] * v["x"].sum() * v["y"].sum(), "scalar"),
    ("matrix(1, 2, 3)", {}, lambda v: np.ones((2, 3)), "matrix"),
    ("X+matrix(a, \"m\", \"n\")", {"X": ("m", "n")}, lambda v: v["X"] + v["a"], "matrix"),
    ("A+eye", {}, lambda v: v["A"] + np.eye(3), "matrix"),
    ("eye(3)", {}, lambda v: np.eye(3), "matrix"),
    ("eye(\"n\")*x", {}, lambda v: v["x"], "col vector"),
    ("[ln(a^2); sin(3*a)]", {}, lambda v: np.array([np.log(v["a"] ** 2), np.sin(3 * v["a"])]), "col vector"),
    ("[a; b; a*b]", {}, lambda v: np.array([v["a"], v["b"], v["a"] * v["b"]]), "col vector"),
    ("[x'*y; sum(x)]", {}, lambda v: np.array([v["x"] @ v["y"], v["x"].sum()]), "col vector"),
    ("einsum(\"ij,jk->ik\", A, B)", {}, lambda v: v["A"] @ v["B"], "matrix"),
    ("einsum('ij,jk->ik', A, B)", {}, lambda v: v["A"] @ v["B"], "matrix"),
    ("einsum('ij,jk->ik', A', B')", {}, lambda v: v["A"].T @ v["B"].T, "matrix"),
    ("einsum('ij,j->i', X, w)", {}, lambda v: v["X"] @ v["w"], "col vector"),
    ("einsum('ii->', A)", {}, lambda v: np.trace(v["A"]), "scalar"),
    ("einsum('i,j->ij', x, y)", {}, lambda v: np.outer(v["x"], v["y"]), "matrix"),
    ("einsum('ij,kl->ijkl', A, B)", {}, lambda v: np.einsum("ij,kl->ijkl", v["A"], v["B"]), "rank-4 tensor"),
]


def values_for(f):
    given = {**V, "y": V["y4"]} if f.variables.get("y", (None,))[0] == (4,) else V
    return {k: given[k] for k in f.variables}


@pytest.mark.parametrize(("text", "decls", "expected", "kind"), CASES, ids=[c[0] for c in CASES])
def test_parses_to_the_right_kind_and_value(text, decls, expected, kind):
    f = cr.parse(text, **decls)
    assert f.stype.kind == kind
    value = f.evaluate(values_for(f))
    want = np.asarray(expected(V), dtype=float)
    assert value.shape == want.shape
    np.testing.assert_allclose(value, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(("text", "decls", "expected", "kind"), CASES, ids=[c[0] for c in CASES])
def test_printed_text_parses_back_to_the_same_function(text, decls, expected, kind):
    f = cr.parse(text, **decls)
    g = cr.parse(f.text(), **{k: info.shape for k, info in f.variables.items()})
    np.testing.assert_allclose(g.evaluate(values_for(f)), f.evaluate(values_for(f)), rtol=1e-10, atol=1e-12)


SHAPES = [
    ("a", ()), ("x", ("n",)), ("A", ("n", "m")), ("x'*A*x", ()), ("A*x", ("n",)), ("X*w", ("n",)),
    ("x*y'", ("n", "m")), ("diag(x)", ("n", "n")), ("diag(A)", ("n",)), ("tr(A)", ()), ("eye(3)", (3, 3)),
    ("vector(1, 4)", (4,)), ("matrix(1, 2, 3)", (2, 3)), ("vector(1, \"k\")", ("k",)), ("[a; b; c]", (3,)),
    ("einsum('ij,jk->ik', A, B)", ("n", "p")), ("einsum('ij->ijk', A)", ("n", "m", "p")),
]


@pytest.mark.parametrize(("text", "shape"), SHAPES, ids=[s[0] for s in SHAPES])
def test_symbolic_shape(text, shape):
    assert cr.parse(text).shape == shape


def test_quadratic_form_against_numpy():
    x, A = V["x"], V["A"]
    assert cr.parse("x'*A*x").evaluate(x=x, A=A) == pytest.approx(x @ A @ x, rel=1e-12)


def test_scalars_may_be_plain_numbers_and_vectors_lists():
    assert cr.parse("a*x'*y").evaluate(a=2, x=[1, 2], y=[3, 4]) == pytest.approx(22.0)


def test_whitespace_is_ignored():
    f = cr.parse("  x ' * A\t*\n x ")
    assert f.text() == "x'*A*x"


def test_ln_is_an_alias_of_log():
    assert cr.parse("ln(x)").text() == cr.parse("log(x)").text()


def test_max_with_zero_is_relu():
    z = V["z"]
    np.testing.assert_array_equal(cr.parse("max(0, z)").evaluate(z=z), cr.parse("relu(z)").evaluate(z=z))
