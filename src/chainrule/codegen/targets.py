"""The three targets: how NumPy, PyTorch and JAX write each array operation the generated code uses.

A target is a table of small writers (Code -> Code), one per operation of the straight-line program: the element-wise
functions (FUNCTIONS, one row per function of ir/elementwise.py), the linear algebra, and the few pieces of a
contraction (transpose, sum, matmul, tensordot, einsum, placing a value on a diagonal). Everything that differs
between the libraries lives here; codegen/emit.py and codegen/contract.py decide *what* to compute, the same for all.

Helpers (a numerically stable sigmoid for NumPy, ...) are small functions written into the generated module once,
only when used; `Writer.use(name)` records that.

>>> w = Writer(TARGETS["numpy"])
>>> w.map("sigmoid", atom("x")).text, sorted(w.helpers)
('_sigmoid(x)', ['_sigmoid'])
>>> Writer(TARGETS["torch"]).sum(atom("A"), (0,)).text
'torch.sum(A, dim=(0,))'
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .code import ATOM, Code, atom, attribute, call, number, times, wrap

Unary = Callable[[Code], Code]


def _fn(name: str) -> Unary:
    return lambda x: call(name, x)


def _method(suffix: str) -> Unary:
    return lambda x: attribute(x, suffix)


# ---- helpers written into a generated module when used ----

def _embed_helper(zeros: str, ndim: str, arange: str, place: str, fixed: str = "-1 - w") -> str:
    """The source of one library's `_embed`: the same algorithm, written with that library's zeros, rank, arange,
    fixed index (torch's index_put takes tensors only) and indexed assignment."""
    return f'''def _embed(value, shape, where):
    # zeros of `shape` with `value` placed where output axis k runs along value's axis where[k] (several output axes
    # on one value axis: a diagonal), or sits at the fixed index -1 - where[k] (a unit vector's entry)
    result = {zeros}
    index = []
    for k, w in enumerate(where):
        if w < 0:
            index.append({fixed})
        else:
            axes = [1] * {ndim}
            axes[w] = shape[k]
            index.append({arange}.reshape(axes))
    {place}'''


def _cofactor_along_source(lib: str, arange: str, axis: str, cat: str, flip: str, name: str) -> str:
    """D2det(a) against a matrix da in O(n^3) through the SVD, as a function `name`, written with the library's
    arange, axis keyword, concatenation and flip axis."""
    return f'''def {name}(a, da):
    # the derivative of the cofactor matrix along da, sum over c, d of D2det(a)[i, j, c, d] da[c, d], in O(n^3)
    # through the SVD a = U diag(s) V': with e = U' da V and q[r, c] the product of the s_m with m neither r nor c
    # (q[r, r] = 0), it is sign * U (diag(q diagonal(e)) - q .* e') V'
    n = a.shape[-1]
    u, s, vt = {lib}.linalg.svd(a)
    e = u.T @ da @ vt.T
    index = {arange}
    eye = index[:, None] == index
    r = {lib}.where(eye, 1.0, s)            # row c: the s_m, with s_c replaced by 1
    ones = {lib}.ones_like(r[:, :1])
    before = {cat}([ones, {lib}.cumprod(r[:, :-1], {axis}=1)], {axis}=1)
    after = {cat}([{lib}.flip({lib}.cumprod({lib}.flip(r[:, 1:], {flip}), {axis}=1), {flip}), ones], {axis}=1)
    q = {lib}.where(eye, 0.0, before * after)
    rotated = {lib}.where(eye, (q @ {lib}.diagonal(e))[:, None], 0.0) - q * e.T
    return {lib}.sign({lib}.linalg.det(u) * {lib}.linalg.det(vt)) * (u @ rotated @ vt)'''


def _det_helpers(lib: str, arange: str, axis: str, cat: str, zeros: str, flip: str) -> str:
    """The source shared by torch's and JAX's derivatives of det: the dense k-th derivative tensor and the second
    derivative along a direction, both through the SVD, written with the library's arange, axis keyword,
    concatenation, zeros and flip axis."""
    return f'''def _det_tensor(a, k):
    # the k-th derivative tensor of det at a (k >= 2), shape (n, n) * k, entry [i1, j1, ..., ik, jk], through the SVD
    # a = U diag(s) V' (exact at singular matrices): sign * sum over the orderings p of 1..k of parity(p) times
    # sum over r1..rk of q[r1..rk] U[i1, r1] V[j1, r_p(1)] ... U[ik, rk] V[jk, r_p(k)], where q[r1..rk] is the
    # product of the s_m with m not among the r's (0 where two r's agree) and sign = det(U) det(V') = +-1
    import itertools
    n = a.shape[-1]
    if k > n:
        return {zeros.format(shape="(n, n) * k")}   # det is a polynomial of degree n
    u, s, vt = {lib}.linalg.svd(a)
    index = {arange}
    rows = [index.reshape([n if i == j else 1 for i in range(k)]) for j in range(k)]
    taken = sum(r[..., None] == index for r in rows)
    q = {lib}.prod({lib}.where(taken > 0, 1.0, s), {axis}=-1)
    for x in range(k):
        for y in range(x):
            q = {lib}.where(rows[x] == rows[y], 0.0, q)
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    sums, out_rows, out_cols = letters[:k], letters[k:2 * k], letters[2 * k:3 * k]
    output = "".join(i + j for i, j in zip(out_rows, out_cols, strict=True))
    result = 0.0
    for p in itertools.permutations(range(k)):
        parity = (-1.0) ** sum(p[x] > p[y] for x in range(k) for y in range(x + 1, k))
        operands = [sums, *(out_rows[m] + sums[m] for m in range(k)), *(out_cols[m] + sums[p[m]] for m in range(k))]
        result = result + parity * {lib}.einsum(",".join(operands) + "->" + output, q, *[u] * k, *[vt.T] * k)
    return {lib}.sign({lib}.linalg.det(u) * {lib}.linalg.det(vt)) * result


{_cofactor_along_source(lib, arange, axis, cat, flip, "_cofactor_along_value")}'''


def _torch_det_helpers(jvp: bool) -> str:
    """torch's derivatives of det: autograd functions whose derivative is the next derivative of det (torch's own
    derivatives of det are wrong from the third on), with a forward-mode jvp only in a module that asks for one
    (Dynamo refuses an autograd function with a custom jvp)."""
    det_jvp = """

    @staticmethod
    def jvp(ctx, da, _):
        a, = ctx.saved_tensors
        return _det_along(a, ctx.k, da)""" if jvp else ""
    along_jvp = """

    @staticmethod
    def jvp(ctx, ta, tda):
        a, da = ctx.saved_tensors
        return _third_along(a, ta, da) + _CofactorAlong.apply(a, tda)""" if jvp else ""
    forward_a = "\n        ctx.save_for_forward(inputs[0])" if jvp else ""
    forward_both = "\n        ctx.save_for_forward(*inputs)" if jvp else ""
    return _det_helpers("torch", "torch.arange(n, device=a.device)", "dim", "torch.cat", "a.new_zeros({shape})",
                        "dims=(1,)") + f'''


class _DetDerivative(torch.autograd.Function):
    """D^k det(a), shape (n, n) * k (k = 1: the cofactor matrix, torch's own derivative of det; k >= 2: _det_tensor),
    whose derivative is the next one, D^(k+1) det(a)."""

    generate_vmap_rule = True

    @staticmethod
    def forward(a, k):
        return torch.func.grad(torch.linalg.det)(a) if k == 1 else _det_tensor(a, k)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[0]){forward_a}
        ctx.k = inputs[1]

    @staticmethod
    def backward(ctx, g):
        # g against the first k pairs of axes of D^(k+1) det(a) (for k = 1, D2det is symmetric in its two pairs)
        a, = ctx.saved_tensors
        k, n = ctx.k, a.shape[-1]
        if k >= n:
            return torch.zeros_like(a), None
        if k == 1:
            return _CofactorAlong.apply(a, g), None
        return torch.tensordot(g, _DetDerivative.apply(a, k + 1), dims=2 * k), None{det_jvp}


def _det_along(a, k, da):
    # the last pair of axes of D^(k+1) det(a) against da: the derivative of D^k det(a) along da
    n = a.shape[-1]
    if k >= n:
        return a.new_zeros((n, n) * k)
    if k == 1:
        return _CofactorAlong.apply(a, da)
    return torch.tensordot(_DetDerivative.apply(a, k + 1), da, dims=2)


def _third_along(a, ta, da):
    # D3det(a) against ta and da: the derivative of _cofactor_along_value(a, da) along ta
    return torch.tensordot(_det_along(a, 2, ta), da, dims=2)


class _CofactorAlong(torch.autograd.Function):
    """D2det(a) against da (_cofactor_along_value), linear in da and, along a, the third derivative of det."""

    generate_vmap_rule = True

    @staticmethod
    def forward(a, da):
        return _cofactor_along_value(a, da)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(*inputs){forward_both}

    @staticmethod
    def backward(ctx, g):
        a, da = ctx.saved_tensors
        needs = ctx.needs_input_grad
        return (_third_along(a, g, da) if needs[0] else None,
                _CofactorAlong.apply(a, g) if needs[1] else None){along_jvp}


def _det_derivative(a, k):
    return _DetDerivative.apply(a, k)


def _cofactor_along(a, da):
    return _CofactorAlong.apply(a, da)'''


_JAX_DET_HELPERS = _det_helpers("jnp", "jnp.arange(n)", "axis", "jnp.concatenate", "jnp.zeros({shape}, dtype=a.dtype)",
                                "axis=1") + '''


def _det_derivative_value(a, k):
    # D^k det(a), shape (n, n) * k: for k = 1 the cofactor matrix, JAX's own derivative of det; for k >= 2 _det_tensor
    return jax.grad(jnp.linalg.det)(a) if k == 1 else _det_tensor(a, k)


# the derivative of each derivative of det is the next one: JAX's own second derivative of det is NaN where its LU
# factors have an exact zero pivot
_det_derivative = jax.custom_jvp(_det_derivative_value, nondiff_argnums=(1,))
_cofactor_along = jax.custom_jvp(_cofactor_along_value)


def _det_along(a, k, da):
    # the last pair of axes of D^(k+1) det(a) against da: the derivative of D^k det(a) along da
    n = a.shape[-1]
    if k >= n:
        return jnp.zeros((n, n) * k, dtype=a.dtype)
    if k == 1:
        return _cofactor_along(a, da)
    return jnp.tensordot(_det_derivative(a, k + 1), da, axes=2)


def _det_derivative_jvp(k, primals, tangents):
    (a,), (da,) = primals, tangents
    return _det_derivative(a, k), _det_along(a, k, da)


def _cofactor_along_jvp(primals, tangents):
    # linear in da; along a, the third derivative of det
    (a, da), (ta, tda) = primals, tangents
    return _cofactor_along(a, da), jnp.tensordot(_det_along(a, 2, ta), da, axes=2) + _cofactor_along(a, tda)


_det_derivative.defjvp(_det_derivative_jvp)
_cofactor_along.defjvp(_cofactor_along_jvp)'''


def _ismax_helper(largest: str, keep: str, cast: str) -> str:
    """ismax: x compared with its own maximum (one of its numbers, so equal exactly), 1.0 or 0.0 in x's dtype."""
    return f'''def _ismax(x, axes):
    # 1 where an entry of x is the largest over axes, else 0
    return (x == {largest}(x, {keep}=True)){cast}'''


_NUMPY_HELPERS = {
    "_ismax": _ismax_helper("np.max", "axis=axes, keepdims", ".astype(x.dtype)"),
    "_cofactor_along": _cofactor_along_source("np", "np.arange(n)", "axis", "np.concatenate", "axis=1",
                                              "_cofactor_along"),
    "_erf": '''def _erf(x):
    from scipy.special import erf   # SciPy only in a module that uses erf
    return erf(x)''',
    "_sigmoid": '''def _sigmoid(x):
    # 1/(1+exp(-x)) for x >= 0 and exp(x)/(1+exp(x)) below: one exp of a non-positive number, never overflows
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0, e) / (1.0 + e)''',
    "_logsumexp": '''def _logsumexp(x, axis=None):
    # log(sum(exp(x))) = m + log(sum(exp(x - m))) with m = max(x) along axis: no overflow (m not finite: unshifted)
    if axis is None:
        # over every entry m is a number, tested in Python; where it is finite, sum(exp(x - m)) >= 1, so math.log
        # (much cheaper than np.log on a number) is defined
        m = x.max()
        if math.isfinite(m):
            return m + math.log(np.exp(x - m).sum())
        return np.log(np.exp(x).sum())
    # along axes, one test of the maxima's sum (finite when every maximum is) skips the where in the usual case;
    # array methods, not np.max/np.sum, spare the wrappers' cost on small arrays
    m = x.max(axis=axis, keepdims=True)
    if not math.isfinite(m.sum()):
        m = np.where(np.isfinite(m), m, 0.0)
    s = np.exp(x - m).sum(axis=axis)
    return np.log(s) + m.reshape(s.shape)''',
    "_norm2": '''def _norm2(x):
    # sqrt(sum(x.^2)) computed as s*sqrt(sum((x/s).^2)) with s = max|x|: finite wherever the result is
    s = np.max(np.abs(x)) if np.size(x) else 0.0
    if s == 0.0 or not np.isfinite(s):
        return np.float64(s)
    return s * np.sqrt(np.sum(np.square(x / s)))''',
    "_unit": '''def _unit(x):
    # x/norm2(x), and 0 at x = 0
    s = np.max(np.abs(x)) if np.size(x) else 0.0
    if s == 0.0:
        return np.zeros_like(x)
    y = x / s
    return y / np.sqrt(np.sum(np.square(y)))''',
    "_logdet": '''def _logdet(a):
    # log(det(a)), NaN where det(a) <= 0
    sign, value = np.linalg.slogdet(a)
    return np.where(sign > 0, value, np.nan)''',
    "_cofactor": '''def _cofactor(a):
    # the cofactor matrix (the derivative of det) through the SVD a = U diag(s) V': sign * U diag(prod_{m != k} s_m) V',
    # exact at singular matrices, where det(a) inv(a)' fails
    u, s, vt = np.linalg.svd(a)
    before = np.concatenate(([1.0], np.cumprod(s[:-1])))
    after = np.concatenate((np.cumprod(s[::-1][:-1])[::-1], [1.0]))
    return np.sign(np.linalg.det(u) * np.linalg.det(vt)) * (u * (before * after)) @ vt''',
    "_det_derivative": '''def _det_derivative(a, k):
    # the k-th derivative tensor of det (k >= 2), shape (n, n) * k, through the SVD a = U diag(s) V' (exact at singular
    # matrices): at diag(s), entry [a1, b1, ..., ak, bk] is nonzero only where the rows a_m are distinct and the
    # columns b_m a permutation of them, and is then the product of both parities and of the s_m outside the rows;
    # every row axis is then turned by U and every column axis by V
    import itertools
    import math
    n = a.shape[0]
    if k > n:
        return np.zeros((n, n) * k)   # det is a polynomial of degree n
    u, s, vt = np.linalg.svd(a)
    perms = np.array(list(itertools.permutations(range(k))))
    parity = np.array([(-1.0) ** sum(p[x] > p[y] for x in range(k) for y in range(x + 1, k)) for p in perms])
    result = np.zeros((n, n) * k)
    for subset in itertools.combinations(range(n), k):
        outside = math.prod(s[m] for m in range(n) if m not in subset)
        chosen = np.array(subset)[perms]
        index = []
        for m in range(k):
            index += [chosen[:, m][:, None], chosen[:, m][None, :]]
        result[tuple(index)] = np.outer(parity, parity) * outside
    for axis in range(2 * k):
        frame = u if axis % 2 == 0 else vt.T
        result = np.moveaxis(np.tensordot(frame, result, axes=(1, axis)), 0, axis)
    return np.sign(np.linalg.det(u) * np.linalg.det(vt)) * result''',
    "_embed": '''def _embed(value, shape, where):
    # zeros of `shape` with `value` placed where output axis k runs along value's axis where[k] (several output axes
    # on one value axis: a diagonal), or sits at the fixed index -1 - where[k] (a unit vector's entry)
    result = np.zeros(shape)
    fixed = tuple(-1 - w if w < 0 else slice(None) for w in where)
    if all(w < 0 for w in where):
        result[fixed] = value
        return result
    # einsum of one operand that sums nothing returns a writable view ("aba->ab": the entries [i, j, i]): the value is
    # written there with no index arrays
    letters = "".join("abcdefghijklmnopqrstuvwxyz"[w] for w in where if w >= 0)
    np.einsum(letters + "->" + "abcdefghijklmnopqrstuvwxyz"[:np.ndim(value)], result[fixed])[...] = value
    return result''',
}

# the standard-library modules a NumPy helper uses, imported at the top of a module that uses it
HELPER_IMPORTS = {"_logsumexp": "math"}

_TORCH_HELPERS = {
    "_unit": '''def _unit(x):
    # x/norm2(x), and 0 at x = 0
    return x / torch.clamp(torch.linalg.vector_norm(x), min=torch.finfo(x.dtype).tiny)''',
    "_det_derivative": _torch_det_helpers(jvp=False),
    "_ismax": _ismax_helper("torch.amax", "dim=axes, keepdim", ".to(x.dtype)"),
    "_embed": _embed_helper("value.new_zeros(shape)", "value.dim()", "torch.arange(shape[k], device=value.device)",
                            "return result.index_put(tuple(index), value)",
                            "torch.tensor(-1 - w, device=value.device)"),
}

# a torch module with a forward-mode jvp: its helpers' autograd functions have one too (forward over reverse)
TORCH_JVP_HELPERS = {"_det_derivative": _torch_det_helpers(jvp=True)}

_JAX_HELPERS = {
    "_unit": '''def _unit(x):
    # x/norm2(x), and 0 at x = 0
    return x / jnp.maximum(jnp.linalg.norm(x), jnp.finfo(x.dtype).tiny)''',
    "_logdet": '''def _logdet(a):
    # log(det(a)), NaN where det(a) <= 0
    sign, value = jnp.linalg.slogdet(a)
    return jnp.where(sign > 0, value, jnp.nan)''',
    "_det_derivative": _JAX_DET_HELPERS,
    "_ismax": _ismax_helper("jnp.max", "axis=axes, keepdims", ".astype(x.dtype)"),
    "_embed": _embed_helper("jnp.zeros(shape, dtype=value.dtype)", "value.ndim", "jnp.arange(shape[k])",
                            "return result.at[tuple(index)].set(value)"),
}


@dataclass(frozen=True)
class Target:
    """One library: its name in the generated code, its imports, its element-wise functions and helpers."""
    name: str
    lib: str                       # the module alias the code calls: np, torch, jnp
    imports: tuple[str, ...]
    axis: str                      # the keyword of a reduction's axes: axis (NumPy, JAX) or dim (torch)
    functions: dict[str, Unary]    # one per ir/elementwise.py ELEMENTWISE row
    helpers: dict[str, str]
    path_einsum: bool              # einsum takes a precomputed contraction path (NumPy's optimize=[...])
    # the test, in the shape check at entry, that an argument holds complex numbers (sent on to the detailed check,
    # which refuses them); NumPy's entry converts every array that is not float64, refusing complex ones there
    complex_test: str = ""
    # element-wise function -> the library's one-pass operation (g, f(x)) -> g .* f'(x), for the functions whose
    # derivative rule (ir/elementwise.py) is written from the value f(x) alone: a backward pass's g .* (1 - y.^2)
    # for tanh is then one pass over the arrays, not three (y.^2, 1 - that, g .* that)
    derivatives: dict[str, str] = field(default_factory=dict)


def _elementwise(lib: str, overrides: dict[str, Unary]) -> dict[str, Unary]:
    common = {name: _fn(f"{lib}.{name}") for name in ("exp", "log", "sin", "cos", "tan", "arcsin", "arccos", "arctan",
                                                       "tanh", "sqrt", "abs", "sign", "log1p", "expm1")}
    return {**common, **overrides}


NUMPY = Target(
    "numpy", "np", ("import numpy as np",), "axis",
    _elementwise("np", {
        "relu": lambda x: call("np.maximum", x, "0.0"),
        "step": lambda x: atom(f"np.greater({x.text}, 0.0).astype(float)"),
        "sigmoid": _fn("_sigmoid"),
        "softplus": lambda x: call("np.logaddexp", "0.0", x),
        "erf": _fn("_erf"),
    }),
    _NUMPY_HELPERS, True)

TORCH = Target(
    "torch", "torch", ("import torch",), "dim",
    _elementwise("torch", {
        "arcsin": _fn("torch.asin"), "arccos": _fn("torch.acos"), "arctan": _fn("torch.atan"),
        "relu": _fn("torch.relu"),
        "step": lambda x: atom(f"torch.gt({x.text}, 0).to({wrap(x, ATOM)}.dtype)"),
        "sigmoid": _fn("torch.sigmoid"),
        "softplus": lambda x: atom(f"torch.logaddexp({x.text}, torch.zeros_like({x.text}))"),
        "erf": _fn("torch.erf"),
    }),
    _TORCH_HELPERS, False, "{}.is_complex()",
    # the operation of torch's own backward formula for tanh: differentiable (double backward), with a vmap batching
    # rule and torch.compile support, on every device. (Not sigmoid's: its rule y .* (1 - y) is simplified to
    # sigmoid(x) .* sigmoid(-x), exact where y rounds to 1, which torch's sigmoid_backward is not.)
    {"tanh": "torch.ops.aten.tanh_backward"})

JAX = Target(
    "jax", "jnp", ("import jax", "import jax.numpy as jnp"), "axis",
    _elementwise("jnp", {
        "relu": lambda x: call("jnp.maximum", x, "0.0"),
        "step": lambda x: atom(f"jnp.greater({x.text}, 0).astype({wrap(x, ATOM)}.dtype)"),
        "sigmoid": _fn("jax.nn.sigmoid"),
        "softplus": lambda x: call("jnp.logaddexp", x, "0.0"),
        "erf": _fn("jax.scipy.special.erf"),
    }),
    _JAX_HELPERS, False, "jnp.iscomplexobj({})")

TARGETS: dict[str, Target] = {t.name: t for t in (NUMPY, TORCH, JAX)}


def _axis_argument(axes: tuple[int, ...], rank: int) -> tuple[str, ...]:
    """A NumPy or JAX reduction's axis argument: none when it runs over every axis."""
    return () if len(axes) == rank else (f"axis={axes}",)


def _torch_dims(axes: tuple[int, ...], rank: int) -> str:
    """A torch reduction's dim argument. torch's logsumexp and amax need one: over every axis it names them all
    (a scalar's or a vector's is 0), where a flattening reshape would copy an array that is not contiguous."""
    return "0" if rank <= 1 else f"dim={axes}"


N = TypeVar("N")


@dataclass
class Writer:
    """Writes the operations of one generated function for one target, recording the helpers it uses.

    `like` names an input array whose dtype and device new arrays take (torch, JAX); `dim(d)` is the code of the size
    of dimension d at run time."""
    target: Target
    like: str = "x"
    dim: Callable[[object], str] = field(default=str)
    helpers: set[str] = field(default_factory=set)
    notes: set[str] = field(default_factory=set)     # the rewrites applied, for the module's docstring
    # each node's comment, by id (the node kept, so that its id stays its own): a module's programs (forward,
    # backward, grad, value_and_grad) share most of their nodes, and printing one costs a walk of its graph
    comments: dict[int, tuple[Any, str]] = field(default_factory=dict)
    # each product layout's multiply-adds, weighed once for the module's programs (plan/share.py)
    flops: dict[tuple, int] = field(default_factory=dict)

    def note(self, rewrite: str) -> None:
        self.notes.add(rewrite)

    def comment(self, node: N, text: Callable[[N], str]) -> str:
        """text(node), computed once per node for this writer's module."""
        if id(node) not in self.comments:
            self.comments[id(node)] = (node, text(node))
        return self.comments[id(node)][1]

    @property
    def lib(self) -> str:
        return self.target.lib

    def use(self, helper: str) -> str:
        if helper in self.target.helpers:
            self.helpers.add(helper)
        return helper

    def shape(self, dims: Sequence[object]) -> str:
        texts = [self.dim(d) for d in dims]
        return f"({texts[0]},)" if len(texts) == 1 else f"({', '.join(texts)})"

    # ---- element-wise ----
    def map(self, fn: str, x: Code) -> Code:
        code = self.target.functions[fn](x)
        name = code.text.split("(", 1)[0]
        self.use(name)
        return code

    def extremum(self, which: str, a: Code, b: Code, a_const: bool, b_const: bool) -> Code:
        if self.target.name == "torch" and (a_const or b_const):
            # torch.maximum needs two tensors; a constant bound is a clamp
            x, c = (b, a) if a_const else (a, b)
            return call("torch.clamp", x, f"{'min' if which == 'max' else 'max'}={c.text}")
        return call(f"{self.lib}.{which}imum", a, b)

    # ---- new arrays ----
    def _new(self, function: str, dims: Sequence[object], *extra: str) -> Code:
        if self.target.name == "numpy":
            return call(f"np.{function}", self.shape(dims), *extra)
        if self.target.name == "torch":
            return call(f"torch.{function}", self.shape(dims), *extra, f"dtype={self.like}.dtype",
                        f"device={self.like}.device")
        return call(f"jnp.{function}", self.shape(dims), *extra, f"dtype={self.like}.dtype")

    def zeros(self, dims: Sequence[object]) -> Code:
        return self._new("zeros", dims)

    def array(self, x: Code) -> Code:
        """A Python number (a value made of sizes and constants alone) as a 0-d array of the target."""
        if self.target.name == "numpy":
            return call("np.float64", x)
        if self.target.name == "torch":
            return call("torch.as_tensor", x, f"dtype={self.like}.dtype", f"device={self.like}.device")
        return call("jnp.asarray", x, f"dtype={self.like}.dtype")

    def full(self, dims: Sequence[object], value: float) -> Code:
        return self._new("full", dims, number(value))

    def eye(self, n: object) -> Code:
        if self.target.name == "numpy":
            return call("np.eye", self.dim(n))
        if self.target.name == "torch":
            return call("torch.eye", self.dim(n), f"dtype={self.like}.dtype", f"device={self.like}.device")
        return call("jnp.eye", self.dim(n), f"dtype={self.like}.dtype")

    def basis(self, n: object, k: int) -> Code:
        return attribute(self.eye(n), f"[{k}]")

    # ---- shapes and reductions ----
    def transpose(self, x: Code, perm: Sequence[int]) -> Code:
        if list(perm) == [1, 0]:
            return attribute(x, ".T")
        function = "torch.permute" if self.target.name == "torch" else f"{self.lib}.transpose"
        return call(function, x, str(tuple(perm)))

    def sum(self, x: Code, axes: Sequence[int] | None = None) -> Code:
        if axes is None:
            return call(f"{self.lib}.sum", x)
        return call(f"{self.lib}.sum", x, f"{self.target.axis}={tuple(axes)}")

    def index(self, x: Code, items: Sequence[str]) -> Code:
        return attribute(x, f"[{', '.join(items)}]")

    def concatenate(self, parts: Sequence[Code], axis: int) -> Code:
        function = "torch.cat" if self.target.name == "torch" else f"{self.lib}.concatenate"
        return atom(f"{function}([{', '.join(p.text for p in parts)}], {self.target.axis}={axis})")

    def broadcast(self, x: Code, dims: Sequence[object]) -> Code:
        return call(f"{self.lib}.broadcast_to", x, self.shape(dims))

    def embed(self, x: Code, dims: Sequence[object], where: Sequence[int]) -> Code:
        return call(self.use("_embed"), x, self.shape(dims), str(tuple(where)))

    def diagonal(self, x: Code, equation: str) -> Code:
        # one operand: a diagonal (repeated indices); no contraction order to choose
        return call(f"{self.lib}.einsum", f'"{equation}"', x)

    # ---- products ----
    def matmul(self, a: Code, b: Code) -> Code:
        return times(a, b, "@")

    def mul(self, a: Code, b: Code) -> Code:
        return times(a, b, "*")

    def times_derivative(self, fn: str, g: Code, y: Code) -> Code:
        """g .* f'(x) from g and y = f(x), in one operation (f one of the target's `derivatives`)."""
        return call(self.target.derivatives[fn], g, y)

    def tensordot(self, a: Code, b: Code, axes_a: Sequence[int], axes_b: Sequence[int]) -> Code:
        keyword = "dims" if self.target.name == "torch" else "axes"
        return call(f"{self.lib}.tensordot", a, b, f"{keyword}=({list(axes_a)}, {list(axes_b)})")

    def einsum(self, equation: str, operands: Sequence[Code], path: Sequence[tuple[int, ...]]) -> Code:
        if self.target.path_einsum:
            steps = ", ".join(str(tuple(p)) for p in path)
            return call("np.einsum", f'"{equation}"', *operands, f'optimize=["einsum_path", {steps}]')
        return call(f"{self.lib}.einsum", f'"{equation}"', *operands)

    # ---- linear algebra and reductions to a number ----
    def solve(self, a: Code, b: Code) -> Code:
        return call(f"{self.lib}.linalg.solve", a, b)

    def inv(self, a: Code) -> Code:
        return call(f"{self.lib}.linalg.inv", a)

    def det(self, a: Code) -> Code:
        return call(f"{self.lib}.linalg.det", a)

    def logdet(self, a: Code) -> Code:
        if self.target.name == "torch":
            return call("torch.logdet", a)
        return call(self.use("_logdet"), a)

    def cofactor(self, a: Code) -> Code:
        return self.det_derivative(a, 1)

    def det_derivative(self, a: Code, order: int) -> Code:
        """The order-th derivative tensor of det (order 1: the cofactor matrix), exact at singular matrices, where
        det(A) inv(A)' is not defined; in torch and JAX differentiable to every order (each derivative's derivative
        is the next one)."""
        if self.target.name == "numpy" and order == 1:
            return call(self.use("_cofactor"), a)
        return call(self.use("_det_derivative"), a, str(order))

    def cofactor_along(self, a: Code, e: Code) -> Code:
        """cofactor(A, 2) against a matrix E over one pair of axes (the derivative of the cofactor matrix along E) in
        O(n^3) through the SVD; in torch and JAX differentiable to every order, as det_derivative."""
        if self.target.name == "numpy":
            return call(self.use("_cofactor_along"), a, e)
        self.use("_det_derivative")     # whose source defines _cofactor_along
        return call("_cofactor_along", a, e)

    def logsumexp(self, x: Code, axes: tuple[int, ...], rank: int) -> Code:
        """Over `axes` of an array with `rank` axes (all of them: over every entry)."""
        if self.target.name == "torch":
            return call("torch.logsumexp", x, _torch_dims(axes, rank))
        return call(self.use("_logsumexp") if self.target.name == "numpy" else "jax.nn.logsumexp", x,
                    *_axis_argument(axes, rank))

    def amax(self, x: Code, axes: tuple[int, ...], rank: int) -> Code:
        """The largest entry, over `axes` (ties share the gradient equally in torch and JAX)."""
        if self.target.name == "torch":
            return call("torch.amax", x, _torch_dims(axes, rank))
        return call(f"{self.lib}.max", x, *_axis_argument(axes, rank))

    def ismax(self, x: Code, axes: tuple[int, ...], rank: int) -> Code:
        """1 where an entry is the largest over `axes`, else 0 (the weights of amax's derivative, before the ties
        share them)."""
        return call(self.use("_ismax"), x, str(axes))

    def norm2(self, x: Code) -> Code:
        if self.target.name == "numpy":
            return call(self.use("_norm2"), x)
        if self.target.name == "torch":
            return call("torch.linalg.vector_norm", x)
        return call("jnp.linalg.norm", attribute(x, ".reshape(-1)"))

    def unit(self, x: Code) -> Code:
        return call(self.use("_unit"), x)
