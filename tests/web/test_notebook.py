"""Rich display in Jupyter (and in nbconvert's HTML): mathematics as MathML, graphs as SVG, tables as HTML, no
script anywhere."""
from __future__ import annotations

import pytest

import chainrule as cr

pytest.importorskip("latex2mathml", reason="typesetting needs latex2mathml (pip install -e '.[web]')")


def no_script(html: str) -> str:
    assert "<script" not in html.lower() and "http://" not in html.replace("http://www.w3.org/", "")
    return html


def test_expr_displays_as_mathml():
    html = no_script(cr.derivative("x'*A*x", "x")._repr_html_())
    assert "<math" in html and "<msup>" in html and "(n)" in html


def test_derivation_displays_steps_math_and_graph():
    html = no_script(cr.explain("max(0, w'*x+b)", "w")._repr_html_())
    assert "Step 1" in html and "Step 4" in html and html.count("<math") > 10 and "<svg" in html


def test_trace_displays_tables():
    t = cr.trace("max(0, w'*x+b)", ["w"], at={"w": [0.5, -0.3], "x": [1, 2], "b": 0.4})
    html = no_script(t._repr_html_())
    assert html.count("<table") >= 3 and "Backward pass" in html and "all checks ok" in html


def test_check_result_says_ok_or_mismatch():
    good = cr.check("x'*A*x", "x", seed=0)
    assert "✓" in good._repr_html_() and "ok (max abs error" in good._repr_html_()
    bad = cr.CheckResult(1.0, 0.5, 1e-5, 3)
    assert "✗" in bad._repr_html_() and "MISMATCH" in bad._repr_html_()
