"""Collecting a sum by reflections and common factors (build.add, stable.REFLECTIONS, stable.SUM_RULES).

f(-u) is written through f(u) where one sum holds both (sigmoid(-u) = 1 - sigmoid(u), softplus(-u) = softplus(u) - u,
odd and even functions), products that differ in one factor collect in any operand order (a.*s + c.*s = (a+c).*s),
and 1 - sigmoid(u) is sigmoid(-u). Each rule is checked by value against the unsimplified formula in NumPy, at
ordinary points and at logits of ±1000; binary cross-entropy's gradient by the logits comes out as sigmoid(z) - y,
against JAX and finite differences.
"""
import numpy as np
import pytest
from roundtrip import assert_reparses
from scipy.special import expit, log_expit

import chainrule as cr
from chainrule.expr import Expr
from chainrule.ir.elementwise import ELEMENTWISE
from chainrule.simplify import build as b
from chainrule.simplify import stable

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
jnp = jax.numpy

N = 6
RNG = np.random.default_rng(7)
TAILS = np.array([1000.0, -1000.0, 40.0, -40.0, 700.0, -0.5])


def _softplus(u):
    return np.logaddexp(0.0, u)


@pytest.mark.parametrize("fn", sorted(stable.REFLECTIONS))
@pytest.mark.parametrize("at", [RNG.normal(size=N), TAILS], ids=["normal", "tails"])
def test_each_reflection_is_f_of_minus_u(fn, at):
    u = b.var("u", (N,))
    terms = stable.reflected(b.apply(fn, b.neg(u)), b.CONSTRUCTORS)
    assert terms is not None and all(t.shape == (N,) for t in terms)
    value = Expr(b.add(*terms), None, {"u": ((N,), False)}).evaluate(u=at)
    assert np.all(np.isfinite(value))
    # absolute accuracy: softplus(u) - u cancels to e^-u at a large u, to within rounding of u
    np.testing.assert_allclose(value, ELEMENTWISE[fn].numpy(-at), rtol=1e-12, atol=1e-13 * np.max(np.abs(at)))


def test_only_a_negated_argument_is_reflected():
    u = b.var("u", (N,))
    assert stable.reflected(b.apply("sigmoid", u), b.CONSTRUCTORS) is None
    assert stable.reflected(b.apply("exp", b.neg(u)), b.CONSTRUCTORS) is None     # exp has no reflection
    assert stable.is_negated(b.scale(-2.0, u)) and not stable.is_negated(b.scale(2.0, u))


# (text, what it must print, its meaning in NumPy written as typed: the unsimplified form)
SUMS = [
    ("y.*sigmoid(-x) + (1-y).*sigmoid(x)", None,
     lambda x, y: y * expit(-x) + (1 - y) * expit(x)),
    ("(1-y).*sigmoid(x) - y.*sigmoid(-x)", "sigmoid(x)-y", lambda x, y: (1 - y) * expit(x) - y * expit(-x)),
    ("y.*sigmoid(x) + y.*sigmoid(-x)", "y", lambda x, y: y * expit(x) + y * expit(-x)),
    ("y.*softplus(-x) + (1-y).*softplus(x)", ("softplus(x)-x.*y", "softplus(x)-y.*x"),
     lambda x, y: y * _softplus(-x) + (1 - y) * _softplus(x)),
    ("tanh(-x) + tanh(x)", ("0", "vector(0, 6)"), lambda x, y: np.tanh(-x) + np.tanh(x)),
    ("y.*cos(-x) - y.*cos(x) + x", "x", lambda x, y: y * np.cos(-x) - y * np.cos(x) + x),
    ("1 - sigmoid(x)", "sigmoid(-x)", lambda x, y: 1 - expit(x)),
    ("sigmoid(x).*(1-sigmoid(x))", "sigmoid(x).*sigmoid(-x)", lambda x, y: expit(x) * (1 - expit(x))),
    ("x.*exp(y) + exp(y).*y", None, lambda x, y: x * np.exp(y) + np.exp(y) * y),
]


@pytest.mark.parametrize("text, printed, meaning", SUMS, ids=[s[0] for s in SUMS])
def test_sums_collect_to_the_same_function(text, printed, meaning):
    f = cr.parse(text, x=(N,), y=(N,))
    if printed is not None:
        assert f.text() in ((printed,) if isinstance(printed, str) else printed)   # operand order: by digest
    for x in (RNG.normal(size=N), RNG.normal(size=N) * 3):
        y = RNG.uniform(size=N)
        np.testing.assert_allclose(np.broadcast_to(f.evaluate(x=x, y=y), (N,)), meaning(x, y), rtol=1e-12,
                                   atol=1e-12)


def test_a_common_factor_collects_in_either_operand_order():
    # a.*s + c.*s = (a+c).*s, whichever operand the normal form lists first: one product, not a sum of two
    f = cr.parse("x.*exp(y) + exp(y).*y", x=(N,), y=(N,))
    assert f.node.op == "contract" and sorted(a.op for a in f.node.args) == ["add", "map"]


def test_a_reflection_that_does_not_collect_is_not_made():
    # no f(u) term to collect with: the sum keeps f(-u) (rewriting it would only add terms)
    assert cr.parse("y.*sigmoid(-x) + x", x=(N,), y=(N,)).text() == "x+y.*sigmoid(-x)"
    assert cr.parse("y.*softplus(-x)", x=(N,), y=(N,)).text() == "y.*softplus(-x)"


def test_one_minus_sigmoid_keeps_its_relative_accuracy():
    # 1 - sigmoid(40) rounds to 0; sigmoid(-40) is 4.2e-18, exact to the last digit
    f = cr.parse("1 - sigmoid(x)", x=(N,))
    np.testing.assert_allclose(f.evaluate(x=TAILS), expit(-TAILS), rtol=1e-14, atol=0)
    h = cr.hessian(cr.parse("sum(softplus(x))", x=(N,)), "x")
    np.testing.assert_allclose(np.diag(h.evaluate(x=TAILS)), expit(TAILS) * expit(-TAILS), rtol=1e-12, atol=0)


# ---- binary cross-entropy ------------------------------------------------------------------------------------------

BCE_SPELLINGS = [
    "-sum(y.*log(sigmoid(z)) + (1-y).*log(1-sigmoid(z)))",
    "-sum(y.*log(sigmoid(z)) + (1-y).*log(sigmoid(-z)))",
    "-sum((1-y).*log(1-sigmoid(z)) + y.*log(sigmoid(z)))",
    "-sum(y.*log(1./(1+exp(-z))) + (1-y).*log(1-1./(1+exp(-z))))",
]


def _bce(z, y):
    return -jnp.sum(y * jax.nn.log_sigmoid(z) + (1 - y) * jax.nn.log_sigmoid(-z))


LOGITS = [np.array([1000.0, -1000.0, 0.5, 37.5, -40.0, 3.0]), np.array([700.0, 699.0, -650.0, 0.0, -300.0, 1.0])]
LABELS = np.array([0.0, 1.0, 1.0, 0.3, 0.5, 0.9])


@pytest.mark.parametrize("text", BCE_SPELLINGS)
def test_the_bce_gradient_is_sigmoid_minus_y(text):
    f = cr.parse(text, z=(N,), y=(N,))
    g = cr.derivative(f, "z")
    assert g.text() == "(sigmoid(z)-y)'"                    # numerator layout: the gradient of a scalar is a row
    assert cr.derivative(f, "z", layout="denominator").text() == "sigmoid(z)-y"
    for z in LOGITS:
        at = {"z": z, "y": LABELS}
        assert f.evaluate(at) == pytest.approx(float(_bce(z, LABELS)), rel=1e-12)
        got = g.evaluate(at)
        assert np.all(np.isfinite(got))
        np.testing.assert_allclose(got, jax.grad(_bce)(z, LABELS), rtol=1e-12, atol=1e-15)
        # the Hessian diag(sigmoid(z).*sigmoid(-z)): relatively accurate in both tails (JAX's loses a tail)
        h = cr.hessian(f, "z").evaluate(at)
        np.testing.assert_allclose(h, np.diag(expit(z) * expit(-z)), rtol=1e-12, atol=0)
        assert_reparses(g, at, text)
    assert cr.check(f, "z", at={"z": RNG.normal(size=N), "y": LABELS}).ok
    assert cr.check(f, "z", at={"z": RNG.normal(size=N), "y": LABELS}, order=2).ok


def test_the_mean_bce_gradient_is_sigmoid_minus_y_over_n():
    f = cr.parse("-sum(y.*log(sigmoid(z)) + (1-y).*log(1-sigmoid(z)))/numel(z)", z=("n",), y=("n",))
    g = cr.derivative(f, "z")
    assert g.text() == "(sigmoid(z)-y)'/numel(z)"
    for z in LOGITS:
        np.testing.assert_allclose(g.evaluate(z=z, y=LABELS), (expit(z) - LABELS) / N, rtol=1e-12, atol=1e-16)
    assert cr.check(f, "z", at={"z": RNG.normal(size=N), "y": LABELS}).ok


def test_the_bce_function_is_softplus_minus_y_times_z():
    # the loss itself collects the same way: softplus(-z) = softplus(z) - z, so it is sum(softplus(z) - y.*z),
    # finite at every logit
    f = cr.parse(BCE_SPELLINGS[0], z=(N,), y=(N,))
    assert "sigmoid" not in f.text() and f.text().count("softplus") == 1
    for z in LOGITS:
        reference = float(np.sum(-LABELS * log_expit(z) - (1 - LABELS) * log_expit(-z)))
        assert f.evaluate(z=z, y=LABELS) == pytest.approx(reference, rel=1e-12)


BATCHED = "-sum(y.*log(sigmoid(X*w + b)) + (1-y).*log(1-sigmoid(X*w + b)))"


def _batched(w, b_, X, y):
    return _bce(X @ w + b_, y)


@pytest.mark.parametrize("wrt, printed", [("w", "(sigmoid(X*w+b)-y)'*X"), ("b", "sum(sigmoid(X*w+b)-y)")])
def test_the_batched_bce_gradient(wrt, printed):
    f = cr.parse(BATCHED, X=(N, 3), w=(3,), y=(N,), b=())
    g = cr.derivative(f, wrt)
    assert g.text().replace("b+X*w", "X*w+b") == printed       # the order of a sum's terms is the printer's
    X = RNG.normal(size=(N, 3))
    for scale in (1.0, 400.0):                            # logits of several hundred
        at = {"X": X, "w": RNG.normal(size=3) * scale, "b": 0.3, "y": LABELS}
        got = g.evaluate(at)
        expected = jax.grad(_batched, argnums=0 if wrt == "w" else 1)(at["w"], at["b"], X, LABELS)
        assert np.all(np.isfinite(got))
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)
        assert_reparses(g, at, BATCHED)
    assert cr.check(f, wrt, at={"X": X, "w": RNG.normal(size=3), "b": 0.3, "y": LABELS}).ok


def test_many_reflected_pairs_terminate():
    # a sum of many f(-u), f(u) pairs builds in one pass per sum (no rule undoes another)
    text = " + ".join(f"{fn}(-x) + y.*{fn}(x)" for fn in ("sigmoid", "softplus", "tanh", "sin", "cos", "abs", "erf"))
    f = cr.parse(text, x=(N,), y=(N,))
    x, y = RNG.normal(size=N), RNG.normal(size=N)
    meaning = sum(ELEMENTWISE[fn].numpy(-x) + y * ELEMENTWISE[fn].numpy(x)
                  for fn in ("sigmoid", "softplus", "tanh", "sin", "cos", "abs", "erf"))
    np.testing.assert_allclose(f.evaluate(x=x, y=y), meaning, rtol=1e-12, atol=1e-12)
