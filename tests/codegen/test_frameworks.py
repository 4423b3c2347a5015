"""The generated PyTorch and JAX modules: values and gradients of every variable against chainrule's evaluate,
through the framework's own autodiff (torch's backward, JAX's JVP written by chainrule); gradcheck, gradgradcheck,
vmap; jax check_grads of order 2 in both modes, jit and vmap."""
import numpy as np
import pytest
from corpus import CORPUS, ident, values

import chainrule as cr

torch = pytest.importorskip("torch")
jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
jnp = jax.numpy
check_grads = pytest.importorskip("jax.test_util").check_grads

# a subset for the slower higher-order checks: every kind of primitive once
SUBSET = [r for r in CORPUS if r[0] in {
    "x'*A*x", "sum(log(1+exp(-y.*(X*w))))", "log(sum(exp(A*x)))", "norm2(T-U*V')^2", "x'*inv(A)*x", "logdet(A)",
    "sum((W2*tanh(W1*x) - y).^2)", "sum(unit(x).*a)", "sum(exp(x))", "tr(X'*A*X)", "det(A)", "sum(cofactor(A))",
    "sum(sum(V.*tanh(X*W + b')))"}]


def close(actual, expected):
    expected = np.asarray(expected, dtype=float)
    scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    np.testing.assert_allclose(np.asarray(actual, dtype=float), expected, rtol=1e-8, atol=1e-10 * scale)


def _expected(text, wrt, decls):
    f = cr.parse(text, **decls)
    at = values(f, wrt)
    return f, at, {name: cr.derivative(f, name).evaluate(at) for name in f.variables}


@pytest.mark.parametrize("row", CORPUS, ids=[ident(r) for r in CORPUS])
def test_torch_value_grad_and_backward(generated, row):
    text, wrt, decls = row
    f, at, grads = _expected(text, wrt, decls)
    m = generated(text, wrt, decls, "torch")
    tensors = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in at.items()}
    value = m.f(**tensors)
    close(value.detach(), f.evaluate(at))
    for name, g in zip(f.variables, torch.autograd.grad(value, list(tensors.values())), strict=True):
        close(g, grads[name])                                       # the backward chainrule wrote, every input
    direct = m.grad(**tensors)
    for name, g in zip(wrt, direct if len(wrt) > 1 else (direct,), strict=True):
        close(g.detach(), grads[name])


@pytest.mark.parametrize("row", SUBSET, ids=[ident(r) for r in SUBSET])
def test_torch_gradcheck_and_gradgradcheck(generated, row):
    text, wrt, decls = row
    _, at, _ = _expected(text, wrt, decls)
    m = generated(text, wrt, decls, "torch")
    inputs = tuple(torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in at.values())
    assert torch.autograd.gradcheck(m.f, inputs)
    assert torch.autograd.gradgradcheck(m.f, inputs)


# torch's linear algebra (inv, solve, det) has no half-precision kernels; autograd could not run those either
LOW_PRECISION = [r for r in SUBSET if not any(op in r[0] for op in ("inv(", "det(", "logdet(", "cofactor("))]


@pytest.mark.parametrize("row", CORPUS, ids=[ident(r) for r in CORPUS])
def test_torch_computes_in_its_inputs_dtype_float32(generated, row):
    # nothing in the generated code fixes a dtype: float32 in, float32 values and gradients out, as accurate as float32
    _torch_in_dtype(generated, row, torch.float32, 1e-4)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("row", LOW_PRECISION, ids=[ident(r) for r in LOW_PRECISION])
def test_torch_computes_in_its_inputs_dtype_half_precision(generated, row, dtype):
    _torch_in_dtype(generated, row, getattr(torch, dtype), 0.05)


def _torch_in_dtype(generated, row, dtype, tolerance):
    text, wrt, decls = row
    f, at, grads = _expected(text, wrt, decls)
    m = generated(text, wrt, decls, "torch")
    tensors = {k: torch.tensor(v, dtype=dtype, requires_grad=True) for k, v in at.items()}
    value = m.f(**tensors)
    backward = torch.autograd.grad(value, list(tensors.values()))
    direct = m.grad(**tensors)
    for actual, expected in [(value, f.evaluate(at)), *zip(backward, grads.values(), strict=True),
                             *zip(direct if len(wrt) > 1 else (direct,), (grads[name] for name in wrt), strict=True)]:
        assert actual.dtype == dtype
        scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
        np.testing.assert_allclose(actual.detach().double().numpy(), expected, rtol=tolerance, atol=tolerance * scale)


def test_torch_arguments_that_are_not_tensors_keep_numpys_float64(generated):
    # torch.as_tensor keeps a float64 array float64; only numbers and lists get torch's default dtype
    m = generated("sum(exp(z))", ("z",), {}, "torch", hessian=True)
    z = np.array([0.1, 0.2, 0.3])
    assert m.f(z).dtype == m.grad(z).dtype == m.hessian(z).dtype == torch.float64
    close(m.hessian(z), np.diag(np.exp(z)))
    assert m.grad([0.1, 0.2]).dtype == torch.get_default_dtype()


def test_torch_only_the_gradients_asked_for_and_vmap(generated):
    text, wrt, decls = "sum(log(1+exp(-y.*(X*w))))", ("w",), {}
    f, at, grads = _expected(text, wrt, decls)
    m = generated(text, wrt, decls, "torch")
    y, X = (torch.tensor(at[k]) for k in ("y", "X"))
    w = torch.tensor(at["w"], requires_grad=True)
    m.f(y, X, w).backward()
    close(w.grad, grads["w"])
    assert X.grad is None
    W = torch.tensor(np.random.default_rng(2).standard_normal((4, *at["w"].shape)))
    batched = torch.func.vmap(torch.func.grad(lambda w: m.f(y, X, w)))(W)
    for k in range(4):
        close(batched[k], cr.derivative(f, "w").evaluate({**at, "w": W[k].numpy()}))


def test_torch_vmap_through_the_one_pass_derivative_of_tanh(generated):
    # the backward's torch.ops.aten.tanh_backward (codegen/targets.py's derivatives) under vmap, by a weight matrix
    text, wrt, decls = next(r for r in CORPUS if r[0] == "sum(sum(V.*tanh(X*W + b')))")
    f, at, _ = _expected(text, wrt, decls)
    m = generated(text, wrt, decls, "torch")
    assert "torch.ops.aten.tanh_backward(" in m.SOURCE
    fixed = {k: torch.tensor(v) for k, v in at.items() if k != "W"}
    W = torch.tensor(np.random.default_rng(3).standard_normal((4, *at["W"].shape)))
    batched = torch.func.vmap(torch.func.grad(lambda w: m.f(W=w, **fixed)))(W)
    for k in range(4):
        close(batched[k], cr.derivative(f, "W").evaluate({**at, "W": W[k].numpy()}))


@pytest.mark.parametrize("row", CORPUS, ids=[ident(r) for r in CORPUS])
def test_jax_value_and_grad(generated, row):
    text, wrt, decls = row
    f, at, grads = _expected(text, wrt, decls)
    m = generated(text, wrt, decls, "jax")
    arrays = {k: jnp.asarray(v) for k, v in at.items()}
    value, g = m.value_and_grad(**arrays)
    close(value, f.evaluate(at))
    for name, gi in zip(wrt, g if len(wrt) > 1 else (g,), strict=True):
        close(gi, grads[name])
    every = jax.grad(m.f, argnums=tuple(range(len(arrays))))(*arrays.values())
    for name, gi in zip(f.variables, every, strict=True):
        close(gi, grads[name])


@pytest.mark.parametrize("row", SUBSET, ids=[ident(r) for r in SUBSET])
def test_jax_check_grads_second_order_and_jit(generated, row):
    text, wrt, decls = row
    _, at, grads = _expected(text, wrt, decls)
    m = generated(text, wrt, decls, "jax")
    arrays = tuple(jnp.asarray(v) for v in at.values())
    check_grads(m.f, arrays, order=2, modes=["fwd", "rev"])
    g = jax.jit(m.grad)(*arrays)
    for name, gi in zip(wrt, g if len(wrt) > 1 else (g,), strict=True):
        close(gi, grads[name])


def test_jax_vmap(generated):
    text, wrt, decls = "log(sum(exp(A*x)))", ("x",), {}
    f, at, _ = _expected(text, wrt, decls)
    m = generated(text, wrt, decls, "jax")
    xs = np.random.default_rng(3).standard_normal((4, *at["x"].shape))
    batched = jax.vmap(jax.grad(m.f, argnums=1), in_axes=(None, 0))(jnp.asarray(at["A"]), jnp.asarray(xs))
    for k in range(4):
        close(batched[k], cr.derivative(f, "x").evaluate({**at, "x": xs[k]}))


def test_torch_and_jax_shape_checks_name_the_dimensions(generated):
    for target, array in (("torch", torch.zeros), ("jax", jnp.zeros)):
        m = generated("sum(log(1+exp(-y.*(X*w))))", ("w",), {}, target)
        with pytest.raises(ValueError, match=r"y is 4, so X must have 4 rows \(dimension n\), not shape \(5, 3\)"):
            m.f(array(4), array((5, 3)), array(3))
        with pytest.raises(ValueError, match=r"X is 5×3, so w must have 3 entries \(dimension m\), not shape \(2,\)"):
            m.grad(array(5), array((5, 3)), array(2))
        with pytest.raises(ValueError, match=r"X must be a matrix, not an array of shape \(5,\)"):
            m.f(array(5), array(5), array(3))
