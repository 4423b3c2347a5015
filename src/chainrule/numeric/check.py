"""Finite-difference checks of symbolic derivatives."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CheckResult:
    """Symbolic vs central finite differences, along `directions` random directions (or every coordinate)."""
    max_abs_error: float
    max_rel_error: float
    tolerance: float
    directions: int

    @property
    def ok(self) -> bool:
        return bool(self.max_rel_error <= self.tolerance)

    def __str__(self) -> str:
        verdict = "ok" if self.ok else "MISMATCH"
        return (f"finite-difference check: {verdict} (max abs error {self.max_abs_error:.2e}, "
                f"max rel error {self.max_rel_error:.2e}, {self.directions} directions)")


def directional_check(f, jac, x: np.ndarray, n_out: int, rng: np.random.Generator, max_directions: int = 24,
                      tolerance: float = 1e-5, symmetric: bool = False) -> CheckResult:
    """Compare jac (shape F + x.shape) with (f(x+h v) - f(x-h v)) / 2h for coordinate or random directions v.

    A symmetric matrix variable only moves in symmetric directions: the expression may rely on x' = x.
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
    worst_abs, worst_rel = 0.0, 0.0
    axes = (tuple(range(jac.ndim - x.ndim, jac.ndim)), tuple(range(x.ndim)))
    for v in directions:
        numeric = (np.asarray(f(x + h * v)) - np.asarray(f(x - h * v))) / (2 * h)
        symbolic = np.tensordot(jac, v, axes=axes) if x.ndim else jac * v
        error = float(np.max(np.abs(numeric - symbolic))) if numeric.size else 0.0
        error = error if np.isfinite(error) else np.inf     # NaN never passes
        scale = max(1.0, float(np.max(np.abs(symbolic))) if symbolic.size else 0.0)
        worst_abs, worst_rel = max(worst_abs, error), max(worst_rel, error / scale)
    return CheckResult(worst_abs, worst_rel, tolerance, len(directions))
