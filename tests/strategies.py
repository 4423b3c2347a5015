"""Hypothesis strategies: random well-typed expressions of the input language, each with its meaning as a function.

One random tree gives both the chainrule text and a Python function of a NumPy-like namespace (`NP` or
`jax_namespace()`), so the same expression can be evaluated by NumPy (the reference value) and differentiated by JAX.

The variables have fixed concrete shapes (`DECLARATIONS`). The grammar is typed by the surface type of the language
(scalar, column, row, matrix, with their sizes): every generated text parses, and the tree keeps the values moderate:
`exp` only of bounded arguments, `log`, `sqrt`, `./`, `/` and negative powers only of positive ones. The piecewise
functions (`abs`, `relu`, `max`, `min`) and `norm2` record the quantity that must stay away from zero (their kink);
`kinks_ok` tells whether a point is far enough from every kink for finite differences to be meaningful.

Besides the plain grammar it generates, on purpose, the shapes of input that have found bugs: constants inside sums
whose only tensor term is multiplied by zero (`a+1+0*x`), element-wise powers by a constant 0 and by expressions
(`(x.^y)'`, transposed), products of traces and reductions of scalars (`tr(A)*tr(A)`, `norm2(tr(A))`), parenthesised
leaves (`(a)*b`), max/min of operands that are equal over a whole region (`max(u, relu(u))`, `max(u, abs(u))`,
`min(u, max(u, v))`), max/min of log-softmaxes (`min(logsoftmax(A, 2), [], 1)`: a sum whose largest entries the
derivative's tie test must find), determinants and sums of their gradients (`sum(cofactor(A))`), and values where the
square matrix `A` is singular (its LU factors with an exact zero pivot for some seeds) or nearly so.
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np
from hypothesis import strategies as st
from scipy.special import erf as scipy_erf

DECLARATIONS = {"a": (), "b": (), "x": (3,), "y": (3,), "z": (4,), "A": (3, 3), "B": (3, 4), "C": (4, 3)}


# ---- surface types -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Ty:
    """A surface type: kind "s" (scalar), "col", "row" (vectors of n) or "mat" (m×n)."""
    kind: str
    dims: tuple = ()

    @property
    def shape(self) -> tuple:
        return self.dims

    @property
    def t(self) -> Ty:
        """The type of the transpose."""
        return {"s": self, "col": Ty("row", self.dims), "row": Ty("col", self.dims),
                "mat": Ty("mat", self.dims[::-1])}[self.kind]


S = Ty("s")
SIZES = (3, 4)
TYPES = (S, *(Ty("col", (n,)) for n in SIZES), *(Ty("row", (n,)) for n in SIZES),
         *(Ty("mat", (m, n)) for m in SIZES for n in SIZES))


def _var_type(shape: tuple) -> Ty:
    return {0: S, 1: Ty("col", shape), 2: Ty("mat", shape)}[len(shape)]


# ---- generated expressions -----------------------------------------------------------------------------------------

# Precedence levels of the grammar: operands of weaker operators are parenthesised.
ADD, MUL, NEG, POW, POSTFIX, ATOM = range(1, 7)


@dataclass(frozen=True)
class Gen:
    """A generated expression: its text, surface type, meaning fn(ns, values), and bookkeeping."""
    text: str
    ty: Ty
    fn: Callable = field(repr=False, compare=False)
    level: int = field(default=ATOM, repr=False)
    variables: frozenset = field(default=frozenset(), repr=False)
    kinks: tuple = field(default=(), repr=False, compare=False)  # functions that must stay away from 0

    def at(self, level: int) -> str:
        """The text as an operand that needs at least the given precedence level."""
        return self.text if self.level >= level else f"({self.text})"

    def __repr__(self) -> str:  # what a failing example shows
        return f"Gen({self.text!r}, {self.ty.kind} {self.ty.dims})"

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(repr(self))

    def __call__(self, ns, values):
        value = self.fn(ns, values)
        if getattr(ns, "watch", None) is not None:  # record every intermediate value (NumPy reference only)
            largest = float(np.max(np.abs(value), initial=0.0))
            ns.watch.append(largest if np.isfinite(largest) else np.inf)
        return value


def _combine(text: str, ty: Ty, fn: Callable, level: int, *parts: Gen, kinks: tuple = ()) -> Gen:
    variables = frozenset().union(*(p.variables for p in parts))
    return Gen(text, ty, fn, level, variables, sum((p.kinks for p in parts), ()) + kinks)


def _leaf_variable(name: str) -> Gen:
    return Gen(name, _var_type(DECLARATIONS[name]), lambda ns, v: ns.asarray(v[name]), ATOM, frozenset({name}))


def _number(value: float) -> Gen:
    return Gen(repr(value) if value != int(value) else str(int(value)), S, lambda ns, v: float(value), ATOM)


def call(name: str, ty: Ty, f: Callable, *args: Gen, kinks: tuple = ()) -> Gen:
    return _combine(f"{name}({', '.join(a.text for a in args)})", ty, lambda ns, v: f(ns)(*(a(ns, v) for a in args)),
                    ATOM, *args, kinks=kinks)


def parenthesised(e: Gen) -> Gen:
    """(e): the same expression, written in parentheses (a parenthesised leaf once confused explain and trace)."""
    return Gen(f"({e.text})", e.ty, e.fn, ATOM, e.variables, e.kinks)


def transpose(e: Gen) -> Gen:
    return _combine(f"{e.at(POSTFIX)}'", e.ty.t, lambda ns, v: ns.transpose(e(ns, v)), ATOM, e)


def binary(op: str, left: Gen, right: Gen, ty: Ty, f: Callable) -> Gen:
    level = ADD if op in "+-" else MUL
    return _combine(f"{left.at(level)} {op} {right.at(level + 1)}", ty,
                    lambda ns, v: f(ns, left(ns, v), right(ns, v)), level, left, right)


def power(base: Gen, k: int) -> Gen:
    op = "^" if base.ty == S else ".^"
    return _combine(f"{base.at(POSTFIX)}{op}{k}", base.ty, lambda ns, v: base(ns, v) ** k, POW, base)


def neg(e: Gen) -> Gen:
    return _combine(f"-{e.at(NEG)}", e.ty, lambda ns, v: -e(ns, v), NEG, e)


def _difference(u: Gen, w: Gen) -> Callable:
    return lambda ns, v: u(ns, v) - w(ns, v)


# ---- the namespaces a meaning is evaluated in ----------------------------------------------------------------------

def _np_logsumexp(x):
    m = np.max(x)
    return m + np.log(np.sum(np.exp(x - m)))


def _leibniz_det(m):
    """det as its defining polynomial, the sum over permutations: differentiable to every order by JAX, at singular
    matrices too (where the LU-based derivatives of numpy.linalg.det and jax.numpy.linalg.det are not all defined)."""
    n = len(m)
    return sum(_parity(p) * math.prod(m[i][p[i]] for i in range(n)) for p in itertools.permutations(range(n)))


def _parity(p: tuple) -> int:
    return (-1) ** sum(p[i] > p[j] for i in range(len(p)) for j in range(i + 1, len(p)))


def _det_by_permutations(m):
    """det(m) as the sum over permutations, for JAX: its second derivative of jnp.linalg.det is NaN where the LU factors
    have an exact zero pivot (the Hessian of det(C*B), C*B of rank 3, at one seed in ten)."""
    return _leibniz_det([[m[i, j] for j in range(m.shape[1])] for i in range(m.shape[0])])


def _cofactor_by_minors(stack: Callable) -> Callable:
    """cofactor(M)[i, j] = (-1)^(i+j) times the determinant of M without row i and column j (the definition; no
    inverse), as nested lists of entries stacked by the namespace's `stack`."""
    def cofactor(m):
        n = m.shape[0]
        rows = [[m[r, c] for c in range(n)] for r in range(n)]
        minor = lambda i, j: [[x for c, x in enumerate(row) if c != j] for r, row in enumerate(rows) if r != i]  # noqa: E731
        return stack([stack([(-1) ** (i + j) * _leibniz_det(minor(i, j)) if n > 1 else m[0, 0] ** 0
                             for j in range(n)]) for i in range(n)])
    return cofactor


def _np_lse_axis(x, axis):
    m = np.max(x, axis=axis, keepdims=True)
    return np.squeeze(m + np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)), axis=axis)


NP = SimpleNamespace(
    asarray=lambda x: np.asarray(x, dtype=float), transpose=np.transpose, sin=np.sin, cos=np.cos, tanh=np.tanh,
    exp=np.exp, log=np.log, sqrt=np.sqrt, abs=np.abs, sigmoid=lambda x: 1 / (1 + np.exp(-x)),
    relu=lambda x: np.maximum(0, x), maximum=np.maximum, minimum=np.minimum, sum=np.sum, trace=np.trace,
    norm2=lambda x: np.sqrt(np.sum(x ** 2)), logsumexp=_np_logsumexp,
    softmax=lambda x: np.exp(x - _np_logsumexp(x)), matmul=np.matmul, outer=np.outer, stack=np.stack,
    diag=np.diag, det=np.linalg.det, cofactor=_cofactor_by_minors(np.stack),
    concatenate=np.concatenate, reshape=np.reshape, log1p=np.log1p, expm1=np.expm1, erf=scipy_erf,
    lse_axis=_np_lse_axis, amax=np.max, amin=np.min, inv=np.linalg.inv, eye=np.eye,
)


def jax_namespace() -> SimpleNamespace:
    """The same functions in jax.numpy (import jax first; only for the JAX comparison)."""
    import jax
    import jax.numpy as jnp
    from jax.scipy.special import logsumexp

    return SimpleNamespace(
        asarray=jnp.asarray, transpose=jnp.transpose, sin=jnp.sin, cos=jnp.cos, tanh=jnp.tanh, exp=jnp.exp,
        log=jnp.log, sqrt=jnp.sqrt, abs=jnp.abs, sigmoid=jax.nn.sigmoid, relu=jax.nn.relu, maximum=jnp.maximum,
        minimum=jnp.minimum, sum=jnp.sum, trace=jnp.trace, norm2=lambda x: jnp.sqrt(jnp.sum(x ** 2)),
        logsumexp=logsumexp, softmax=lambda x: jnp.exp(x - logsumexp(x)), matmul=jnp.matmul,
        outer=jnp.outer, stack=jnp.stack, diag=jnp.diag, det=_det_by_permutations,
        cofactor=_cofactor_by_minors(jnp.stack),
        concatenate=jnp.concatenate, reshape=jnp.reshape, log1p=jnp.log1p, expm1=jnp.expm1, erf=jax.scipy.special.erf,
        lse_axis=logsumexp, amax=jnp.max, amin=jnp.min, inv=jnp.linalg.inv, eye=jnp.eye,
    )


# ---- the typed grammar ---------------------------------------------------------------------------------------------

LEAVES = {S: ("a", "b"), Ty("col", (3,)): ("x", "y"), Ty("col", (4,)): ("z",), Ty("mat", (3, 3)): ("A",),
          Ty("mat", (3, 4)): ("B",), Ty("mat", (4, 3)): ("C",)}
SMOOTH = ("sin", "cos", "tanh", "sigmoid")


def leaf(draw, ty: Ty) -> Gen:
    if ty in LEAVES:
        options = [_leaf_variable(n) for n in LEAVES[ty]]
        if ty == S:
            options.append(_number(draw(st.sampled_from((2, 0.5, 3, 1.5)))))
        chosen = draw(st.sampled_from(options))
        return parenthesised(chosen) if draw(st.integers(0, 5)) == 0 else chosen
    if ty.t in LEAVES:
        return transpose(leaf(draw, ty.t))
    # a 4×4 matrix has no variable: the product of two leaves
    return matmul(leaf(draw, Ty("mat", (4, 3))), leaf(draw, Ty("mat", (3, 4))))


def matmul(left: Gen, right: Gen) -> Gen:
    """The matrix product `*` of two surface types that fit."""
    lk, rk = left.ty.kind, right.ty.kind
    if lk == "s" or rk == "s":
        ty = right.ty if lk == "s" else left.ty
        return binary("*", left, right, ty, lambda ns, p, q: p * q)
    if lk == "col" and rk == "row":
        ty = Ty("mat", left.ty.dims + right.ty.dims)
        return binary("*", left, right, ty, lambda ns, p, q: ns.outer(p, q))
    out = left.ty.dims[:-1] + right.ty.dims[1:]
    ty = {0: S, 2: Ty("mat", out)}.get(len(out)) or Ty("col" if rk == "col" else "row", out)
    return binary("*", left, right, ty, lambda ns, p, q: ns.matmul(p, q))


def smooth(name: str, e: Gen) -> Gen:
    return call(name, e.ty, lambda ns: getattr(ns, name), e)


def bounded(draw, ty: Ty, depth: int) -> Gen:
    """An expression whose values lie in [-1, 1] (or a variable: values of order 1)."""
    if depth <= 0 or draw(st.booleans()):
        return leaf(draw, ty)
    return smooth(draw(st.sampled_from(SMOOTH)), expression_of(draw, ty, depth - 1))


def positive(draw, ty: Ty, depth: int) -> Gen:
    """An expression whose values are positive and not small: exp or sigmoid of a bounded one, or 1 + e.^2."""
    kind = draw(st.sampled_from(("exp", "one_plus_square", "sigmoid")))
    if kind in ("exp", "sigmoid"):
        return smooth(kind, bounded(draw, ty, depth))
    inner = expression_of(draw, ty, depth - 1) if depth > 0 else leaf(draw, ty)
    return binary("+", _number(1), power(inner, 2), ty, lambda ns, p, q: p + q)


def _elementwise_binary(draw, ty: Ty, depth: int) -> Gen:
    op = draw(st.sampled_from(("+", "-", ".*", "./")))
    scalar_side = ty != S and draw(st.integers(0, 3)) == 0  # scalar expansion: a + x, x .* a, ...
    left_ty, right_ty = (S, ty) if scalar_side and draw(st.booleans()) else (ty, S) if scalar_side else (ty, ty)
    left = expression_of(draw, left_ty, depth - 1)
    if op == "./":
        right = positive(draw, right_ty, depth - 1)
        if right_ty == S and ty != S and draw(st.booleans()):
            return binary("/", left, right, ty, lambda ns, p, q: p / q)  # '/' divides by a scalar
        return binary("./", left, right, ty, lambda ns, p, q: p / q)
    right = expression_of(draw, right_ty, depth - 1)
    f = {"+": lambda ns, p, q: p + q, "-": lambda ns, p, q: p - q, ".*": lambda ns, p, q: p * q}[op]
    if op == ".*" and ty == S:
        op = "*"
    return binary(op, left, right, ty, f)


def _kinked(draw, ty: Ty, depth: int) -> Gen:
    name = draw(st.sampled_from(("abs", "relu", "max", "min", "max0", "tie", "tie")))
    if name == "tie":
        return _tie(draw, ty, depth)
    e = expression_of(draw, ty, depth - 1)
    if name in ("abs", "relu"):
        return call(name, ty, lambda ns: getattr(ns, name), e, kinks=(e.fn,))
    if name == "max0":
        return call("max", ty, lambda ns: ns.maximum, _number(0), e, kinks=(e.fn,))
    other = expression_of(draw, draw(st.sampled_from((ty, S))) if ty != S else S, depth - 1)
    first, second = (e, other) if draw(st.booleans()) else (other, e)
    f = (lambda ns: ns.maximum) if name == "max" else (lambda ns: ns.minimum)
    return call(name, ty, f, first, second, kinks=(_difference(first, second),))


def _max(ty: Ty, *args: Gen, kinks: tuple = ()) -> Gen:
    return call("max", ty, lambda ns: ns.maximum, *args, kinks=kinks)


def _min(ty: Ty, *args: Gen, kinks: tuple = ()) -> Gen:
    return call("min", ty, lambda ns: ns.minimum, *args, kinks=kinks)


def _tie(draw, ty: Ty, depth: int) -> Gen:
    """max or min of two operands that are equal over a whole region, where the function is differentiable:
    max(u, relu(u)) = relu(u), max(u, abs(u)) = abs(u), min(u, abs(u)) = u, min(u, max(u, v)) = u, max(u, u) = u."""
    u = expression_of(draw, ty, depth - 1)
    kink = (u.fn,)
    kind = draw(st.sampled_from(("relu", "abs", "min_abs", "nested", "same")))
    if kind == "relu":
        pair = (u, call("relu", ty, lambda ns: ns.relu, u))
    elif kind in ("abs", "min_abs"):
        pair = (u, call("abs", ty, lambda ns: ns.abs, u))
    elif kind == "nested":
        v = expression_of(draw, draw(st.sampled_from((ty, S))) if ty != S else S, depth - 1)
        outer, inner = (_min, _max) if draw(st.booleans()) else (_max, _min)
        pair = (u, inner(ty, *((u, v) if draw(st.booleans()) else (v, u))))
        return outer(ty, *(pair if draw(st.booleans()) else pair[::-1]), kinks=(_difference(u, v),))
    else:
        pair, kink = (u, u), ()
    pair = pair if draw(st.booleans()) else pair[::-1]
    return (_min if kind == "min_abs" else _max)(ty, *pair, kinks=kink)


def _plus(ns, p, q):
    return p + q


def _constants(draw, ty: Ty, depth: int) -> Gen:
    """Constants inside sums and products that keep only a shape: a+1+0*x (the zero term alone carries the shape of
    the sum), c+e and e-c, 0*e+f, and e.^0 (ones of e's shape)."""
    add = _plus
    c = _number(draw(st.sampled_from((1, 0, 2, 0.5))))
    choice = draw(st.integers(0, 3))
    if choice == 0 and ty != S:
        scalar_part = binary("+", expression_of(draw, S, depth - 1), c, S, add)
        return binary("+", scalar_part, matmul(_number(0), expression_of(draw, ty, depth - 1)), ty, add)
    if choice == 1:
        e = expression_of(draw, ty, depth - 1)
        if draw(st.booleans()):
            return binary("+", c, e, ty, add)
        return binary("-", e, c, ty, lambda ns, p, q: p - q)
    if choice == 2:
        zero = matmul(_number(0), expression_of(draw, ty, depth - 1))
        return binary("+", zero, expression_of(draw, ty, depth - 1), ty, add)
    return power(expression_of(draw, ty, depth - 1), 0)


def _general_power(draw, ty: Ty, depth: int) -> Gen:
    """p.^q with an expression as exponent (p positive, q bounded; either may be a scalar), often transposed:
    (x.^y)' is x'.^y', not x'.^y."""
    if ty != S and draw(st.booleans()):
        return transpose(_general_power(draw, ty.t, depth))
    base_ty, exponent_ty = ty, ty
    if ty != S and draw(st.integers(0, 2)) == 0:
        base_ty, exponent_ty = (S, ty) if draw(st.booleans()) else (ty, S)
    base, exponent = positive(draw, base_ty, depth - 1), bounded(draw, exponent_ty, depth - 1)
    op = "^" if ty == S else ".^"
    return _combine(f"{base.at(POSTFIX)}{op}{exponent.at(NEG)}", ty,
                    lambda ns, v: base(ns, v) ** exponent(ns, v), POW, base, exponent)


def _trace_product(draw, depth: int) -> Gen:
    """Products of traces and reductions of a scalar: tr(M)*tr(M), tr(M)*tr(N), norm2(tr(M)), sum(tr(M)), tr(M)^2."""
    n = draw(st.sampled_from(SIZES))
    first = call("tr", S, lambda ns: ns.trace, expression_of(draw, Ty("mat", (n, n)), depth - 1))
    kind = draw(st.sampled_from(("same", "other", "norm2", "sum", "square")))
    if kind == "same":
        return matmul(first, first)
    if kind == "other":
        m = draw(st.sampled_from(SIZES))
        return matmul(first, call("tr", S, lambda ns: ns.trace, expression_of(draw, Ty("mat", (m, m)), depth - 1)))
    if kind == "norm2":
        return call("norm2", S, lambda ns: ns.norm2, first, kinks=(first.fn,))
    if kind == "sum":
        return call("sum", S, lambda ns: ns.sum, first)
    return power(first, 2)


def _matrix_product(draw, ty: Ty, depth: int) -> Gen:
    """A matrix product; a quarter of the time of reciprocals (x'.^-1*y.^-1, whose printed form once divided by a
    vector: 1/x'/y)."""
    k = draw(st.sampled_from(SIZES))
    reciprocals = draw(st.integers(0, 3)) == 0

    def sub(t: Ty) -> Gen:
        if reciprocals and t != S:
            return power(positive(draw, t, depth - 2), -1)
        return expression_of(draw, t, depth - 1)

    if ty == S:
        return matmul(sub(Ty("row", (k,))), sub(Ty("col", (k,))))
    if ty.kind == "col":
        if draw(st.booleans()):
            return matmul(sub(S), sub(ty))
        return matmul(sub(Ty("mat", ty.dims + (k,))), sub(Ty("col", (k,))))
    if ty.kind == "row":
        if draw(st.booleans()):
            return matmul(sub(ty), sub(S))
        return matmul(sub(Ty("row", (k,))), sub(Ty("mat", (k,) + ty.dims)))
    m, n = ty.dims
    choice = draw(st.integers(0, 2))
    if choice == 0:
        return matmul(sub(Ty("col", (m,))), sub(Ty("row", (n,))))
    if choice == 1:
        return matmul(sub(S), sub(ty))
    return matmul(sub(Ty("mat", (m, k))), sub(Ty("mat", (k, n))))


def _reduction(draw, depth: int) -> Gen:
    name = draw(st.sampled_from(("sum", "norm2", "tr", "logsumexp", "det", "traces")))
    if name == "tr":
        n = draw(st.sampled_from(SIZES))
        return call("tr", S, lambda ns: ns.trace, expression_of(draw, Ty("mat", (n, n)), depth - 1))
    if name == "det":
        # often of a leaf: A (singular or nearly so for some seeds) or C*B (4×4 of rank 3, always singular)
        n = draw(st.sampled_from(SIZES))
        ty = Ty("mat", (n, n))
        inner = leaf(draw, ty) if draw(st.booleans()) else expression_of(draw, ty, depth - 1)
        return _det_or_its_gradient(draw, inner)
    if name == "traces":
        return _trace_product(draw, depth)
    e = expression_of(draw, draw(st.sampled_from(TYPES[1:])), depth - 1)
    if name == "norm2":
        return call("norm2", S, lambda ns: ns.norm2, e, kinks=(lambda ns, v: ns.norm2(e(ns, v)),))
    return call(name, S, lambda ns: getattr(ns, name), e)


def _stack(draw, ty: Ty, depth: int) -> Gen:
    col = ty if ty.kind == "col" else ty.t
    parts = [expression_of(draw, S, depth - 1) for _ in range(col.dims[0])]
    e = _combine("[" + "; ".join(p.text for p in parts) + "]", col,
                 lambda ns, v: ns.stack([ns.asarray(p(ns, v)) * 1.0 for p in parts]), ATOM, *parts)
    return e if ty == col else transpose(e)


def _diag(draw, ty: Ty, depth: int) -> Gen:
    """diag(x) for a square matrix, diag(A) (the diagonal, a column) for a vector."""
    n = ty.dims[0]
    if ty.kind == "mat":
        return call("diag", ty, lambda ns: ns.diag, expression_of(draw, Ty("col", (n,)), depth - 1))
    e = call("diag", Ty("col", (n,)), lambda ns: ns.diag, expression_of(draw, Ty("mat", (n, n)), depth - 1))
    return e if e.ty == ty else transpose(e)


def _symmetric(draw, ty: Ty, depth: int) -> Gen:
    """A square matrix symmetric by how it is built, as covariances and Gram matrices are: E*E', E'*E, E + E', and
    inv(E*E' + 2*eye(n)) (its eigenvalues at least 2) (the builder lists a symmetric operand's indices in one order,
    so S and S' become one node)."""
    n, k = ty.dims[0], draw(st.sampled_from(SIZES))
    kind = draw(st.sampled_from(("outer", "inner", "sum", "inverse")))
    e = parenthesised(expression_of(draw, Ty("mat", (k, n) if kind == "inner" else (n, n) if kind == "sum"
                                             else (n, k)), depth - 1))
    if kind == "sum":
        return binary("+", e, transpose(e), ty, lambda ns, p, q: p + q)
    if kind == "inverse":
        return Gen(f"inv({e.text}*{e.text}' + 2*eye({n}))", ty,
                   lambda ns, v: ns.inv(ns.matmul(e(ns, v), ns.transpose(e(ns, v))) + 2 * ns.eye(n)),
                   ATOM, e.variables, e.kinks)
    return matmul(e, transpose(e)) if kind == "outer" else matmul(transpose(e), e)


def _special(draw, ty: Ty, depth: int) -> Gen:
    """log1p (of a positive argument), expm1 (of a bounded one) and erf."""
    name = draw(st.sampled_from(("log1p", "expm1", "erf")))
    if name == "log1p":
        return smooth(name, positive(draw, ty, depth - 1))
    return smooth(name, bounded(draw, ty, depth - 1) if name == "expm1" else expression_of(draw, ty, depth - 1))


def _indexed(e: Gen, items: str, ty: Ty, pick: Callable) -> Gen:
    base = e.text if e.text.isidentifier() else f"({e.text})"
    return _combine(f"{base}({items})", ty, lambda ns, v: pick(ns.asarray(e(ns, v))), ATOM, e)


def _index(draw, ty: Ty, depth: int) -> Gen:
    """x(k), x(2:4), X(i, :), X(:, j), X(1:3, :): entries of a longer vector or a larger matrix (from 1)."""
    if ty == S:
        n = draw(st.sampled_from(SIZES))
        k = draw(st.integers(0, n - 1))
        return _indexed(expression_of(draw, Ty("col", (n,)), depth - 1), str(k + 1), S, lambda x: x[k])
    if ty.kind in ("col", "row"):
        n = ty.dims[0]
        if n == 3 and draw(st.booleans()):
            start = draw(st.integers(0, 1))
            longer = expression_of(draw, Ty(ty.kind, (4,)), depth - 1)
            return _indexed(longer, f"{start + 1}:{start + 3}", ty, lambda x: x[start:start + 3])
        k = draw(st.sampled_from(SIZES))
        j = draw(st.integers(0, k - 1))
        if ty.kind == "col":
            return _indexed(expression_of(draw, Ty("mat", (n, k)), depth - 1), f":, {j + 1}", ty, lambda x: x[:, j])
        return _indexed(expression_of(draw, Ty("mat", (k, n)), depth - 1), f"{j + 1}, :", ty, lambda x: x[j, :])
    m, n = ty.dims
    if m == 3:
        return _indexed(expression_of(draw, Ty("mat", (4, n)), depth - 1), "2:4, :", ty, lambda x: x[1:4, :])
    if n == 3:
        return _indexed(expression_of(draw, Ty("mat", (m, 4)), depth - 1), ":, 1:3", ty, lambda x: x[:, 0:3])
    return _indexed(expression_of(draw, ty, depth - 1), "1:4, :", ty, lambda x: x)


def _blocks(draw, ty: Ty, depth: int) -> Gen:
    """[u; a] and [a; u] (a vector of 4 from one of 3 and a scalar), [X; r] (a row below a matrix), [X, c], and the
    block matrix [Q, c; r, a]."""
    if ty.kind in ("col", "row") and ty.dims[0] == 4:
        col = Ty("col", (4,))
        u, a = expression_of(draw, Ty("col", (3,)), depth - 1), expression_of(draw, S, depth - 1)
        first = draw(st.booleans())
        parts = (u, a) if first else (a, u)
        e = _combine(f"[{parts[0].text}; {parts[1].text}]", col, lambda ns, v: ns.concatenate(
            [ns.reshape(ns.asarray(p(ns, v)) * 1.0, (-1,)) for p in parts]), ATOM, *parts)
        return e if ty == col else transpose(e)
    m, n = ty.dims
    if m == n == 4 and draw(st.booleans()):
        return _block_matrix(draw, depth)
    if m == 4:
        top, row = (expression_of(draw, Ty("mat", (3, n)), depth - 1),
                    expression_of(draw, Ty("row", (n,)), depth - 1))
        return _combine(f"[{top.text}; {row.text}]", ty, lambda ns, v: ns.concatenate(
            [ns.asarray(top(ns, v)), ns.reshape(ns.asarray(row(ns, v)), (1, -1))], axis=0), ATOM, top, row)
    left, col = expression_of(draw, Ty("mat", (m, 3)), depth - 1), expression_of(draw, Ty("col", (m,)), depth - 1)
    return _combine(f"[{left.text}, {col.text}]", ty, lambda ns, v: ns.concatenate(
        [ns.asarray(left(ns, v)), ns.reshape(ns.asarray(col(ns, v)), (-1, 1))], axis=1), ATOM, left, col)


def _block_matrix(draw, depth: int) -> Gen:
    """[Q, c; r, a]: a 4×4 block matrix from a 3×3 matrix, a column, a row and a scalar."""
    q, c, r, a = (expression_of(draw, t, depth - 1) for t in (Ty("mat", (3, 3)), Ty("col", (3,)), Ty("row", (3,)), S))

    def value(ns, v):
        top = ns.concatenate([ns.asarray(q(ns, v)), ns.reshape(ns.asarray(c(ns, v)), (3, 1))], axis=1)
        bottom = ns.concatenate([ns.reshape(ns.asarray(r(ns, v)), (1, 3)), ns.reshape(ns.asarray(a(ns, v)) * 1.0,
                                                                                       (1, 1))], axis=1)
        return ns.concatenate([top, bottom], axis=0)
    return _combine(f"[{q.text}, {c.text}; {r.text}, {a.text}]", Ty("mat", (4, 4)), value, ATOM, q, c, r, a)


def _as_2d(ns, value, ty: Ty):
    """A value of surface type ty as NumPy broadcasts it in MATLAB's sense: a row 1×n, a column m×1."""
    if ty.kind == "row":
        return ns.reshape(value, (1, -1))
    return ns.reshape(value, (-1, 1)) if ty.kind == "col" else value


def _broadcast(draw, ty: Ty, depth: int) -> Gen:
    """MATLAB's implicit expansion into an m×n matrix: X + r (a row over the rows), c .* X, c + r (the outer sum),
    X ./ c, max(X, r), min(c, r), ... in either order."""
    m, n = ty.dims
    row, col = Ty("row", (n,)), Ty("col", (m,))
    left_ty, right_ty = draw(st.sampled_from(((ty, row), (ty, col), (col, row), (row, ty), (col, ty), (row, col))))
    op = draw(st.sampled_from(("+", "-", ".*", "./", "max", "min")))
    left = expression_of(draw, left_ty, depth - 1)
    right = (positive if op == "./" else expression_of)(draw, right_ty, depth - 1)
    f = {"+": lambda ns, p, q: p + q, "-": lambda ns, p, q: p - q, ".*": lambda ns, p, q: p * q,
         "./": lambda ns, p, q: p / q, "max": lambda ns, p, q: ns.maximum(p, q),
         "min": lambda ns, p, q: ns.minimum(p, q)}[op]

    def meaning(ns, v):
        return f(ns, _as_2d(ns, left(ns, v), left_ty), _as_2d(ns, right(ns, v), right_ty))
    if op in ("max", "min"):
        kink = (lambda ns, v: _as_2d(ns, left(ns, v), left_ty) - _as_2d(ns, right(ns, v), right_ty),)
        return _combine(f"{op}({left.text}, {right.text})", ty, meaning, ATOM, left, right, kinks=kink)
    level = ADD if op in "+-" else MUL
    return _combine(f"{left.at(level)} {op} {right.at(level + 1)}", ty, meaning, level, left, right)


def _top_gap(x, axis=None):
    """The gap between the largest and second largest entries (of each slice along axis): max's kink."""
    x = np.asarray(x, dtype=float)
    x = x.reshape(-1) if axis is None else np.moveaxis(x, axis, -1)
    if x.shape[-1] < 2:
        return np.ones(x.shape[:-1])
    top = np.sort(x, axis=-1)
    return top[..., -1] - top[..., -2]


def _log_softmax(e: Gen, d: int | None) -> Gen:
    """logsoftmax(e) over every entry (d None), or logsoftmax(E, d) of a matrix along dimension d."""
    def shifted(ns, v):
        x = e(ns, v)
        if d is None:
            return x - ns.logsumexp(x)
        return x - ns.reshape(ns.lse_axis(x, d - 1), (1, -1) if d == 1 else (-1, 1))
    return _combine(f"logsoftmax({e.text})" if d is None else f"logsoftmax({e.text}, {d})", e.ty, shifted, ATOM, e)


def _extremum_operand(draw, ty: Ty, depth: int) -> Gen:
    """The operand of max or min over entries; a third of the time a log-softmax, a sum of the operand and its shift,
    which the derivative's tie test takes apart: it once compared max(x) with x rebuilt from those terms, which
    rounded away the zero at every largest entry of a slice (min(logsoftmax(A, 2), [], 1) by A: NaN)."""
    e = expression_of(draw, ty, depth)
    if draw(st.integers(0, 2)) > 0:
        return e
    return _log_softmax(e, draw(st.sampled_from((1, 2))) if ty.kind == "mat" else None)


def _size(draw) -> Gen:
    """size(X, d) of a variable (a row's rows are 1, a column's columns are 1), a number in the expression."""
    sized = leaf(draw, draw(st.sampled_from(TYPES[1:])))
    d = draw(st.sampled_from((1, 2)))
    rows_cols = {"row": (1,) + sized.ty.dims, "col": sized.ty.dims + (1,)}.get(sized.ty.kind, sized.ty.dims)
    count = float(rows_cols[d - 1])
    return Gen(f"size({sized.text}, {d})", S, lambda ns, v: count, ATOM, sized.variables)   # x is still used


def _scaled(draw, ty: Ty, depth: int) -> Gen:
    """An expression scaled by a size, as attention scales its scores: e/sqrt(size(K, 2)), or size(X, d)*e; the
    size is a constant that prints after a variable, inside whatever holds e (softmax(Q*K'/sqrt(size(K, 2)), 2))."""
    e, size = _sub(draw, ty, depth), _size(draw)
    if draw(st.booleans()):
        return binary("*", size, e, ty, lambda ns, p, q: p * q)
    root = smooth("sqrt", size)
    return binary("/", e, root, ty, lambda ns, p, q: p / q)


def _axis_reduction(draw, ty: Ty, depth: int) -> Gen:
    """sum, mean, logsumexp, max(X, [], d), min(X, [], d) along a dimension (a column: d = 2, a row: d = 1);
    softmax(X, d), logsoftmax(X, d) of a matrix; max(e), min(e), mean(e), and sizes: size(B, 2), numel(e)."""
    if ty == S:
        kind = draw(st.sampled_from(("max", "min", "mean", "size")))
        e = _extremum_operand(draw, draw(st.sampled_from(TYPES[1:])), depth - 1)
        if kind == "size":
            return binary("*", _size(draw), call("mean", S, lambda ns: lambda x: ns.sum(x) / x.size, e), S,
                          lambda ns, p, q: p * q)
        if kind == "mean":
            return call("mean", S, lambda ns: lambda x: ns.sum(x) / x.size, e)
        sign = 1.0 if kind == "max" else -1.0
        return call(kind, S, lambda ns: getattr(ns, "a" + kind), e,
                    kinks=(lambda ns, v: _top_gap(sign * np.asarray(e(ns, v))),))
    if ty.kind == "mat":
        d = draw(st.sampled_from((1, 2)))
        shifted = _log_softmax(expression_of(draw, ty, depth - 1), d)
        if draw(st.booleans()):
            return shifted
        return _combine(f"softmax{shifted.text[len('logsoftmax'):]}", ty, lambda ns, v: ns.exp(shifted(ns, v)), ATOM,
                        shifted)
    d = 1 if ty.kind == "row" else 2
    k = draw(st.sampled_from(SIZES))
    name = draw(st.sampled_from(("sum", "mean", "logsumexp", "max", "min")))
    matrix = Ty("mat", (k,) + ty.dims if d == 1 else ty.dims + (k,))
    e = (_extremum_operand if name in ("max", "min") else expression_of)(draw, matrix, depth - 1)
    axis = d - 1
    reduce = {"sum": lambda ns, x: ns.sum(x, axis=axis), "mean": lambda ns, x: ns.sum(x, axis=axis) / x.shape[axis],
              "logsumexp": lambda ns, x: ns.lse_axis(x, axis), "max": lambda ns, x: ns.amax(x, axis=axis),
              "min": lambda ns, x: ns.amin(x, axis=axis)}[name]
    text = f"{name}({e.text}, [], {d})" if name in ("max", "min") else f"{name}({e.text}, {d})"
    sign = 1.0 if name == "max" else -1.0
    kinks = (lambda ns, v: _top_gap(sign * np.asarray(e(ns, v)), axis),) if name in ("max", "min") else ()
    return _combine(text, ty, lambda ns, v: reduce(ns, e(ns, v)), ATOM, e, kinks=kinks)


def _productions(ty: Ty) -> list[str]:
    names = ["binary", "smooth", "product", "leaf", "exp", "log_sqrt", "neg", "binary", "power", "kinked", "product",
             "constants", "general_power"]
    if ty == S:
        names += ["reduction", "reduction", "reduction"]
    else:
        names += ["transpose", "softmax"]
    if ty.kind in ("col", "row"):
        names += ["stack"]
    names += ["special", "index", "axis", "scaled"]
    if ty.kind == "mat":
        names += ["broadcast"]
    if (ty.kind in ("col", "row") and ty.dims[0] == 4) or (ty.kind == "mat" and 4 in ty.dims):
        names += ["blocks"]
    if ty.kind in ("col", "row") or (ty.kind == "mat" and ty.dims[0] == ty.dims[1]):
        names += ["diag"]
    if ty.kind == "mat" and ty.dims[0] == ty.dims[1]:
        names += ["symmetric"]
    return names


def expression_of(draw, ty: Ty, depth: int) -> Gen:
    """A random expression of surface type ty, at most about `depth` operators deep."""
    if depth <= 0:
        return leaf(draw, ty)
    return _PRODUCTIONS[draw(st.sampled_from(_productions(ty)))](draw, ty, depth)


def _sub(draw, ty: Ty, depth: int) -> Gen:
    return expression_of(draw, ty, depth - 1)


def _power_production(draw, ty: Ty, depth: int) -> Gen:
    if draw(st.integers(0, 2)) == 0:
        return power(positive(draw, ty, depth - 1), draw(st.sampled_from((-1, -2))))
    return power(_sub(draw, ty, depth), draw(st.sampled_from((2, 3))))


# each production of the grammar: (draw, ty, depth) -> an expression of type ty
_PRODUCTIONS = {
    "leaf": lambda draw, ty, depth: leaf(draw, ty),
    "smooth": lambda draw, ty, depth: smooth(draw(st.sampled_from(SMOOTH)), _sub(draw, ty, depth)),
    "exp": lambda draw, ty, depth: smooth("exp", bounded(draw, ty, depth - 1)),
    "log_sqrt": lambda draw, ty, depth: smooth(draw(st.sampled_from(("log", "sqrt"))), positive(draw, ty, depth - 1)),
    "neg": lambda draw, ty, depth: neg(_sub(draw, ty, depth)),
    "binary": _elementwise_binary,
    "power": _power_production,
    "kinked": _kinked,
    "constants": _constants,
    "general_power": _general_power,
    "product": _matrix_product,
    "reduction": lambda draw, ty, depth: _reduction(draw, depth),
    "transpose": lambda draw, ty, depth: transpose(_sub(draw, ty.t, depth)),
    "softmax": lambda draw, ty, depth: call("softmax", ty, lambda ns: ns.softmax, _sub(draw, ty, depth)),
    "stack": _stack,
    "special": _special,
    "index": _index,
    "blocks": _blocks,
    "axis": _axis_reduction,
    "broadcast": _broadcast,
    "diag": _diag,
    "scaled": _scaled,
    "symmetric": _symmetric,
}


@st.composite
def expressions(draw, min_depth: int = 2, max_depth: int = 4, types: tuple = TYPES) -> Gen:
    """A random well-typed expression using at least one variable; a scalar (a loss) one time in three or more."""
    ty = S if S in types and draw(st.integers(0, 2)) == 0 else draw(st.sampled_from(types))
    e = expression_of(draw, ty, draw(st.integers(min_depth, max_depth)))
    if not e.variables:  # a constant: add a variable so there is something to differentiate
        e = binary("+", e, leaf(draw, ty) if ty != S else _leaf_variable("a"), ty, lambda ns, p, q: p + q)
    return e


def _det_or_its_gradient(draw, inner: Gen) -> Gen:
    """det(M), or one time in three sum(cofactor(M)): the sum of det's gradient, whose derivatives are det's second
    and third (the frameworks' own derivatives of det are wrong or NaN there at some matrices)."""
    if draw(st.integers(0, 2)) == 0:
        return call("sum", S, lambda ns: ns.sum, call("cofactor", inner.ty, lambda ns: ns.cofactor, inner))
    return call("det", S, lambda ns: ns.det, inner)


@st.composite
def determinants(draw, max_depth: int = 2) -> Gen:
    """det of a square matrix (a leaf half the time: A, singular for some seeds, or C*B, always singular) inside a
    random scalar expression: the derivatives of det must hold at and near singular matrices."""
    n = draw(st.sampled_from(SIZES))
    ty = Ty("mat", (n, n))
    inner = leaf(draw, ty) if draw(st.booleans()) else expression_of(draw, ty, draw(st.integers(1, max_depth)))
    det = _det_or_its_gradient(draw, inner)
    other = expression_of(draw, S, draw(st.integers(0, max_depth)))
    kind = draw(st.sampled_from(("alone", "times", "plus", "smooth")))
    if kind == "alone":
        e = det
    elif kind == "smooth":
        e = smooth(draw(st.sampled_from(SMOOTH)), det)
    else:
        e = binary("*" if kind == "times" else "+", det, other, S,
                   (lambda ns, p, q: p * q) if kind == "times" else (lambda ns, p, q: p + q))
    # det of a constant (diag([2; 2; 2])) alone is a constant: a variable gives something to differentiate
    return e if e.variables else binary("+", e, _leaf_variable("a"), S, lambda ns, p, q: p + q)


# ---- values --------------------------------------------------------------------------------------------------------

def random_values(seed: int) -> dict:
    """Seeded values of every declared variable (standard normal entries); for one seed in four the square matrix A
    is singular (rank 2), for another one in four nearly so (a rank-2 matrix plus 1e-6 noise), for one in eight
    singular with two equal rows."""
    rng = np.random.default_rng(seed)
    values = {name: rng.standard_normal(shape) for name, shape in DECLARATIONS.items()}
    if seed % 4 in (0, 1):
        low_rank = rng.standard_normal((3, 2)) @ rng.standard_normal((2, 3))
        values["A"] = low_rank + (1e-6 * rng.standard_normal((3, 3)) if seed % 4 == 1 else 0.0)
    if seed % 8 == 4:   # singular with two equal rows: an exact zero pivot in its LU factors
        values["A"][2] = values["A"][0]
    return values


def reference(e: Gen, values: dict) -> tuple[np.ndarray, float]:
    """The NumPy value of e and the largest magnitude of any intermediate value (inf if one is not finite)."""
    ns = SimpleNamespace(**vars(NP), watch=[])
    with np.errstate(all="ignore"):
        value = np.asarray(e(ns, values), dtype=float)
    return value, max(ns.watch, default=0.0)


def kinks_ok(e: Gen, values: dict, margin: float = 1e-3) -> bool:
    """True when every kink argument of e is at least `margin` away from 0 at these values."""
    with np.errstate(all="ignore"):
        return all(np.all(np.abs(np.asarray(k(NP, values))) > margin) for k in e.kinks)


# ---- functions whose finite differences err: for the checks themselves ---------------------------------------------

@dataclass(frozen=True)
class Wave:
    """f(x) = offset + amplitude * sin(frequency * x + phase), entry by entry, at x, where a check's central
    difference takes the step h: a large offset makes the differences' rounding dominate, a step that moves the
    argument by up to 0.2 their truncation."""
    x: np.ndarray
    offset: float
    amplitude: float
    frequency: float
    phase: float
    h: float

    def __call__(self, t):
        return self.offset + self.amplitude * np.sin(self.frequency * t + self.phase)

    def derivative(self, t):
        return self.amplitude * self.frequency * np.cos(self.frequency * t + self.phase)

    def resolves(self, relative_error: float, rounding: float) -> bool:
        """Whether a derivative off by `relative_error` is more than the differences' own error can explain:
        8 times their rounding bound (`rounding` units of roundoff of |f|, over h) plus the 1e-5 tolerance."""
        largest = float(np.max(np.abs(self.derivative(self.x))))
        noise = 8 * rounding * (abs(self.offset) + self.amplitude) / self.h
        return relative_error * largest > noise + 1e-5 * max(1.0, largest)


@st.composite
def waves(draw, size: int = 3) -> Wave:
    """Waves with offsets up to 1e8, amplitudes 1e-2 to 1e2, and steps moving the argument by 1e-7 to 0.2, at x in
    [-2, 2]^size, for checks that take h = 1e-6 * max(1, max |x|)."""
    x = np.array(draw(st.lists(st.floats(-2, 2), min_size=size, max_size=size)))
    h = 1e-6 * max(1.0, float(np.max(np.abs(x))))
    offset = draw(st.sampled_from((0.0, 1.0, -1.0))) * 10.0 ** draw(st.floats(0, 8))
    return Wave(x, offset, 10.0 ** draw(st.floats(-2, 2)), 10.0 ** draw(st.floats(-7, np.log10(0.2))) / h,
                draw(st.floats(0, 6.3)), h)
