"""The re-parse property of the printer: `d.text()`, parsed again with the declarations of `d`'s variables (their
shapes and symmetric flags), is the same function: the same shape and the same numbers at the same values.

Used by the hypothesis properties (tests/test_properties.py) and by the golden corpora (cookbook, paper tables,
printed forms), wherever they already evaluate a function or a derivative.
"""
from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np

import chainrule as cr


def declarations(variables: Mapping, text: str) -> dict:
    """The declarations that give each variable back its shape, and its kind to a symmetric matrix that the text
    uses (declared by kind, its dimension names are the parser's own: `same_shape` maps them back; one the text does
    not use keeps its shape, which may give the sizes of a `vector(0, "n")`)."""
    used = set(re.findall(r"[A-Za-z_]\w*", re.sub(r'"[^"]*"', "", text)))   # the printer quotes with " only
    return {name: "symmetric" if info.symmetric and name in used else tuple(info.shape)
            for name, info in variables.items()}


def reparsed(d: cr.Expr) -> cr.Expr:
    """d's printed text, parsed again with the declarations of d's variables."""
    text = d.text()
    try:
        return cr.parse(text, **declarations(d.variables, text))
    except cr.ChainruleError as error:
        raise AssertionError(f"the printed text {text!r} does not parse back:\n{error}") from error


def same_shape(again: cr.Expr, d: cr.Expr) -> tuple:
    """again's shape written in d's dimension names (they differ only for the fresh dimensions of a symmetric
    declaration)."""
    names: dict = {}
    for name, info in d.variables.items():
        if name in again.variables:
            names.update(zip(again.variables[name].shape, info.shape, strict=True))
    return tuple(names.get(dim, dim) for dim in again.shape)


def assert_reparses(d: cr.Expr, values: Mapping, what: str = "", rtol: float = 1e-9) -> cr.Expr:
    """Assert the re-parse property of d at these values; returns the re-parsed expression."""
    label = f"{what or 'expression'}, printed as {d.text()!r}"
    again = reparsed(d)
    assert same_shape(again, d) == tuple(d.shape), f"{label}: parses back with shape {again.shape}, not {d.shape}"
    lost = [name for name, decl in declarations(d.variables, d.text()).items()
            if decl == "symmetric" and not again.variables[name].symmetric]
    assert not lost, f"{label}: parses back with {lost} not symmetric"
    with np.errstate(all="ignore"):
        expected = np.asarray(d.evaluate({k: v for k, v in values.items() if k in d.variables}), dtype=float)
        got = np.asarray(again.evaluate({k: v for k, v in values.items() if k in again.variables}), dtype=float)
    assert_same_numbers(got, expected, f"{label}, parsed back", rtol)
    assert isinstance(d.unicode(), str) and isinstance(d.latex(), str)
    return again


def assert_same_numbers(got: np.ndarray, expected: np.ndarray, what: str, rtol: float = 1e-9) -> None:
    """Equal shapes; equal infinities and NaNs in the same places; finite entries close relative to the largest."""
    assert got.shape == expected.shape, f"{what}: shape {got.shape}, expected {expected.shape}"
    finite = np.isfinite(expected)
    same_special = np.array_equal(got[~finite], expected[~finite], equal_nan=True)
    assert same_special and np.all(np.isfinite(got[finite])), f"{what}: non-finite entries differ\n{got}\n{expected}"
    if not finite.any():
        return
    scale = max(1.0, float(np.max(np.abs(expected[finite]))))
    error = float(np.max(np.abs(got[finite] - expected[finite])))
    assert error <= rtol * scale, \
        f"{what}: max abs error {error:.3e} (scale {scale:.3e})\ngot\n{got}\nexpected\n{expected}"


def assert_derivatives_reparse(f: cr.Expr, values: Mapping, wrt: str | list[str], max_order: int = 2) -> None:
    """The re-parse property for f and its derivatives by each variable of wrt, orders 1 to max_order, in every
    layout."""
    assert_reparses(f, values, "the function")
    for var in [wrt] if isinstance(wrt, str) else wrt:
        for order in range(1, max_order + 1):
            for layout in ("numerator", "denominator", "mixed"):
                d = cr.derivative(f, var, order=order, layout=layout)
                assert_reparses(d, values, f"the order-{order} derivative by {var} ({layout} layout)")
