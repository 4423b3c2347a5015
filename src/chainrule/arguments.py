"""Reading command-line values shared by every subcommand: declarations, values, random points."""
from __future__ import annotations

import difflib
import json

import numpy as np

from .errors import ChainruleError
from .expr import Expr
from .language.infer import KINDS


class UsageError(ChainruleError):
    """A command-line argument that cannot be read."""


def declaration(item: str) -> tuple[str, object]:
    name, _, value = item.partition("=")
    if not name.isidentifier() or not value:
        raise UsageError(f"cannot read --var {item!r}", hint="Write --var A=symmetric, --var X=m,n or --var x=3.")
    if value in KINDS:
        return name, value
    if value == "()":
        return name, ()
    close = difflib.get_close_matches(value, KINDS, n=1, cutoff=0.75)
    if close and value not in KINDS:
        raise UsageError(f"unknown kind in --var {item!r}", hint=f"Did you mean {name}={close[0]}?")
    return name, tuple(int(d) if d.strip().isdigit() else d.strip() for d in value.split(","))


def value(item: str) -> tuple[str, np.ndarray]:
    name, _, text = item.partition("=")
    try:
        if text.lstrip().startswith("["):
            return name, np.array(json.loads(text), dtype=float)
        array = np.array([[float(v) for v in row.split(",")] for row in text.split(";")])
    except ValueError:   # not numbers, or rows of different lengths
        raise UsageError(f"cannot read --at {item!r}",
                         hint="Write --at x=1,2,3 for a vector, --at A='1,2;3,4' for a matrix (rows of equal "
                              "length), --at b=0.5, or JSON such as --at A='[[1,2],[3,4]]'.") from None
    return name, array.reshape(-1) if ";" not in text else array


def values_for(f: Expr, given: dict) -> dict:
    """The given values, a scalar typed as b=0.5 (read as [0.5]) made a scalar again."""
    scalars = {name for name, info in f.variables.items() if not info.shape}
    return {name: v.reshape(()) if name in scalars and v.size == 1 else v for name, v in given.items()}


def random_values(f: Expr, seed: int = 0, size: int = 3) -> dict:
    """Random values for every variable (symmetric positive definite for square matrices), sizes 3, 4, 5, ..."""
    rng = np.random.default_rng(seed)
    sizes: dict = {}
    values = {}
    for name, (shape, _) in f.variables.items():
        dims = tuple(d if isinstance(d, int) else sizes.setdefault(d, size + len(sizes)) for d in shape)
        value = rng.standard_normal(dims)
        if len(dims) == 2 and dims[0] == dims[1]:
            value = value @ value.T / dims[0] + np.eye(dims[0])
        values[name] = value
    return values
