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
        if variables[name].symmetric and not np.allclose(arrays[name], arrays[name].T):
            raise EvaluationError(f"{name} is declared symmetric but its value is not",
                                  hint="Give a symmetric matrix, or declare it a plain matrix.")
    return sizes, arrays


def _array(name: str, value: object, shape: tuple, sizes: dict, where: dict) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as error:
        raise EvaluationError(f"the value of {name} is not an array of numbers ({error})") from None
    if array.ndim != len(shape):
        raise EvaluationError(f"{name} is declared {_shape_text(shape)} but its value has shape "
                              f"{_shape_text(array.shape)}",
                              hint="Vectors are 1-D arrays, matrices 2-D, scalars plain numbers.")
    for dim, size in zip(shape, array.shape, strict=True):
        if isinstance(dim, int) and dim != size:
            raise EvaluationError(f"{name} must have shape {_shape_text(shape)}, got {_shape_text(array.shape)}")
        if isinstance(dim, str):
            if sizes.setdefault(dim, size) != size:
                raise EvaluationError(f"dimension {dim} is {sizes[dim]} in {where[dim]} but {size} in {name}",
                                      hint="Values must agree on every shared dimension.")
            where.setdefault(dim, name)
    return array
