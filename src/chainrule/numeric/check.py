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
    the same infinity.
    """
    max_abs_error: float
    max_rel_error: float
    tolerance: float
    directions: int
    finite: bool = True

    @property
    def ok(self) -> bool:
        return bool(self.max_rel_error <= self.tolerance)

    def _repr_html_(self) -> str:
        """Jupyter: ok (green) or MISMATCH (red), with the errors."""
        colour, mark = ("#11772b", "✓") if self.ok else ("#b00020", "✗")
        return f'<span class="chainrule-check" style="color:{colour}">{mark} {escape(str(self))}</span>'

    def __str__(self) -> str:
        verdict = "ok" if self.ok else "MISMATCH"
        where = "" if self.finite else "; not finite at this point"
        return (f"finite-difference check: {verdict} (max abs error {self.max_abs_error:.2e}, "
                f"max rel error {self.max_rel_error:.2e}, {self.directions} directions{where})")


def directional_check(f, jac, x: np.ndarray, n_out: int, rng: np.random.Generator, max_directions: int = 24,
                      tolerance: float = 1e-5, symmetric: bool = False) -> CheckResult:
    """Compare jac (shape F + x.shape) with (f(x+h v) - f(x-h v)) / 2h for coordinate or random directions v.

    A symmetric matrix variable only moves in symmetric directions: the expression may rely on x' = x.
    The relative error divides by the largest finite entry of the symbolic side (at least 1).
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
    worst_abs, worst_rel, finite = 0.0, 0.0, bool(np.all(np.isfinite(jac)))
    axes = (tuple(range(jac.ndim - x.ndim, jac.ndim)), tuple(range(x.ndim)))
    with np.errstate(all="ignore"):  # infinities and NaN are judged below, not warned about
        for v in directions:
            numeric, finite_here = _central(f, x, v, h)
            finite = finite and finite_here
            symbolic = np.tensordot(jac, v, axes=axes) if x.ndim else jac * v
            error = _max_error(numeric, symbolic)
            if error > tolerance * _scale(symbolic):
                error = min(error, _max_error(_richardson(f, x, v, h, numeric), symbolic))
            worst_abs, worst_rel = max(worst_abs, error), max(worst_rel, error / _scale(symbolic))
    return CheckResult(worst_abs, worst_rel, tolerance, len(directions), finite)


def _central(f, x: np.ndarray, v: np.ndarray, h: float) -> tuple[np.ndarray, bool]:
    """(f(x+h v) - f(x-h v)) / 2h, whose error is h²/6 times the third directional derivative (and rounding)."""
    plus, minus = np.asarray(f(x + h * v), dtype=float), np.asarray(f(x - h * v), dtype=float)
    return (plus - minus) / (2 * h), bool(np.all(np.isfinite(plus)) and np.all(np.isfinite(minus)))


def _richardson(f, x: np.ndarray, v: np.ndarray, h: float, at_h: np.ndarray) -> np.ndarray:
    """(4 D(h/2) - D(h)) / 3: the h² terms of the two central differences cancel, leaving an error of order h⁴.
    Used only where D(h) disagrees, so that a large third derivative (exp(B).^B) is not mistaken for a wrong
    derivative; a wrong derivative stays as far from this estimate as from D(h)."""
    return (4 * _central(f, x, v, h / 2)[0] - at_h) / 3


def _max_error(numeric: np.ndarray, symbolic: np.ndarray) -> float:
    """max |numeric - symbolic|: an entry where both are the same infinity counts 0; NaN or one-sided inf, inf."""
    error = np.abs(numeric - symbolic)
    error = np.where(np.isinf(numeric) & (numeric == symbolic), 0.0, error)
    error = np.where(np.isnan(error), np.inf, error)
    return float(np.max(error)) if error.size else 0.0


def _scale(symbolic: np.ndarray) -> float:
    # Only finite entries: an infinite scale would make every error relatively 0 (issue 7, A8).
    finite = np.abs(symbolic[np.isfinite(symbolic)])
    return max(1.0, float(np.max(finite)) if finite.size else 0.0)
