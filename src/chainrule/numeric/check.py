"""Finite-difference checks of symbolic derivatives."""
from __future__ import annotations

from dataclasses import dataclass
from html import escape

import numpy as np


@dataclass(frozen=True)
class CheckResult:
    """Symbolic vs central finite differences, along `directions` random directions (or every coordinate).

    `finite` is False when some compared number (the function near the point, or the derivative) was infinite or
    NaN: the point is at or past the edge of the function's domain. Such a comparison fails, unless both sides are
    the same infinity. The errors are those of the closest difference estimate; `beyond_rel_error` is the largest
    relative error beyond what the differences' own error explains (see _direction_error), the one `ok` compares
    with the tolerance (None: max_rel_error).
    """
    max_abs_error: float
    max_rel_error: float
    tolerance: float
    directions: int
    finite: bool = True
    beyond_rel_error: float | None = None

    @property
    def ok(self) -> bool:
        judged = self.max_rel_error if self.beyond_rel_error is None else self.beyond_rel_error
        return bool(judged <= self.tolerance)

    def _repr_html_(self) -> str:
        """Jupyter: ok (green) or MISMATCH (red), with the errors."""
        colour, mark = ("#11772b", "✓") if self.ok else ("#b00020", "✗")
        return f'<span class="chainrule-check" style="color:{colour}">{mark} {escape(str(self))}</span>'

    def __str__(self) -> str:
        verdict = "ok" if self.ok else "MISMATCH"
        where = "" if self.finite else "; not finite at this point"
        if self.ok and self.max_rel_error > self.tolerance:
            where += "; the differences' own error explains it"
        return (f"finite-difference check: {verdict} (max abs error {self.max_abs_error:.2e}, "
                f"max rel error {self.max_rel_error:.2e}, {self.directions} directions{where})")


# Each evaluation of f may be off by a few units of roundoff of its value (the arithmetic's absolute error): a
# central difference with step h divides that by h, so the differences of a large, slowly varying f are uncertain by
# up to ROUNDING * |f| / h (16 units of roundoff allow for error growing through the operations).
ROUNDING = 16 * np.finfo(float).eps


@dataclass(frozen=True)
class _Difference:
    """A central difference along a direction, the bound on its rounding error per entry, and whether f was finite
    at both points."""
    value: np.ndarray
    rounding: np.ndarray
    finite: bool


def directional_check(f, jac, x: np.ndarray, n_out: int, rng: np.random.Generator, max_directions: int = 24,
                      tolerance: float = 1e-5, symmetric: bool = False) -> CheckResult:
    """Compare jac (shape F + x.shape) with (f(x+h v) - f(x-h v)) / 2h for coordinate or random directions v.

    A symmetric matrix variable only moves in symmetric directions: the expression may rely on x' = x.
    The relative error divides by the largest finite entry of the symbolic side (at least 1). The errors are
    reported as measured, and judged beyond what the differences themselves may err by (see _direction_error).
    """
    x = np.asarray(x, dtype=float)
    if x.size <= max_directions:
        directions = [np.eye(x.size)[k].reshape(x.shape) for k in range(x.size)]
    else:
        directions = [rng.standard_normal(x.shape) for _ in range(max_directions)]
    if symmetric:
        directions = [(v + v.T) / 2 for v in directions]
    h = 1e-6 * max(1.0, float(np.max(np.abs(x))) if x.size else 1.0)
    jac = np.asarray(jac, dtype=float)
    worst_abs, worst_rel, worst_beyond, finite = 0.0, 0.0, 0.0, bool(np.all(np.isfinite(jac)))
    axes = (tuple(range(jac.ndim - x.ndim, jac.ndim)), tuple(range(x.ndim)))
    with np.errstate(all="ignore"):  # infinities and NaN are judged below, not warned about
        for v in directions:
            symbolic = np.tensordot(jac, v, axes=axes) if x.ndim else jac * v
            error, beyond, finite_here = _direction_error(f, x, v, h, symbolic, tolerance * _scale(symbolic))
            finite = finite and finite_here
            worst_abs, worst_rel = max(worst_abs, error), max(worst_rel, error / _scale(symbolic))
            worst_beyond = max(worst_beyond, beyond / _scale(symbolic))
    return CheckResult(worst_abs, worst_rel, tolerance, len(directions), finite, worst_beyond)


def _direction_error(f, x: np.ndarray, v: np.ndarray, h: float, symbolic: np.ndarray,
                     allowed: float) -> tuple[float, float, bool]:
    """The error of `symbolic` against the closest difference estimate along v; its error beyond what the
    differences' own error explains; whether f was finite at x +- h v.

    The error beyond is that against the central difference D(h) beyond D(h)'s rounding error (a large, flat f).
    Where that exceeds `allowed`, it is taken beyond f's noise as measured (a value that is rounding alone, such as a
    derivative of det(C*B), 0 for every B, computed from products of singular values), and then as the smallest of
    it and the errors of the Richardson estimates (4 D(s/2) - D(s)) / 3 for s = h and h/2 (a large third derivative,
    as of sin(exp(a)) at a = 9: their h² error terms cancel, leaving h⁴). A wrong derivative stays as far from each
    estimate. The Richardson estimates are judged without a rounding allowance: they amplify rounding 3- and 6-fold,
    and so would let a wrong derivative of a large f pass."""
    coarse = _central(f, x, v, h)
    finite = coarse.finite
    error, beyond = _max_error(coarse.value, symbolic), _max_error(coarse.value, symbolic, coarse.rounding)
    if beyond > allowed:
        beyond = min(beyond, _max_error(coarse.value, symbolic, _noise(f, x, v, h) / h))
    for step in (h / 2, h / 4):
        if beyond <= allowed:
            break
        fine = _central(f, x, v, step)
        estimate = _max_error((4 * fine.value - coarse.value) / 3, symbolic)
        error, beyond = min(error, estimate), min(beyond, estimate)
        coarse = fine
    return error, beyond, finite


def _central(f, x: np.ndarray, v: np.ndarray, h: float) -> _Difference:
    """(f(x+h v) - f(x-h v)) / 2h, whose error is h²/6 times the third directional derivative, and rounding."""
    plus, minus = np.asarray(f(x + h * v), dtype=float), np.asarray(f(x - h * v), dtype=float)
    rounding = ROUNDING * np.maximum(np.abs(plus), np.abs(minus)) / h
    return _Difference((plus - minus) / (2 * h), np.nan_to_num(rounding),
                       bool(np.all(np.isfinite(plus)) and np.all(np.isfinite(minus))))


def _noise(f, x: np.ndarray, v: np.ndarray, h: float) -> float:
    """A bound on f's noise (its rounding error, as seen at nearby points): the largest fourth difference of f along
    v at spacing d = h/64 (five values of f), d⁴ times the fourth derivative (its fourth difference at spacing h over
    64⁴ = 1.7e7: negligible even where a step of h moves a sine's argument by 0.2) plus noise, sqrt(70) times its
    standard deviation for independent errors; the largest over f's entries, twice, as a bound on each."""
    d = h / 64
    at = [np.asarray(f(x + k * d * v), dtype=float) for k in (-2, -1, 0, 1, 2)]
    total = at[0] - 4 * at[1] + 6 * at[2] - 4 * at[3] + at[4]
    finite = np.abs(total[np.isfinite(total)])
    return 2 * float(np.max(finite)) if finite.size else 0.0


def _max_error(numeric: np.ndarray, symbolic: np.ndarray, rounding: np.ndarray | float = 0.0) -> float:
    """max |numeric - symbolic| beyond `rounding`: an entry where both are the same infinity counts 0; NaN or
    one-sided inf, inf."""
    error = np.abs(numeric - symbolic)
    error = np.where(np.isinf(numeric) & (numeric == symbolic), 0.0, error)
    error = np.where(np.isnan(error), np.inf, np.maximum(error - rounding, 0.0))
    return float(np.max(error)) if error.size else 0.0


def _scale(symbolic: np.ndarray) -> float:
    # Only finite entries: an infinite scale would make every error relatively 0 (issue 7, A8).
    finite = np.abs(symbolic[np.isfinite(symbolic)])
    return max(1.0, float(np.max(finite)) if finite.size else 0.0)
