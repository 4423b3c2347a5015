"""Every LaTeX string the golden tests make chainrule print converts to MathML without an error: the expressions and
derivatives of the Matrix Cookbook and paper tables (tests/calculus), and the derivations explain writes for the
paper's tables, equation by equation, as the page shows them."""
from __future__ import annotations

import importlib.util
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import chainrule as cr
from chainrule.explain import explain
from chainrule.explain.render import Math, outline
from chainrule.notation.mathml import to_mathml

pytest.importorskip("latex2mathml", reason="typesetting needs latex2mathml (pip install -e '.[web]')")

TESTS = Path(__file__).parents[1]


def golden_rows(name: str) -> list:
    """The ROWS of a golden test module: (expression, declarations, variable, order)."""
    sys.path.insert(0, str(TESTS))     # the modules import tests/roundtrip.py
    try:
        spec = importlib.util.spec_from_file_location(f"golden_{name}", TESTS / "calculus" / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(TESTS))
    rows = []
    for param in module.ROWS:
        expr, decls, var = param.values[:3]
        order = param.values[4] if name == "test_cookbook" else 1
        rows.append((expr, decls, var, order))
    return rows


COOKBOOK, PAPER = golden_rows("test_cookbook"), golden_rows("test_paper_tables")


def assert_converts(latex: str) -> None:
    mathml = to_mathml(latex, strict=True)
    root = ET.fromstring(mathml)                   # well-formed XML
    assert root.tag.endswith("math")
    assert "merror" not in mathml, latex


def derivation_latex(expr: str, decls: dict, var: str) -> list[str]:
    """Every formula of explain's derivation in LaTeX, as the page converts them (each side of each equation)."""
    d = explain(expr, var, declarations=decls)
    found = []
    for kind, body in outline(d, Math(True, "d" if d.rule == "single-variable" else "∂")).blocks:
        if kind == "items":
            found += [seg[1] for row in body for seg in row if isinstance(seg, tuple) and seg[0] == "m"]
        elif kind == "eq":
            found += [side for line in body for side in line if side and side != "…"]
    return found


@pytest.mark.parametrize("expr, decls, var, order", COOKBOOK + PAPER)
def test_golden_expressions_and_derivatives_convert(expr, decls, var, order):
    decls = {k: v for k, v in decls.items() if v != "wellcond"}      # a test-only kind of random values
    f = cr.parse(expr, **decls)
    d = cr.derivative(f, var, order=order)
    for latex in (f.latex(), d.latex(), d.latex(cse=True).replace("&", "")):
        for line in latex.split("\\\\\n"):
            assert_converts(line)


@pytest.mark.parametrize("expr, decls, var, order", PAPER)
def test_paper_derivations_convert(expr, decls, var, order):
    for latex in derivation_latex(expr, decls, var):
        assert_converts(latex)


def test_a_tensor_derivation_with_index_notation_converts():
    for latex in derivation_latex("A*X*B", {}, "X") + derivation_latex("inv(X)", {}, "X"):
        assert_converts(latex)


def test_unconvertible_latex_shows_as_code_instead_of_breaking():
    assert to_mathml(r"\begin{nonsense}").startswith('<code class="tex">')
