"""Matching given values to an expression's variables, and dimension names to sizes."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..errors import EvaluationError
from ..ir import VarInfo


def _shape_text(shape) -> str:
    return "×".join(map(str, shape)) if shape else "scalar"


def bind(variables: Mapping[str, VarInfo], values: Mapping[str, object], needed: set[str]) -> tuple[dict, dict]:
    """(sizes of named dimensions, float arrays by name); raises EvaluationError naming what does not fit."""
    missing = [n for n in variables if n in needed and n not in values]
    if missing:
        raise EvaluationError(f"no value given for {', '.join(missing)}",
                              hint=f"Give every variable a value, e.g. evaluate({missing[0]}=...).")
    sizes: dict[str, int] = {}
    where: dict[str, str] = {}
    arrays = {}
    for name, value in values.items():
        if name not in variables:
            raise EvaluationError(f"'{name}' is not a variable of this expression",
                                  hint=f"Its variables are: {', '.join(variables) or 'none'}.")
        arrays[name] = _array(name, value, variables[name].shape, sizes, where)
        if variables[name].symmetric and not np.allclose(arrays[name], arrays[name].T, equal_nan=True):
            raise EvaluationError(f"{name} is declared symmetric but its value is not",
                                  hint="Give a symmetric matrix, or declare it a plain matrix.")
    return sizes, arrays


def _array(name: str, value: object, shape: tuple, sizes: dict, where: dict) -> np.ndarray:
    array = as_real_array(name, value)
    if array.ndim != len(shape):
        raise EvaluationError(f"{name} is declared {_shape_text(shape)} but its value has shape "
                              f"{_shape_text(array.shape)}",
                              hint="Vectors are 1-D arrays, matrices 2-D, scalars plain numbers.")
    if array.size == 0:      # every dimension is a size >= 1 (a max or logsumexp over nothing has no value)
        raise EvaluationError(f"the value of {name} is empty (shape {_shape_text(array.shape)})",
                              hint="Give at least one entry along every dimension.")
    for dim, size in zip(shape, array.shape, strict=True):
        if isinstance(dim, int) and dim != size:
            raise EvaluationError(f"{name} must have shape {_shape_text(shape)}, got {_shape_text(array.shape)}")
        if isinstance(dim, str):
            if sizes.setdefault(dim, size) != size:
                raise EvaluationError(f"dimension {dim} is {sizes[dim]} in {where[dim]} but {size} in {name}",
                                      hint="Values must agree on every shared dimension.")
            where.setdefault(dim, name)
    return array


def as_real_array(name: str, value: object) -> np.ndarray:
    """value as a float array; EvaluationError for anything that is not real numbers (complex numbers are not
    truncated to their real part, strings are not read as numbers). NaN and infinity are accepted as given."""
    try:
        raw = np.asarray(value)
        kind = raw.dtype.kind
        if kind in "biuf":
            return raw.astype(float, copy=False)
        if kind == "c":
            raise EvaluationError(f"the value of {name} is complex; chainrule computes with real numbers",
                                  hint="Give real values (for example the real and imaginary parts separately).")
        if kind in "US":
            raise TypeError("it holds text, not numbers")
        if kind != "O":
            raise TypeError(f"it holds {raw.dtype.name} values")
        if any(item is None for item in raw.flat):
            raise TypeError("it holds None")
        return np.asarray(value, dtype=float)     # Python objects that are numbers (Fraction, Decimal, big ints)
    except EvaluationError:
        raise
    except Exception as error:  # NumPy's conversion raises many types, an object's __array__ any
        reason = str(error).split("\n")[0][:120]
        raise EvaluationError(f"the value of {name} is not an array of numbers ({reason})",
                              hint="Give a number, a list of numbers, a list of equal-length lists, or a NumPy "
                                   "array.") from None
