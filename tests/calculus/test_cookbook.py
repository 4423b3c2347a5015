"""Golden tests: Matrix Cookbook derivative identities, compared by value with closed forms.

Arrays follow the numerator convention of the generalized Jacobian: shape f.shape + x.shape (+ x.shape again
for a second derivative); for a scalar f the first derivative is the gradient, shaped like x.
"""

import numpy as np
import pytest
from roundtrip import assert_derivatives_reparse

import chainrule as cr

inv, det = np.linalg.inv, np.linalg.det
SIZES = {"n": 3, "m": 4, "k": 2, "p": 5}


def eye(n):
    return np.eye(n)


def row(expr, var, expected, order=1, gen=None, **decls):
    return pytest.param(expr, decls, var, expected, order, gen or {}, id=f"d{order}({expr})/d{var}")


def softmax(x):
    e = np.exp(x - x.max())
    return e / e.sum()


def norm_hessian(x, a):
    r = np.linalg.norm(x - a)
    u = (x - a) / r
    return (eye(len(x)) - np.outer(u, u)) / r


WC = {"X": "wellcond"}

ROWS = [
    # linear and bilinear forms
    row("a'*x", "x", lambda a, **_: a, a="vector", x="vector"),
    row("x'*a", "x", lambda a, **_: a, a="vector", x="vector"),
    row("a'*X*b", "X", lambda a, b, **_: np.outer(a, b), a=("m",), X=("m", "n"), b=("n",)),
    row("a'*X'*b", "X", lambda a, b, **_: np.outer(b, a), a=("n",), X=("m", "n"), b=("m",)),
    row("a'*X*a", "X", lambda a, **_: np.outer(a, a), a="vector", X="matrix"),
    row("X", "X", lambda X, **_: np.einsum("ik,jl->ijkl", eye(X.shape[0]), eye(X.shape[1])), X=("m", "n")),
    row("X'", "X", lambda X, **_: np.einsum("jk,il->ijkl", eye(X.shape[0]), eye(X.shape[1])), X=("m", "n")),
    row("A*x", "x", lambda A, **_: A, A="matrix", x="vector"),
    row("A'*x", "x", lambda A, **_: A.T, A=("m", "n"), x=("m",)),
    row("A*X*B", "X", lambda A, B, **_: np.einsum("ik,lj->ijkl", A, B), A=("k", "m"), X=("m", "n"), B=("n", "p")),
    row("X*a", "X", lambda X, a, **_: np.einsum("ik,l->ikl", eye(len(X)), a), X=("m", "n"), a=("n",)),
    row("X'*a", "X", lambda X, a, **_: np.einsum("il,k->ikl", eye(X.shape[1]), a), X=("m", "n"), a=("m",)),
    row("x*x'", "x", lambda x, **_: np.einsum("ik,j->ijk", eye(len(x)), x) + np.einsum("i,jk->ijk", x, eye(len(x))),
        x="vector"),
    row("einsum('ij,j->i', A, x)", "x", lambda A, **_: A, A=("m", "n"), x=("n",)),
    row("einsum('ij,j->i', A, x)", "A", lambda A, x, **_: np.einsum("ik,l->ikl", eye(len(A)), x),
        A=("m", "n"), x=("n",)),
    # quadratic forms
    row("b'*X'*X*c", "X", lambda X, b, c, **_: X @ (np.outer(b, c) + np.outer(c, b)), b=("n",), X=("m", "n"), c=("n",)),
    row("(B*x+b)'*C*(D*x+d)", "x", lambda B, C, D, x, b, d, **_: B.T @ C @ (D @ x + d) + D.T @ C.T @ (B @ x + b),
        x=("n",), B=("m", "n"), b=("m",), C=("m", "k"), D=("k", "n"), d=("k",)),
    row("x'*B*x", "x", lambda B, x, **_: (B + B.T) @ x, B="matrix", x="vector"),
    row("x'*B*x", "x", lambda B, **_: B + B.T, order=2, B="matrix", x="vector"),
    row("x'*A*x", "x", lambda A, x, **_: 2 * A @ x, A="symmetric", x="vector"),
    row("b'*X'*D*X*c", "X", lambda X, D, b, c, **_: D.T @ X @ np.outer(b, c) + D @ X @ np.outer(c, b),
        b=("n",), X=("m", "n"), D=("m", "m"), c=("n",)),
    row("(X*b+c)'*D*(X*b+c)", "X", lambda X, D, b, c, **_: np.outer((D + D.T) @ (X @ b + c), b),
        X=("m", "n"), b=("n",), c=("m",), D=("m", "m")),
    row("(x-A*s)'*W*(x-A*s)", "x", lambda x, A, s, W, **_: 2 * W @ (x - A @ s),
        W="symmetric", x=("m",), A=("m", "n"), s=("n",)),
    row("(x-A*s)'*W*(x-A*s)", "s", lambda x, A, s, W, **_: -2 * A.T @ W @ (x - A @ s),
        W="symmetric", x=("m",), A=("m", "n"), s=("n",)),
    row("(x-A*s)'*W*(x-A*s)", "A", lambda x, A, s, W, **_: -2 * np.outer(W @ (x - A @ s), s),
        W="symmetric", x=("m",), A=("m", "n"), s=("n",)),
    row("(x-A*s)'*W*(x-A*s)", "s", lambda A, W, **_: 2 * A.T @ W @ A, order=2,
        W="symmetric", x=("m",), A=("m", "n"), s=("n",)),
    row("a'*x*x'*b", "x", lambda a, b, x, **_: (np.outer(a, b) + np.outer(b, a)) @ x,
        a="vector", b="vector", x="vector"),
    row("(a'*x)^2", "x", lambda a, x, **_: 2 * (a @ x) * a, a="vector", x="vector"),
    row("(a'*x)^2", "x", lambda a, **_: 2 * np.outer(a, a), order=2, a="vector", x="vector"),
    row("x'*A*x/(x'*x)", "x", lambda A, x, **_: 2 * (A @ x - (x @ A @ x) / (x @ x) * x) / (x @ x),
        A="symmetric", x="vector"),
    row("sqrt(x'*A*x)", "x", lambda A, x, **_: A @ x / np.sqrt(x @ A @ x), gen={"A": "spd"}, A="symmetric", x="vector"),
    row("log(x'*A*x)", "x", lambda A, x, **_: (A + A.T) @ x / (x @ A @ x), gen={"A": "wellcond"},
        A="matrix", x="vector"),
    # norms
    row("x'*x", "x", lambda x, **_: 2 * x, x="vector"),
    row("norm2(x)", "x", lambda x, **_: x / np.linalg.norm(x), x="vector"),
    row("norm2(x)^2", "x", lambda x, **_: 2 * x, x=("n",)),
    row("norm2(x-a)", "x", lambda x, a, **_: (x - a) / np.linalg.norm(x - a), x="vector", a="vector"),
    row("norm2(x-a)", "x", lambda x, a, **_: norm_hessian(x, a), order=2, x="vector", a="vector"),
    row("norm1(x)", "x", lambda x, **_: np.sign(x), gen={"x": "nonzero"}, x="vector"),
    # traces
    row("tr(X)", "X", lambda X, **_: eye(len(X)), X="matrix"),
    row("tr(X*A)", "X", lambda A, **_: A.T, X=("m", "n"), A=("n", "m")),
    row("tr(A*X*B)", "X", lambda A, B, **_: A.T @ B.T, A=("k", "m"), X=("m", "n"), B=("n", "k")),
    row("tr(A*X'*B)", "X", lambda A, B, **_: B @ A, A=("k", "n"), X=("m", "n"), B=("m", "k")),
    row("tr(X'*A)", "X", lambda A, **_: A, X=("m", "n"), A=("m", "n")),
    row("tr(A*X')", "X", lambda A, **_: A, X=("m", "n"), A=("m", "n")),
    row("tr(X*X)", "X", lambda X, **_: 2 * X.T, X="matrix"),
    row("tr(X*X*B)", "X", lambda X, B, **_: (X @ B + B @ X).T, X="matrix", B="matrix"),
    row("tr(X'*B*X)", "X", lambda X, B, **_: (B + B.T) @ X, X=("m", "n"), B=("m", "m")),
    row("tr(B*X*X')", "X", lambda X, B, **_: (B + B.T) @ X, X=("m", "n"), B=("m", "m")),
    row("tr(X*X'*B)", "X", lambda X, B, **_: (B + B.T) @ X, X=("m", "n"), B=("m", "m")),
    row("tr(X*B*X')", "X", lambda X, B, **_: X @ (B + B.T), X=("m", "n"), B=("n", "n")),
    row("tr(B*X'*X)", "X", lambda X, B, **_: X @ (B + B.T), X=("m", "n"), B=("n", "n")),
    row("tr(X'*X*B)", "X", lambda X, B, **_: X @ (B + B.T), X=("m", "n"), B=("n", "n")),
    row("tr(A*X*B*X)", "X", lambda A, X, B, **_: A.T @ X.T @ B.T + B.T @ X.T @ A.T,
        A=("n", "m"), X=("m", "n"), B=("n", "m")),
    row("tr(X'*X)", "X", lambda X, **_: 2 * X, X=("m", "n")),
    row("tr(B'*X'*C*X*B)", "X", lambda X, B, C, **_: (C + C.T) @ X @ B @ B.T, X=("m", "n"), B=("n", "k"), C=("m", "m")),
    row("tr(X'*B*X*C)", "X", lambda X, B, C, **_: B @ X @ C + B.T @ X @ C.T, X=("m", "n"), B=("m", "m"), C=("n", "n")),
    row("tr(A*X*B*X'*C)", "X", lambda A, X, B, C, **_: A.T @ C.T @ X @ B.T + C @ A @ X @ B,
        A=("k", "m"), X=("m", "n"), B=("n", "n"), C=("m", "k")),
    row("tr((A*X*B+C)*(A*X*B+C)')", "X", lambda A, X, B, C, **_: 2 * A.T @ (A @ X @ B + C) @ B.T,
        A=("k", "m"), X=("m", "n"), B=("n", "p"), C=("k", "p")),
    row("tr(X*X*X)", "X", lambda X, **_: 3 * (X @ X).T, X="matrix"),
    row("tr(A*inv(X)*B)", "X", lambda A, X, B, **_: -(inv(X) @ B @ A @ inv(X)).T, gen=WC,
        A=("k", "n"), X=("n", "n"), B=("n", "k")),
    row("tr(inv(X))", "X", lambda X, **_: -(inv(X) @ inv(X)).T, gen=WC, X="matrix"),
    row("tr(diag(x)*A)", "x", lambda A, **_: np.diag(A), x="vector", A="matrix"),
    # determinants
    row("det(X)", "X", lambda X, **_: det(X) * inv(X).T, gen=WC, X="matrix"),
    row("logdet(X)", "X", lambda X, **_: inv(X).T, gen=WC, X="matrix"),
    row("logdet(X)", "X", lambda X, **_: -np.einsum("jk,li->ijkl", inv(X), inv(X)), order=2, gen=WC, X="matrix"),
    row("det(A*X*B)", "X", lambda A, X, B, **_: det(A @ X @ B) * inv(X).T,
        gen={"A": "wellcond", "X": "wellcond", "B": "wellcond"}, A=("n", "n"), X=("n", "n"), B=("n", "n")),
    row("det(X'*A*X)", "X", lambda A, X, **_: 2 * det(X.T @ A @ X) * inv(X).T,
        gen={"A": "wellcond", "X": "wellcond"}, A=("n", "n"), X=("n", "n")),
    row("logdet(X'*X)", "X", lambda X, **_: 2 * X @ inv(X.T @ X), X=("m", "n")),
    row("det(X'*X)", "X", lambda X, **_: 2 * det(X.T @ X) * X @ inv(X.T @ X), X=("m", "n")),
    row("det(inv(X))", "X", lambda X, **_: -inv(X).T / det(X), gen=WC, X="matrix"),
    row("det(c*X)", "c", lambda c, X, **_: len(X) * c ** (len(X) - 1) * det(X), gen=WC, c="scalar", X=("n", "n")),
    # inverses
    row("inv(X)", "X", lambda X, **_: -np.einsum("ik,lj->ijkl", inv(X), inv(X)), gen=WC, X="matrix"),
    row("a'*inv(X)*b", "X", lambda X, a, b, **_: -inv(X).T @ np.outer(a, b) @ inv(X).T, gen=WC,
        a="vector", X="matrix", b="vector"),
    row("inv(X)*a", "X", lambda X, a, **_: -np.einsum("ik,l->ikl", inv(X), inv(X) @ a), gen=WC, X="matrix", a="vector"),
    row("inv(X)*a", "a", lambda X, **_: inv(X), gen=WC, X="matrix", a="vector"),
    # element-wise maps, reductions and their compositions
    row("exp(x)", "x", lambda x, **_: np.diag(np.exp(x)), x="vector"),
    row("sum(log(x))", "x", lambda x, **_: 1 / x, gen={"x": "pos"}, x="vector"),
    row("sum(exp(A*x))", "x", lambda A, x, **_: A.T @ np.exp(A @ x), A=("m", "n"), x=("n",)),
    row("tanh(A*x)", "x", lambda A, x, **_: (1 - np.tanh(A @ x) ** 2)[:, None] * A, A=("m", "n"), x=("n",)),
    row("logsumexp(x)", "x", lambda x, **_: softmax(x), x="vector"),
    row("softmax(x)", "x", lambda x, **_: np.diag(softmax(x)) - np.outer(softmax(x), softmax(x)), x="vector"),
    row("diag(X)", "X", lambda X, **_: np.einsum("ik,il->ikl", eye(len(X)), eye(len(X))), X="matrix"),
    row("diag(x)", "x", lambda x, **_: np.einsum("ij,jk->ijk", eye(len(x)), eye(len(x))), x="vector"),
]


def sample(rng, shape, kind):
    if kind == "pos":
        return 0.5 + rng.random(shape)
    if kind == "nonzero":
        return rng.choice([-1.0, 1.0], shape) * (0.5 + rng.random(shape))
    if kind in ("sym", "spd", "wellcond"):
        m = rng.standard_normal(shape)
        if kind == "sym":
            return (m + m.T) / 2
        if kind == "spd":
            return m @ m.T + shape[0] * np.eye(shape[0])
        return shape[0] * np.eye(shape[0]) + 0.5 * m
    return rng.standard_normal(shape)


def shapes(f):
    return {name: info.shape for name, info in f.variables.items()}


def concrete_dims(variables):
    free = iter([s for s in (3, 4, 2, 5, 6, 7) if s not in SIZES.values()] + [8, 9, 10])
    names = sorted({d for shape in variables.values() for d in shape if isinstance(d, str)})
    return {d: SIZES.get(d) or next(free) for d in names}


def make_values(f, decls, gen, seed=0):
    rng = np.random.default_rng(seed)
    dims = concrete_dims(shapes(f))
    values = {}
    for name, shape in sorted(shapes(f).items()):
        kind = gen.get(name, "sym" if decls.get(name) == "symmetric" else "normal")
        value = sample(rng, tuple(dims.get(d, d) for d in shape), kind)
        values[name] = float(value) if np.ndim(value) == 0 else value
    return values


def setup(expr, decls, var, expected, gen):
    f = cr.parse(expr, **decls)
    values = make_values(f, decls, gen)
    return f, values, np.asarray(expected(**values), dtype=float)


@pytest.mark.parametrize("expr, decls, var, expected, order, gen", ROWS)
def test_derivative_matches_closed_form(expr, decls, var, expected, order, gen):
    f, values, want = setup(expr, decls, var, expected, gen)
    d = cr.derivative(f, var, order=order)
    assert tuple(d.shape) == tuple(f.shape) + tuple(f.variables[var].shape) * order
    got = np.asarray(d.evaluate(**values), dtype=float)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("expr, decls, var, expected, order, gen", ROWS)
def test_printed_derivative_reparses_to_same_values(expr, decls, var, expected, order, gen):
    f, values, want = setup(expr, decls, var, expected, gen)
    d = cr.derivative(f, var, order=order)
    again = np.asarray(cr.parse(d.text(), **shapes(f)).evaluate(**values), dtype=float)
    assert again.shape == want.shape and np.allclose(again, want), d.text()
    assert_derivatives_reparse(f, values, var)   # the function, orders 1 and 2, every layout


@pytest.mark.parametrize("expr, decls, var, expected, order, gen", ROWS)
def test_finite_differences_agree(expr, decls, var, expected, order, gen):
    f, values, _ = setup(expr, decls, var, expected, gen)
    result = cr.check(f, var, at=values, order=order)
    assert result.ok, (result.max_abs_error, result.max_rel_error)
