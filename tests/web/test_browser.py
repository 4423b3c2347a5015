"""The page in a real headless Chromium: typed expressions, typeset results, the four steps, the graph and a node's
numbers, an error with its caret, the export, the shareable address; nothing requested from anywhere else and no
console error (checked by the `page` fixture after every test)."""
from __future__ import annotations

from urllib.parse import quote

import pytest

try:
    from playwright.sync_api import expect
except ImportError:
    pytest.skip("the browser tests need Playwright for Python (pip install -e '.[test]')", allow_module_level=True)


def derive(page, expr: str) -> None:
    page.fill("#expr", expr)
    page.press("#expr", "Enter")                 # Enter derives
    page.wait_for_selector("#result-math math")


def test_result_is_typeset_mathml_with_check(page, screenshot):
    page.goto(page.base)
    derive(page, "x'*A*x")
    assert page.locator("#result-math math").count() == 1
    assert page.locator("#result-math math msup").count() >= 1       # x^T as a superscript, rendered natively
    assert "x'*(A+A')" in page.inner_text("#result-facts")
    expect(page.locator("#result-check")).to_contain_text("ok")
    assert page.locator("#vars tbody tr").count() == 2               # x and A, with their inferred kinds
    assert "vector" in page.inner_text("#vars")
    assert "expr=x%27*A*x" in page.url or "expr=x'*A*x" in page.url
    screenshot(page, "result")


def test_declaring_a_variable_symmetric_changes_the_result(page):
    page.goto(page.base + "?expr=" + quote("x'*A*x") + "&wrt=x")
    page.wait_for_selector("#result-math math")
    page.select_option('select[data-name="A"]', "symmetric")
    expect(page.locator("#result-facts")).to_contain_text("2*x'*A")
    assert "var=A%3Asymmetric" in page.url


def test_show_the_work_and_a_graph_node(page, screenshot):
    page.goto(page.base + "?expr=" + quote("max(0, w'*x+b)") + "&wrt=w&view=work")
    page.wait_for_selector("#work-steps h4")
    steps = page.inner_text("#work-steps")
    for heading in ("Step 1", "Step 2", "Step 3", "Step 4"):
        assert heading in steps
    assert page.locator("#work-steps math").count() > 5
    assert page.locator("#work-graph svg .node").count() >= 5        # w, x, b and u1..u4
    page.click('#work-graph .node[data-node="u2"]')
    panel = page.inner_text("#work-node")
    assert "Local derivatives" in panel
    screenshot(page, "work")


def test_backward_pass_node_numbers_and_stepping(page, screenshot):
    at = "&at=" + quote("w:0.5,-0.3") + "&at=" + quote("x:1,2") + "&at=" + quote("b:0.4")
    page.goto(page.base + "?expr=" + quote("max(0, w'*x+b)") + "&wrt=w&view=backward" + at)
    page.wait_for_selector("#trace-graph svg .node")
    assert "Backward pass" in page.inner_text("#trace-tables")
    page.click("#step-forward")
    assert "step 1 of 8: forward pass, u1" in page.inner_text("#step-label")
    assert page.locator("#trace-graph .node.current").count() == 1
    assert "[0.5, -0.3]" in page.inner_text("#trace-node")           # u1 = w' in the forward pass
    page.click("#step-forward")
    page.click("#step-back")
    assert "step 1 of" in page.inner_text("#step-label")
    page.click('#trace-graph .node[data-node="u1"]')                 # u1 = w': its numbers in the backward pass
    numbers = page.inner_text("#trace-node")
    assert "upstream" in numbers and "downstream" in numbers and "local" in numbers
    assert "[1, 2]" in numbers                                        # upstream of u1 (= x') and df/dw
    screenshot(page, "backward")


def test_error_shows_the_caret_under_the_position(page, screenshot):
    page.goto(page.base)
    page.fill("#expr", "x'*A*")
    page.press("#expr", "Enter")
    page.wait_for_selector("#error:not([hidden])")
    lines = page.inner_text("#error pre").splitlines()
    caret = next(k for k, line in enumerate(lines) if line.strip().startswith("^"))
    assert lines[caret - 1].strip() == "x'*A*"
    assert lines[caret].index("^") >= lines[caret - 1].index("x'*A*") + 4     # under the end of the text
    assert page.get_attribute("#expr", "aria-invalid") == "true"
    screenshot(page, "error")


def test_export_and_a_reload_keep_the_state(page, screenshot):
    page.goto(page.base + "?expr=" + quote("norm2(X*w-y)^2") + "&wrt=w&layout=denominator&view=export")
    page.wait_for_selector("#export-body pre")
    text = page.inner_text("#export-body")
    assert "2*X'*(X*w-y)" in text and "LaTeX" in text
    assert page.locator("#export-body a[download]").count() >= 2
    if page.locator("#target").count():                                 # code generation (chainrule.codegen)
        assert "import numpy" in text
        page.select_option("#target", "torch")
        expect(page.locator("#export-body")).to_contain_text("import torch")
        assert "target=torch" in page.url
        screenshot(page, "export")
    page.reload()
    page.wait_for_selector("#export-body pre")
    assert page.input_value("#layout") == "denominator" and page.input_value("#expr") == "norm2(X*w-y)^2"
    assert 'aria-selected="true"' in page.inner_html(".tabs").split("Export")[0].rsplit("<button", 1)[1]


def test_export_offers_the_hessian(page):
    """Order 2 exports the Hessian by default; the box takes it out, and the address keeps that choice."""
    page.goto(page.base + "?expr=" + quote("norm2(X*w-y)^2") + "&wrt=w&order=2&view=export")
    page.wait_for_selector("#export-body pre")
    expect(page.locator("#export-body")).to_contain_text("def hessian(")
    assert page.is_checked("#hessian") and "with the Hessian" in page.inner_text("#export-body h4")
    page.uncheck("#hessian")
    expect(page.locator("#export-body")).not_to_contain_text("def hessian(")
    assert "hessian=0" in page.url
    page.select_option("#target", "jax")
    expect(page.locator("#export-body")).to_contain_text("import jax")
    page.check("#hessian")
    expect(page.locator("#export-body")).to_contain_text("def hessian(")
    page.reload()
    page.wait_for_selector("#export-body pre")
    assert page.is_checked("#hessian") and page.input_value("#target") == "jax"
    expect(page.locator("#export-body")).to_contain_text("def hessian(")


def test_index_notation_for_a_four_index_result_and_phone_width(page):
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(page.base + "?expr=" + quote("inv(X)") + "&wrt=X")
    page.wait_for_selector("#result-index math")
    assert "index notation" in page.inner_text("#result-index")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 400, f"the page is {width} px wide on a phone"
