"""The generated modules' shape checks at entry, over generated declarations: arguments are accepted exactly when their
shapes fit the declared dimensions (a dimension named in several places, in one argument or in several, has one size;
a number is that size; none is empty) and hold real numbers, the fast test and the detailed check agree, and a
rejection names what differs; on every target."""
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chainrule as cr

DIMENSIONS = ("n", "m", 2)
NAMES = ("a", "b", "c")
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@st.composite
def declarations(draw) -> dict[str, tuple]:
    """One to three variables, scalars to 3-tensors, over two named dimensions and one fixed: square matrices, a
    dimension shared by several arguments, and ones named once all occur."""
    count = draw(st.integers(1, len(NAMES)))
    return {name: tuple(draw(st.lists(st.sampled_from(DIMENSIONS), max_size=3))) for name in NAMES[:count]}


@st.composite
def shapes(draw, decls: dict[str, tuple]) -> dict[str, tuple]:
    """A shape per variable: of its declared rank mostly, each axis 1 to 3 long (so that sizes agree by chance too), or
    now and then empty."""
    found = {}
    for name, dims in decls.items():
        rank = draw(st.sampled_from([len(dims)] * 4 + [max(len(dims) - 1, 0), len(dims) + 1]))
        found[name] = tuple(draw(st.lists(st.sampled_from([1, 2, 3] * 3 + [0]), min_size=rank, max_size=rank)))
    return found


def expression(decls: dict[str, tuple]) -> str:
    """A scalar that reads every variable."""
    return " + ".join("sum(" * len(dims) + name + ")" * len(dims) for name, dims in decls.items())


def sizes_if_fit(decls: dict[str, tuple], found: dict[str, tuple]) -> dict | None:
    """The named dimensions' sizes when the shapes fit the declarations, else None: the rule the checks implement."""
    size: dict = {}
    for name, dims in decls.items():
        if len(found[name]) != len(dims) or 0 in found[name]:
            return None
        for d, n in zip(dims, found[name], strict=True):
            if (d if isinstance(d, int) else size.setdefault(d, n)) != n:
                return None
    return size


def _library(target: str):
    """(ones(shape, kind): an array of the target's kind, "real" or "complex"; the module's entry that returns the
    sizes)."""
    if target == "numpy":
        return (lambda shape, kind: np.ones(shape, complex if kind == "complex" else float)), "_arrays"
    if target == "torch":
        torch = pytest.importorskip("torch")
        dtypes = {"real": torch.float64, "complex": torch.complex128}
        return (lambda shape, kind: torch.ones(shape, dtype=dtypes[kind])), "_sizes"
    jnp = pytest.importorskip("jax.numpy")
    return (lambda shape, kind: jnp.ones(shape, jnp.complex64 if kind == "complex" else jnp.float32)), "_sizes"


@pytest.mark.parametrize("target", ["numpy", "torch", "jax"])
@FAST
@given(st.data())
def test_arguments_are_accepted_exactly_when_their_shapes_fit_the_declarations(target, data):
    ones, entry = _library(target)
    decls = data.draw(declarations())
    found = data.draw(shapes(decls))
    kinds = {name: data.draw(st.sampled_from(["real"] * 4 + ["complex"])) for name in decls}
    m = cr.compile(cr.parse(expression(decls), **decls), [next(iter(decls))], target)
    arrays = [ones(found[name], kinds[name]) for name in decls]
    expected = sizes_if_fit(decls, found)
    complex_ = [name for name in decls if kinds[name] == "complex"]
    if expected is None or complex_:
        # the first argument that does not fit is named, whether by its shape or by its complex entries
        refusals = [f"{name} must" for name in decls] + [f"{name} is empty" for name in decls] + \
            [f"{name} has complex entries" for name in complex_]
        with pytest.raises(ValueError, match="|".join(map(re.escape, refusals))):
            m.f(*arrays)
        return
    # the fast test passes (the detailed check would return its own records of where each size was read too)
    result = getattr(m, entry)(*arrays)
    assert (result[-1] if target == "numpy" else result) == expected
    np.testing.assert_allclose(np.asarray(m.f(*arrays)), sum(float(np.sum(np.asarray(a))) for a in arrays),
                               rtol=1e-6)


def test_a_square_matrix_must_be_square_on_every_target(generated):
    # the fast test once compared a matrix's second dimension with nothing when its first was read from it too: a
    # 3×4 "square" matrix reached the operations, and the gradient of tr(A) by it was a 3×3 identity, that of
    # sum(sum(A)) a 3×3 matrix of ones, without an error
    for target in ("numpy", "torch", "jax"):
        if target != "numpy":
            pytest.importorskip(target)
        m = generated("tr(A) + x'*A*x", ("A",), {"A": ("n", "n")}, target)
        with pytest.raises(ValueError, match=re.escape("A must have 3 columns, as many as its rows (dimension n), "
                                                       "not shape (3, 4)")):
            m.grad(np.ones((3, 4)), np.ones(3))


def test_empty_arguments_are_refused_on_every_target(generated):
    # evaluate refuses them; generated code once returned log(0) = -inf for log(sum(exp(x))) of an empty x, 0 for the
    # sum of an empty matrix's entries, and a reduction error of the library's for max(x)
    for target in ("numpy", "torch", "jax"):
        if target != "numpy":
            pytest.importorskip(target)
        m = generated("log(sum(exp(A*x))) + max(x)", ("x",), {"A": ("m", "n")}, target)
        for a, x in ((np.ones((0, 2)), np.ones(2)), (np.ones((2, 0)), np.ones(0))):
            message = f"A is empty (shape {a.shape}): every dimension needs at least one entry"
            for call in (m.f, m.grad, m.value_and_grad):
                with pytest.raises(ValueError, match=re.escape(message)):
                    call(a, x)


def test_complex_arguments_are_refused_on_every_target_never_cut_to_their_real_parts(generated):
    # NumPy's conversion to float, and torch.as_tensor to a real dtype, keep the real parts alone (with a warning):
    # exp of the real part came back as if it were the answer
    message = "{} has complex entries: the expression and its derivatives are taken over the reals"
    z = np.array([1 + 2j, 0.5])
    m = generated("sum(exp(x))", ("x",), {}, "numpy", hvp=True)
    for call, name in ((lambda: m.f(z), "x"), (lambda: m.grad(z.tolist()), "x"), (lambda: m.hvp(np.ones(2), v=z), "v")):
        with pytest.raises(ValueError, match=re.escape(message.format(name))):
            call()
    np.testing.assert_allclose(m.f(np.array([1.0, 0.5], dtype=np.float32)), np.exp(1) + np.exp(0.5), rtol=1e-6)
    torch = pytest.importorskip("torch")
    t = generated("sum(exp(x))", ("x",), {}, "torch")
    for value in (z, torch.tensor(z), 1 + 2j):
        with pytest.raises(ValueError, match=re.escape(message.format("x"))):
            t.f(value)
    jnp = pytest.importorskip("jax.numpy")
    j = generated("sum(exp(x))", ("x",), {}, "jax")
    with pytest.raises(ValueError, match=re.escape(message.format("x"))):
        j.f(jnp.asarray(z))


def test_a_symmetric_declaration_is_trusted_and_the_module_says_so(generated):
    # the derivatives use S' = S (2*S*x for x'*S*x); a check of every call would cost more than they do (np.allclose
    # of a 1000×1000 matrix with its transpose: 9 ms, S @ x: 0.3 ms), so the module states the trust instead
    m = generated("x'*S*x", ("x",), {"S": "symmetric"}, "numpy")
    assert "Trusted to be symmetric, as declared, and not checked: S." in " ".join(m.__doc__.split())
    rng = np.random.default_rng(0)
    b, x = rng.standard_normal((3, 3)), rng.standard_normal(3)
    s = (b + b.T) / 2
    np.testing.assert_allclose(m.grad(x, s), 2 * s @ x)
    with pytest.raises(cr.EvaluationError, match="declared symmetric but its value is not"):
        cr.parse("x'*S*x", S="symmetric").evaluate(x=x, S=b)
