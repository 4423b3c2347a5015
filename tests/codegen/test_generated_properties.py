"""Generated code over random expressions (the strategies of tests/strategies.py, scalar ones): every rewrite the
planner and the emitter apply (chain order, distribution, shared partial products and sums, inline broadcasts,
folded negations, coefficients) must compute what chainrule's evaluator computes, whatever sizes it was planned for.
Every target: the value, the gradients (through torch's backward and jax.grad too), every Hessian block and the HVP.

Variables are renamed now and then to names the generated code could give its own temporaries (`value`, `grad_x`,
`A_x`, `t0`, ...): a temporary never takes a name that is in use.

The dimensions are declared by name (3 is n, 4 is m) and the module is planned for sizes drawn independently of the
values it is then called with, so that the choices the flop model makes at n = 1 or 1000 are checked at n = 3 (an
expression that indexes needs numeric sizes: it is declared with them).
"""
from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from strategies import DECLARATIONS, Gen, S, determinants, expressions, kinks_ok, random_values, reference

import chainrule as cr
from chainrule.codegen import load

SETTINGS = {"deadline": None, "derandomize": True, "database": None,
            "suppress_health_check": [HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large]}
SEEDS = st.integers(0, 2**32 - 1)
LARGEST = 1e4
NAMED = {3: "n", 4: "m"}
PLANNING = st.sampled_from((1, 2, 3, 10, 1000, 100_000))
# names of temporaries in generated code: roots (value, grad_x), matrix products (A_x, x_A, At_B), functions of
# named values (exp_x), numbered temporaries of every function (t0 forward, u0 backward, d0 jvp)
TEMPORARY_NAMES = ("value", "grad_x", "grad_A", "grad_a", "A_x", "x_A", "At_B", "B_z", "exp_x", "t0", "u0", "d0")
RENAMES = st.lists(st.sampled_from(list(DECLARATIONS)) | st.none(), min_size=len(TEMPORARY_NAMES),
                   max_size=len(TEMPORARY_NAMES), unique_by=lambda v: v or object())


def _named(shape: tuple) -> tuple:
    return tuple(NAMED[d] for d in shape) if shape else "scalar"


def _prepare(e: Gen, seed: int, renames: list | None = None) -> tuple[cr.Expr, dict, list[str]]:
    """(the expression, its variables' values, the variables to differentiate by), the variables renamed: the k-th
    entry of `renames`, where it names one, takes TEMPORARY_NAMES[k]."""
    values = random_values(seed)
    _, largest = reference(e, values)
    assume(largest < LARGEST and kinks_ok(e, values))
    new = {old: name for old, name in zip(renames or [], TEMPORARY_NAMES, strict=False) if old is not None}
    rename = lambda v: new.get(v, v)   # noqa: E731
    text = re.sub(r"\b[A-Za-z_]\w*\b", lambda m: rename(m.group(0)) if m.group(0) in e.variables else m.group(0),
                  e.text)
    try:
        f = cr.parse(text, **{rename(v): _named(DECLARATIONS[v]) for v in e.variables})
    except cr.ShapeError:   # indexing needs numbers: the declared sizes, which the planner then uses
        f = cr.parse(text, **{rename(v): DECLARATIONS[v] for v in e.variables})
    wrt = sorted(rename(v) for v in e.variables)
    return f, {rename(v): values[v] for v in e.variables}, wrt


def _close(got, expected, what: str, rtol: float = 1e-8) -> None:
    got, expected = np.asarray(got, dtype=float), np.asarray(expected, dtype=float)
    assert got.shape == expected.shape, f"{what}: shape {got.shape}, expected {expected.shape}"
    scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    error = float(np.max(np.abs(got - expected), initial=0.0))
    assert error <= rtol * scale, \
        f"{what}: max abs error {error:.3e} (scale {scale:.3e})\ngot\n{got}\nexpected\n{expected}"


def _as_tuple(result, k: int) -> tuple:
    return tuple(result) if k > 1 else (result,)


@settings(max_examples=120, **SETTINGS)
@given(e=expressions(types=(S,)), seed=SEEDS, n=PLANNING, m=PLANNING, renames=RENAMES)
def test_generated_numpy_computes_what_evaluate_computes(e: Gen, seed: int, n: int, m: int, renames: list):
    f, at, wrt = _prepare(e, seed, renames)
    source = cr.codegen(f, wrt, "numpy", hessian=True, hvp=True, sizes={"n": n, "m": m})
    module = load(source)
    what = f"{e.text!r} planned for n={n}, m={m} (seed {seed})\n{source}"
    _close(module.f(**at), f.evaluate(at), f"value of {what}")
    grads = _as_tuple(module.grad(**at), len(wrt))
    value, both = module.value_and_grad(**at)
    _close(value, f.evaluate(at), f"value_and_grad's value of {what}")
    for var, g, g2 in zip(wrt, grads, _as_tuple(both, len(wrt)), strict=True):
        _close(g, cr.derivative(f, var).evaluate(at), f"gradient by {var} of {what}")
        _close(g2, g, f"value_and_grad's gradient by {var} of {what}")
    _check_second_order(module, f, at, wrt, np.random.default_rng(seed), what)


def _check_second_order(module, f: cr.Expr, at: dict, wrt: list[str], rng, what: str) -> None:
    """The module's hessian blocks and hvp against chainrule's second derivatives, evaluated."""
    hessians = module.hessian(**at)
    hessians = hessians if len(wrt) > 1 else ((hessians,),)
    directions = tuple(rng.standard_normal(np.shape(at[v])) for v in wrt)
    products = _as_tuple(module.hvp(**at, v=directions if len(wrt) > 1 else directions[0]), len(wrt))
    for i, vi in enumerate(wrt):
        expected_product = 0.0
        for j, vj in enumerate(wrt):
            h = cr.derivative(cr.derivative(f, vi), vj).evaluate(at)
            _close(hessians[i][j], h, f"Hessian block ({vi}, {vj}) of {what}")
            expected_product = expected_product + np.tensordot(h, directions[j], axes=np.ndim(at[vj]))
        _close(products[i], expected_product, f"HVP block {vi} of {what}")


@settings(max_examples=120, **SETTINGS)
@given(e=expressions(types=(S,)), seed=SEEDS, n=PLANNING, m=PLANNING, renames=RENAMES)
def test_generated_torch_computes_what_evaluate_computes(e: Gen, seed: int, n: int, m: int, renames: list):
    torch = pytest.importorskip("torch")
    f, at, wrt = _prepare(e, seed, renames)
    module = cr.compile(f, wrt, "torch", hessian=True, hvp=True, sizes={"n": n, "m": m})
    what = f"{e.text!r} planned for n={n}, m={m} (seed {seed})"
    tensors = {k: torch.tensor(v, dtype=torch.float64, requires_grad=k in wrt) for k, v in at.items()}
    value = module.f(**tensors)
    _close(value.detach().numpy(), f.evaluate(at), f"value of {what}")
    backward = torch.autograd.grad(value, [tensors[v] for v in wrt], allow_unused=True)
    plain = _as_tuple(module.grad(**{k: t.detach() for k, t in tensors.items()}), len(wrt))
    for var, g, g2 in zip(wrt, backward, plain, strict=True):
        expected = cr.derivative(f, var).evaluate(at)
        _close(torch.zeros_like(tensors[var]) if g is None else g, expected, f"backward by {var} of {what}")
        _close(g2, expected, f"grad by {var} of {what}")
    _check_second_order(module, f, at, wrt, np.random.default_rng(seed), what)


@settings(max_examples=40, **SETTINGS)
@given(e=expressions(types=(S,)), seed=SEEDS, n=PLANNING, m=PLANNING, renames=RENAMES)
def test_generated_jax_computes_what_evaluate_computes(e: Gen, seed: int, n: int, m: int, renames: list):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    f, at, wrt = _prepare(e, seed, renames)
    module = cr.compile(f, wrt, "jax", hessian=True, hvp=True, sizes={"n": n, "m": m})
    what = f"{e.text!r} planned for n={n}, m={m} (seed {seed})"
    _close(module.f(**at), f.evaluate(at), f"value of {what}")
    grads = _as_tuple(module.grad(**at), len(wrt))
    # the generated function is a JAX function too: jax.grad differentiates it through the same code
    traced = jax.grad(lambda *xs: module.f(**dict(zip(wrt, xs, strict=True))), argnums=tuple(range(len(wrt))))
    for var, g, t in zip(wrt, grads, traced(*(at[v] for v in wrt)), strict=True):
        expected = cr.derivative(f, var).evaluate(at)
        _close(g, expected, f"grad by {var} of {what}")
        _close(t, expected, f"jax.grad by {var} of {what}", rtol=1e-6)
    _check_second_order(module, f, at, wrt, np.random.default_rng(seed), what)


@settings(max_examples=30, **SETTINGS)
@given(e=determinants(), seed=SEEDS, n=PLANNING, m=PLANNING)
@pytest.mark.parametrize("target", ["numpy", "torch", "jax"])
def test_generated_derivatives_of_det_at_and_near_singular_matrices(target: str, e: Gen, seed: int, n: int, m: int):
    """det and the sum of its gradient inside random expressions, at matrices that are singular (C*B always; A for
    some seeds, with an exact zero pivot in its LU factors for some) or nearly so: the value, the gradients, every
    Hessian block and the HVP of each target (JAX's own second derivative of det is NaN at an exact zero pivot, torch's
    third is wrong everywhere: the generated code must use neither)."""
    if target != "numpy":
        framework = pytest.importorskip(target)
        if target == "jax":
            framework.config.update("jax_enable_x64", True)
    f, at, wrt = _prepare(e, seed)
    module = cr.compile(f, wrt, target, hessian=True, hvp=True, sizes={"n": n, "m": m})
    what = f"{e.text!r} planned for n={n}, m={m} (seed {seed}), {target}"
    _close(np.asarray(module.f(**at)), f.evaluate(at), f"value of {what}")
    for var, g in zip(wrt, _as_tuple(module.grad(**at), len(wrt)), strict=True):
        _close(np.asarray(g), cr.derivative(f, var).evaluate(at), f"gradient by {var} of {what}")
    _check_second_order(module, f, at, wrt, np.random.default_rng(seed), what)
