"""NumPy evaluation of the primitives that are neither element-wise nor products: stable where the textbook formula
is not.

- `det_derivative(A, k)`: the k-th derivative tensor of det at A (primitive Op.COFACTOR, CofactorParams(order=k)),
  exact at singular matrices, where the formula det(A) inv(A)' fails;
- `cofactor_along(A, E)`: D2det(A) against a matrix E (the derivative of the cofactor matrix along E) in O(n^3), where
  det_derivative(A, 2) has n^4 entries: how a product of cofactor(A, 2) with a matrix is planned (plan/contract.py).
- `norm2(x)`, `unit(x)`: the 2-norm and x/norm2(x), scaled so that no square overflows or underflows; unit(0) = 0.
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from ..limits import current_limits


def det_derivative(a: np.ndarray, k: int) -> np.ndarray:
    """D^k det(A), shape (n, n) * k: entry [i1, j1, ..., ik, jk] = d^k det(A) / dA[i1, j1] ... dA[ik, jk].

    With the SVD A = U diag(s) V', det(A + E) = d det(diag(s) + U' E V) where d = det(U V') = +-1. The k-th
    derivative of det at diag(s) is nonzero only where the rows a1..ak are distinct and the columns b1..bk are a
    permutation of them: sign(perm) times the product of the s_m outside {a1..ak}. No division, so singular and
    nearly singular matrices are as accurate as any other. (For k = 1 this is the cofactor matrix, det(A) inv(A)'
    when A is invertible; the k-th are the signed complementary (n-k)-minors.)
    """
    n = a.shape[0]
    _check_size(n, k)
    if k > n:
        return np.zeros((n, n) * k)   # det is a polynomial of degree n
    if not np.all(np.isfinite(a)):
        return np.full((n, n) * k, np.nan)
    u, s, vt = np.linalg.svd(a)
    sign = np.sign(np.linalg.det(u) * np.linalg.det(vt))
    if k == 1:
        return sign * (u * _products_without_one(s)) @ vt
    rotated = _diagonal_det_derivative(s, k)
    for axis in range(2 * k):
        frame = u if axis % 2 == 0 else vt.T   # rows turn by U, columns by V
        rotated = np.moveaxis(np.tensordot(frame, rotated, axes=(1, axis)), 0, axis)
    return sign * rotated


def cofactor_along(a: np.ndarray, e: np.ndarray) -> np.ndarray:
    """sum over c, d of D2det(A)[c, d, i, j] E[c, d] (D2det is symmetric in its two pairs of axes), without D2det.

    With the SVD A = U diag(s) V' and F = U' E V, D2det at diag(s) against F is, at [a, b]: sign * sum over c != a of
    q[a, c] F[c, c] where b = a, and -sign * q[a, b] F[b, a] where b != a, q[a, c] being the product of the s_m with m
    neither a nor c; then rotated back by U and V. q comes from prefix and suffix products (no division by a zero
    s_m), so singular matrices are as accurate as any other.
    """
    n = a.shape[0]
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(e))):
        return np.full((n, n), np.nan)
    u, s, vt = np.linalg.svd(a)
    sign = np.sign(np.linalg.det(u) * np.linalg.det(vt))
    f = u.T @ e @ vt.T
    without = np.where(np.eye(n, dtype=bool), 1.0, s)      # row c: the s_m with s_c replaced by 1
    q = _products_without_one(without)
    np.fill_diagonal(q, 0.0)
    rotated = np.diag(q @ np.diagonal(f)) - q * f.T
    return sign * (u @ rotated @ vt)


def _check_size(n: int, k: int) -> None:
    limits = current_limits()
    entries = n ** (2 * k)
    limits.check("size", entries, f"entries of cofactor(A, {k}) for a {n}x{n} matrix")
    limits.check("eval_bytes", 8 * entries, f"bytes of cofactor(A, {k}) for a {n}x{n} matrix")


def _products_without_one(s: np.ndarray) -> np.ndarray:
    """prod_{m != a} s_m for every a (along the last axis), from prefix and suffix products (no division by a zero
    s_a)."""
    ones = np.ones(s.shape[:-1] + (1,))
    before = np.concatenate((ones, np.cumprod(s[..., :-1], axis=-1)), axis=-1)
    after = np.concatenate((np.cumprod(s[..., :0:-1], axis=-1)[..., ::-1], ones), axis=-1)
    return before * after


def _diagonal_det_derivative(s: np.ndarray, k: int) -> np.ndarray:
    n = len(s)
    result = np.zeros((n, n) * k)
    perms = np.array(list(itertools.permutations(range(k))))
    parity = np.array([_parity(p) for p in perms], dtype=float)
    for subset in itertools.combinations(range(n), k):
        outside = math.prod(s[m] for m in range(n) if m not in subset)
        chosen = np.array(subset)[perms]                       # every ordering of the subset, one per row
        index = []
        for m in range(k):
            index += [chosen[:, m][:, None], chosen[:, m][None, :]]   # rows a_m (one ordering), columns b_m (another)
        result[tuple(index)] = np.outer(parity, parity) * outside
    return result


def _parity(perm) -> int:
    sign, seen = 1, set()
    for start in range(len(perm)):
        length, j = 0, start
        while j not in seen:
            seen.add(j)
            j = perm[j]
            length += 1
        if length and length % 2 == 0:
            sign = -sign
    return sign


def norm2(x: np.ndarray) -> np.ndarray | np.float64:
    """sqrt(sum(x.^2)) computed as m*sqrt(sum((x/m).^2)) with m = max|x|: finite wherever the result is."""
    scale = np.max(np.abs(x)) if np.size(x) else np.float64(0.0)
    if scale == 0.0 or not np.isfinite(scale):
        return np.float64(scale)
    return scale * np.sqrt(np.sum(np.square(x / scale)))


def unit(x: np.ndarray) -> np.ndarray:
    """x/norm2(x), and 0 at x = 0 (the minimum-norm subgradient of norm2 there, as PyTorch's norm takes)."""
    x = np.asarray(x, dtype=float)
    scale = np.max(np.abs(x)) if x.size else 0.0
    if scale == 0.0:
        return np.zeros_like(x)
    y = x / scale
    return y / np.sqrt(np.sum(np.square(y)))
