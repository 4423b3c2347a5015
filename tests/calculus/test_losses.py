"""log1p, expm1, erf, and the stable, compact forms of the usual losses (issue 9, items 3 and 5, and the worked models
of item 6 they enable): values against NumPy/SciPy, derivatives against JAX and finite differences, finite at logits
of ±1000 and shared offsets of several hundred, printed forms that parse back."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import erf, expit

import chainrule as cr
from tests.roundtrip import assert_reparses

jax.config.update("jax_enable_x64", True)

# (text, NumPy value, JAX function of x) for the new element-wise functions
FUNCTIONS = [
    ("sum(log1p(x))", lambda x: np.sum(np.log1p(x)), lambda x: jnp.sum(jnp.log1p(x))),
    ("sum(expm1(x))", lambda x: np.sum(np.expm1(x)), lambda x: jnp.sum(jnp.expm1(x))),
    ("sum(erf(x))", lambda x: np.sum(erf(x)), lambda x: jnp.sum(jax.scipy.special.erf(x))),
    ("sum(0.5*x.*(1+erf(x/sqrt(2))))", lambda x: np.sum(0.5 * x * (1 + erf(x / np.sqrt(2)))),
     lambda x: jnp.sum(jax.nn.gelu(x, approximate=False))),                     # exact GELU
]
POINT = np.array([-0.9, -0.3, 1e-9, 0.7, 3.0])


@pytest.mark.parametrize("text, value, reference", FUNCTIONS, ids=[f[0] for f in FUNCTIONS])
def test_new_functions_value_gradient_and_hessian(text, value, reference):
    f = cr.parse(text, x=(5,))
    assert f.evaluate(x=POINT) == pytest.approx(value(POINT), rel=1e-13)
    g, h = cr.derivative(f, "x"), cr.hessian(f, "x")
    np.testing.assert_allclose(g.evaluate(x=POINT), jax.grad(reference)(POINT), rtol=1e-12)
    np.testing.assert_allclose(h.evaluate(x=POINT), jax.hessian(reference)(POINT), rtol=1e-10, atol=1e-14)
    assert cr.check(f, "x", at={"x": POINT}).ok and cr.check(f, "x", at={"x": POINT}, order=2).ok
    assert_reparses(g, {"x": POINT}, text)


def test_log1p_and_expm1_are_exact_near_zero():
    f = cr.parse("log1p(a) + expm1(b)")
    assert f.evaluate(a=1e-20, b=1e-20) == 2e-20
    assert cr.derivative(f, "a").text() == "(1+a)^-1" and cr.derivative(f, "b").text() == "exp(b)"


def test_the_gelu_derivative_prints_with_erf():
    g = cr.derivative(cr.parse("0.5*x.*(1+erf(x/sqrt(2)))", x="vector"), "x")
    assert "erf(" in g.text() and "exp(" in g.text()


@pytest.mark.parametrize("text, printed", [
    ("exp(z-logsumexp(z))", "softmax(z)"),
    ("log(softmax(z))", "logsoftmax(z)"),
    ("log(sigmoid(z))", "-softplus(-z)"),
    ("log(exp(u))", "u"),
    ("sqrt(sum(x.^2))", "norm2(x)"),
    ("sqrt(x'*x)", "norm2(x)"),
    ("-softmax(z)'*log(softmax(z))", "-softmax(z)'*logsoftmax(z)"),
])
def test_stable_forms_print_compactly(text, printed):
    assert cr.parse(text).text() == printed


def test_the_inverse_of_a_symmetric_matrix_is_symmetric():
    assert cr.parse("inv(S)'", S="symmetric").text() == "inv(S)"
    assert cr.parse("inv(A)'").text() == "inv(A)'"


LOGITS = [np.array([1000.0, -1000.0, 0.5, 37.5, -40.0]), np.array([700.0, 699.0, 650.0, 0.0, -300.0])]
BCE = "-sum(y.*log(sigmoid(z)) + (1-y).*log(1-sigmoid(z)))"


def _bce(z, y):
    return -jnp.sum(y * jax.nn.log_sigmoid(z) + (1 - y) * jax.nn.log_sigmoid(-z))


@pytest.mark.parametrize("z", LOGITS)
def test_binary_cross_entropy_is_finite_and_right_at_large_logits(z):
    y = np.array([0.0, 1.0, 1.0, 0.3, 0.5])
    f = cr.parse(BCE, z=(5,), y=(5,))
    g, h = cr.derivative(f, "z"), cr.hessian(f, "z")
    assert f.evaluate(z=z, y=y) == pytest.approx(float(_bce(z, y)), rel=1e-12)
    np.testing.assert_allclose(g.evaluate(z=z, y=y), jax.nn.sigmoid(z) - y, rtol=1e-12, atol=1e-250)
    np.testing.assert_allclose(g.evaluate(z=z, y=y), jax.grad(_bce)(z, y), rtol=1e-12, atol=1e-250)
    np.testing.assert_allclose(h.evaluate(z=z, y=y), jax.hessian(_bce)(z, y), rtol=1e-10, atol=1e-15)
    # exactly sigmoid(z).*sigmoid(-z) on the diagonal, in both tails (JAX's Hessian halves it at z = -300, y = 1/2)
    np.testing.assert_allclose(h.evaluate(z=z, y=y), np.diag(expit(z) * expit(-z)), rtol=1e-12, atol=0)
    assert_reparses(g, {"z": z, "y": y}, BCE)


def test_binary_cross_entropy_gradient_is_printed_in_sigmoids():
    g = cr.derivative(cr.parse(BCE), "z")
    assert g.text() == "(sigmoid(z)-y)'"      # sigmoid(-z) = 1 - sigmoid(z) collects the terms (simplify/stable.py)


def _entropy(z):
    return -jnp.sum(jax.nn.softmax(z) * jax.nn.log_softmax(z))


@pytest.mark.parametrize("text, reference", [
    ("-softmax(z)'*log(softmax(z))", _entropy),
    ("-y'*log(softmax(z))", lambda z: -jnp.dot(jnp.array([0.2, 0.3, 0.1, 0.4, 0.0]), jax.nn.log_softmax(z))),
    ("sum(log(sigmoid(z)))", lambda z: jnp.sum(jax.nn.log_sigmoid(z))),
    ("logsumexp(z)", jax.scipy.special.logsumexp),
])
@pytest.mark.parametrize("z", LOGITS)
def test_softmax_losses_are_finite_at_large_logit_gaps(text, reference, z):
    y = np.array([0.2, 0.3, 0.1, 0.4, 0.0])
    f = cr.parse(text, z=(5,), **({"y": (5,)} if "y" in text else {}))
    at = {"z": z, **({"y": y} if "y" in text else {})}
    g = cr.derivative(f, "z")
    assert f.evaluate(at) == pytest.approx(float(reference(z)), rel=1e-12, abs=1e-300)
    expected = jax.grad(reference)(z)
    got = g.evaluate(at)
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-280)
    assert_reparses(g, at, text)


def test_weight_decay_uses_lambda_as_a_scalar():
    f = cr.parse("lambda*norm2(w)^2")
    assert f.shape == () and f.text() == "lambda*sum(w.^2)"
    assert cr.derivative(f, "w").text() == "2*lambda*w'"


NORMS = [   # over a vector, with gain g; eps a scalar by name
    ("sum(g.*x./sqrt(mean(x.^2)+eps))", lambda x, g: jnp.sum(g * x / jnp.sqrt(jnp.mean(x ** 2) + 1e-5))),
    ("sum(g.*(x-mean(x))./sqrt(mean((x-mean(x)).^2)+eps))",
     lambda x, g: jnp.sum(g * (x - jnp.mean(x)) / jnp.sqrt(jnp.mean((x - jnp.mean(x)) ** 2) + 1e-5))),
]


@pytest.mark.parametrize("text, reference", NORMS, ids=["rms norm", "layer norm"])
def test_rms_and_layer_norm_of_a_vector(text, reference):
    x, g = np.array([0.3, -1.2, 2.0, 0.7]), np.array([1.0, 2.0, 0.5, 1.5])
    f = cr.parse(text, x=(4,), g=(4,))
    at = {"x": x, "g": g, "eps": 1e-5}
    assert f.evaluate(at) == pytest.approx(float(reference(x, g)), rel=1e-12)
    for name, k in (("x", 0), ("g", 1)):
        d = cr.derivative(f, name)
        np.testing.assert_allclose(d.evaluate(at), jax.grad(reference, argnums=k)(x, g), rtol=1e-10, atol=1e-14)
        assert cr.check(f, name, at=at).ok
        assert_reparses(d, at, text)
    np.testing.assert_allclose(cr.hessian(f, "x").evaluate(at), jax.hessian(reference)(x, g), rtol=1e-8, atol=1e-12)
