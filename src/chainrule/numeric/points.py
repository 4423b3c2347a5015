"""Random points at which a derivative is checked.

A check at random values must be able to fail: a wrong `2*x'*A` and the right `x'*(A+A')` agree at every
symmetric A, so a matrix is drawn general (not symmetric) unless it is declared symmetric. In the general draws
square matrices get 2·I added, which keeps them well conditioned (inv, det, logdet) without making them symmetric.

A random point can fall outside the function's domain (`log(s)` at s < 0); the caller then asks for the next
candidate. The first half of the candidates are general (standard normal, any sign); the second half are positive
values in [0.2, 0.9], for functions defined only there (log, sqrt, arcsin of every entry).
"""
from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence

import numpy as np

from ..errors import EvaluationError
from ..limits import current_limits

TRIES = 20
"""How many random points a check draws before it reports that none was in the function's domain."""


def valid_seed(seed: object) -> int:
    """The seed as an int >= 0 (NumPy's generators refuse negative seeds), or an EvaluationError."""
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise EvaluationError(f"the seed must be a whole number >= 0, not {seed!r}", hint="Use seed=0, 1, 2, ...")
    return int(seed)


def candidates(variables: Mapping, seed: int, size: int = 3, tries: int = TRIES) -> Iterator[dict]:
    """`tries` random points (name -> array), each from its own seed derived from `seed`."""
    seed = valid_seed(seed)
    for attempt in range(tries):
        rng = np.random.default_rng((seed, attempt))
        yield draw(variables, rng, size, positive=attempt >= (tries + 1) // 2)


def finite_points(variables: Mapping, exprs: Sequence, seed: int, size: int = 3) -> Iterator[dict]:
    """The candidate points at which every expression of `exprs` evaluates to finite numbers, in order; after the
    last candidate, an EvaluationError saying that no (further) point was found."""
    why = ""
    for values in candidates(variables, seed, size):
        try:
            with np.errstate(all="ignore"):
                inside = all(np.all(np.isfinite(e.evaluate(values))) for e in exprs)
        except EvaluationError as error:  # outside the domain, e.g. inv of a singular matrix
            why = error.message
            continue
        why = ""
        if inside:
            yield values
    raise no_point_found(why)


def no_point_found(why: str = "") -> EvaluationError:
    """The error when none of the random points is inside the domain; `why`: the last point's evaluation error."""
    last = f" (the last one: {why})" if why else ""
    return EvaluationError(f"no point where f and its derivative are finite was found in {TRIES} random tries{last}",
                           hint="Give values inside the function's domain: at={...} in Python, --at on the "
                                "command line.")


def draw(variables: Mapping, rng: np.random.Generator, size: int = 3, positive: bool = False) -> dict:
    """One value per variable; named dimensions get sizes size, size+1, ... in order of first appearance."""
    sizes: dict = {}
    values = {}
    for name, (shape, symmetric) in variables.items():
        dims = tuple(d if isinstance(d, int) else sizes.setdefault(d, size + len(sizes)) for d in shape)
        limits = current_limits()
        limits.check("size", math.prod(dims), f"the random value of {name}")
        limits.check("eval_bytes", 8 * math.prod(dims), f"the random value of {name}")
        values[name] = _positive(dims, rng, symmetric) if positive else _general(dims, rng, symmetric)
    return values


def _general(dims: tuple, rng: np.random.Generator, symmetric: bool) -> np.ndarray:
    value = rng.standard_normal(dims)
    if len(dims) == 2 and dims[0] == dims[1]:
        # entries of G/sqrt(n) keep its eigenvalues near the unit disk, so G/sqrt(n) + 2I is invertible
        # with det > 0 almost always, and as far from symmetric as G is
        value = (value + value.T) / 2 if symmetric else value
        value = value / np.sqrt(dims[0]) + 2 * np.eye(dims[0])
    return value


def _positive(dims: tuple, rng: np.random.Generator, symmetric: bool) -> np.ndarray:
    # entries in [0.2, 0.9]: inside the domain of log, sqrt, arcsin, arccos and x.^y, and away from its edges
    # (0 and 1), where derivatives grow without bound and finite differences lose their accuracy
    value = rng.uniform(0.2, 0.9, dims)
    if symmetric and len(dims) == 2:
        value = (value + value.T) / 2
    return value
