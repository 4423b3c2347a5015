"""Stacking ([x; y], [X, Y]) and indexing (x(2), X(2, :), x(2:4)) (issue 9, item 3): values against NumPy, derivatives
against finite differences and JAX, printed forms that parse back, and compact derivatives (no stack survives where
a part is picked back out)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import chainrule as cr
from tests.roundtrip import assert_reparses

jax.config.update("jax_enable_x64", True)

DECLS = {"x": (3,), "y": (2,), "X": (2, 3), "Y": (1, 3), "Z": (2, 2), "A": (3, 3), "W": (2, 4)}


def _values(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {"a": 0.7, "b": -0.4, **{k: rng.normal(size=s) for k, s in DECLS.items()}}


# (text, the same function of a NumPy-like namespace and the values)
CASES = [
    ("[x; y]", lambda np, v: np.concatenate([v["x"], v["y"]])),
    ("[x; a]", lambda np, v: np.concatenate([v["x"], np.reshape(v["a"], (1,))])),
    ("[a; x; b]", lambda np, v: np.concatenate([np.reshape(v["a"], (1,)), v["x"], np.reshape(v["b"], (1,))])),
    ("[X; Y]", lambda np, v: np.concatenate([v["X"], v["Y"]], axis=0)),
    ("[X; x']", lambda np, v: np.concatenate([v["X"], v["x"][None, :]], axis=0)),
    ("[X, Z]", lambda np, v: np.concatenate([v["X"], v["Z"]], axis=1)),
    ("[Z, y]", lambda np, v: np.concatenate([v["Z"], v["y"][:, None]], axis=1)),
    ("[x, x]", lambda np, v: np.stack([v["x"], v["x"]], axis=1)),
    ("[x'; x']", lambda np, v: np.stack([v["x"], v["x"]], axis=0)),
    ("[x', y']", lambda np, v: np.concatenate([v["x"], v["y"]])),
    ("[Z, X; X, Z]", lambda np, v: np.concatenate([np.concatenate([v["Z"], v["X"]], axis=1),
                                                   np.concatenate([v["X"], v["Z"]], axis=1)], axis=0)),
    ("[Z, y; y', a]", lambda np, v: np.concatenate([np.concatenate([v["Z"], v["y"][:, None]], axis=1),
                                                    np.concatenate([v["y"], np.reshape(v["a"], (1,))])[None, :]],
                                                   axis=0)),
    ("x(2)", lambda np, v: v["x"][1]),
    ("x(2:3)", lambda np, v: v["x"][1:3]),
    ("X(2, :)", lambda np, v: v["X"][1, :]),
    ("X(:, 1)", lambda np, v: v["X"][:, 0]),
    ("X(2, 3)", lambda np, v: v["X"][1, 2]),
    ("X(1:2, 2:3)", lambda np, v: v["X"][0:2, 1:3]),
    ("(A*x)(2)", lambda np, v: (v["A"] @ v["x"])[1]),
    ("(x')(2:3)", lambda np, v: v["x"][1:3]),
    ("sum(exp([x; y]))", lambda np, v: np.sum(np.exp(np.concatenate([v["x"], v["y"]])))),
    ("norm2(W*[x; 1])^2", lambda np, v: np.sum((v["W"] @ np.concatenate([v["x"], np.ones(1)])) ** 2)),
    ("[x; a]'*[y; b; a]",
     lambda np, v: np.concatenate([v["x"], np.stack([v["a"]])]) @ np.concatenate([v["y"], np.stack([v["b"], v["a"]])])),
    ("x(1)*X(2, :)*x + sum(log1p([x; y].^2))",
     lambda np, v: v["x"][0] * (v["X"][1] @ v["x"]) + np.sum(np.log1p(np.concatenate([v["x"], v["y"]]) ** 2))),
    ("sum(sum(tanh([X; Y](2:3, :))))", lambda np, v: np.sum(np.tanh(np.concatenate([v["X"], v["Y"]])[1:3]))),
]


def _parse(text: str) -> cr.Expr:
    return cr.parse(text, **{k: s for k, s in DECLS.items() if k in text})


@pytest.mark.parametrize("text, meaning", CASES, ids=[c[0] for c in CASES])
def test_value_matches_numpy_and_the_text_parses_back(text, meaning):
    f, v = _parse(text), _values()
    expected = meaning(np, v)
    got = f.evaluate({k: v[k] for k in f.variables})
    assert np.shape(got) == np.shape(expected)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert_reparses(f, v, text)


@pytest.mark.parametrize("text, meaning", CASES, ids=[c[0] for c in CASES])
def test_derivatives_match_jax_and_finite_differences(text, meaning):
    f, v = _parse(text), _values(1)
    names = list(f.variables)
    point = {k: jnp.asarray(v[k], dtype=jnp.float64) for k in names}
    for name in names:
        d = cr.derivative(f, name)
        assert cr.check(f, name, at={k: v[k] for k in names}).ok, (text, name, d.text())

        def of(u, name=name):
            return meaning(jnp, {**point, name: u})
        expected = jax.jacrev(of)(point[name])
        got = d.evaluate({k: v[k] for k in d.variables if k in names})
        np.testing.assert_allclose(np.reshape(got, np.shape(expected)), expected, rtol=1e-9, atol=1e-12,
                                   err_msg=f"d({text})/d{name} = {d.text()}")
        assert_reparses(d, v, f"d({text})/d{name}")


@pytest.mark.parametrize("text, wrt, printed", [
    ("sum([x; y].^2)", "x", "2*x'"),
    ("sum(exp([X; x']))", "x", "exp(x)'"),
    ("[x; a]'*[y; b; a]", "a", "2*a"),
    ("(A*x)(2)", "x", "A(2, :)"),
    ("(A*x)(2)", "A", "[0; 1; 0]*x'"),
    ("sum(log1p([x; a]))", "a", "(1+a)^-1"),
    ("norm2(W*[x; 1])^2", "x", "2*[x; 1]'*W'*W(:, 1:3)"),
])
def test_derivatives_print_without_needless_stacks(text, wrt, printed):
    assert cr.derivative(_parse(text), wrt).text() == printed


@pytest.mark.parametrize("text, printed", [
    ("[x; y]", "[x; y]"), ("[X, Z]", "[X, Z]"), ("X(2, :)", "X(2, :)"), ("X(:, 1)", "X(:, 1)"),
    ("x(2:3)", "x(2:3)"), ("(A*x)(2)", "A(2, :)*x"), ("x(1:3)", "x"), ("[x; y](4:5)", "y"), ("[x; y](3)", "x(3)"),
])
def test_printed_forms(text, printed):
    assert _parse(text).text() == printed


def test_errors_say_what_to_declare():
    with pytest.raises(cr.ChainruleError, match="stacking needs the size"):
        cr.parse("[x; a]", x="vector")
    assert cr.parse("[x; a]").variables["x"].shape == ()     # undeclared: use decides, x is read as a scalar
    with pytest.raises(cr.ChainruleError, match="beyond the end"):
        cr.parse("x(4)", x=(3,))
    with pytest.raises(cr.ChainruleError, match="unknown function 'eyes'"):
        cr.parse("eyes(3)")


def test_a_stack_of_scalars_keeps_its_form():
    f = cr.parse("[a; b*c]")
    assert f.text() == "[a; b*c]" and cr.derivative(f, "b").text() == "[0; c]"
