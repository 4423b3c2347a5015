"""Rich display in Jupyter (and in nbconvert's HTML): mathematics as MathML, graphs as SVG, tables as HTML, no
script anywhere."""
from __future__ import annotations

import re
from pathlib import Path

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


# ---- examples/tour.ipynb, executed by nbconvert in a kernel of this Python (no network) ----

TOUR = Path(__file__).parents[2] / "examples" / "tour.ipynb"


def start_kernel(directory: Path):
    """A python3 kernel of this interpreter (jupyter_client runs sys.executable for the "python" of ipykernel's
    kernel spec), talking over Unix sockets; skip only when no kernel can start at all."""
    from jupyter_client.manager import KernelManager

    km = KernelManager(kernel_name="python3", transport="ipc", ip=str(directory / "kernel"))
    try:
        km.start_kernel(cwd=str(TOUR.parent))
        client = km.client()
        client.start_channels()
        client.wait_for_ready(timeout=60)
        client.stop_channels()
    except (KeyError, RuntimeError, OSError) as error:   # no kernel spec, a kernel that dies or never answers
        if km.has_kernel:
            km.shutdown_kernel(now=True)
        pytest.skip(f"the Jupyter kernel cannot start: {error}")
    return km


@pytest.fixture(scope="module")
def tour(tmp_path_factory):
    """The tour notebook after running every cell; an error in a cell is kept as an error output."""
    nbformat = pytest.importorskip("nbformat", reason="the notebook test needs nbformat (pip install -e '.[test]')")
    preprocessors = pytest.importorskip("nbconvert.preprocessors",
                                        reason="the notebook test needs nbconvert (pip install -e '.[test]')")
    pytest.importorskip("ipykernel", reason="the notebook test needs ipykernel (pip install -e '.[test]')")
    nb = nbformat.read(TOUR, as_version=4)
    km = start_kernel(tmp_path_factory.mktemp("kernel"))
    try:
        executor = preprocessors.ExecutePreprocessor(timeout=60, allow_errors=True)
        executor.preprocess(nb, {"metadata": {"path": str(TOUR.parent)}}, km=km)
    finally:
        km.shutdown_kernel(now=True)
    return nb


def tagged(nb, tag: str) -> list:
    cells = [c for c in nb.cells if tag in c.metadata.get("tags", [])]
    assert cells, f"no cell tagged {tag!r} in {TOUR.name}"
    return cells


def rich(cell) -> str:
    """The HTML the cell displays (its execute_result or display_data)."""
    html = [o["data"]["text/html"] for o in cell.outputs if "text/html" in o.get("data", {})]
    assert len(html) == 1, f"cell {cell.source!r} displays {len(html)} HTML outputs"
    return html[0]


def printed(cell) -> str:
    return "".join(o["text"] for o in cell.outputs if o["output_type"] == "stream" and o["name"] == "stdout")


def test_tour_runs_without_errors(tour):
    errors = [(c.source, o["ename"], o["evalue"]) for c in tour.cells if c.cell_type == "code"
              for o in c.outputs if o["output_type"] == "error"]
    assert not errors, errors
    assert all(c.execution_count for c in tour.cells if c.cell_type == "code")


def test_tour_derivatives_and_steps_display_as_mathml(tour):
    for cell in tagged(tour, "derivative"):
        assert "<math" in no_script(rich(cell)), cell.source
    for cell in tagged(tour, "explain"):
        html = no_script(rich(cell))
        assert all(f"Step {k}" in html for k in (1, 2, 3, 4)) and html.count("<math") > 5, cell.source


def test_tour_draws_the_graph_as_svg(tour):
    for cell in tagged(tour, "graph"):
        html = rich(cell)
        svg = html[html.index("<svg"):html.index("</svg>")]
        assert all(name in svg for name in ("u1", "u2", "u3", "u4")), "every intermediate is a node of the graph"


def test_tour_checks_say_ok(tour):
    for cell in tagged(tour, "check"):
        assert "✓" in rich(cell) and "ok (max abs error" in rich(cell), cell.source
    for cell in tagged(tour, "trace"):
        html = no_script(rich(cell))
        assert "Backward pass" in html and "all checks ok" in html, cell.source


def test_tour_generated_code_computes_the_layer_gradient(tour):
    """The generated NumPy grad, run in the notebook, equals the closed form at the notebook's own values:
    for f = sum((X W + 1 b' - Y).^2), with R = X W + 1 b' - Y, df/dW = 2 X'R and df/db = 2 R'1 (column sums)."""
    import ast

    import numpy as np

    namespace: dict = {"np": np}
    exec(tagged(tour, "values")[0].source, namespace)
    v = namespace["values"]
    residual = v["X"] @ v["W"] + v["b"] - v["Y"]
    shown = printed(tagged(tour, "export")[0])
    assert "def grad(" in shown and "import chainrule" not in shown
    lines = dict(line.split(" = ", 1) for line in printed(tagged(tour, "export-run")[0]).splitlines() if " = " in line)
    np.testing.assert_allclose(ast.literal_eval(lines["dW"]), 2 * v["X"].T @ residual, rtol=1e-12)
    np.testing.assert_allclose(ast.literal_eval(lines["db"]), 2 * residual.sum(axis=0), rtol=1e-12)
    assert "same as chainrule: True" in printed(tagged(tour, "export-run")[0])


def exported_html(nb, template: str) -> str:
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter(template_name=template).from_notebook_node(nb)
    return body


def script_sources(html: str) -> list[str]:
    return re.findall(r"<script[^>]*\bsrc\s*=\s*[\"']?([^\"' >]+)", html, flags=re.IGNORECASE)


def test_tour_html_export_needs_no_script(tour):
    """nbconvert's basic template (`--template basic`): the outputs alone, with no script at all, and the formulas
    and the graph in them."""
    html = exported_html(tour, "basic")
    assert "<script" not in html.lower()
    assert html.count("<math") > 50 and "<svg" in html and "all checks ok" in html


def test_tour_default_html_export_adds_no_script_of_ours(tour):
    """nbconvert's default (lab) template links its own head scripts (require.js, MathJax, Mermaid: its settings);
    the outputs of the tour add none, and display as MathML, which needs none of them."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter()
    settings = ("require_js_url", "mathjax_url", "mermaid_js_url", "mermaid_layout_elk_js_url")  # some are newer
    own = {getattr(exporter, name, None) for name in settings}
    html = exported_html(tour, "lab")
    assert set(script_sources(html)) <= own, set(script_sources(html)) - own
    assert html.count("<math") > 50 and "<svg" in html


def test_tour_export_displays_offline_in_a_browser(tour, page):
    """The basic export opened in Chromium: no request at all (the page fixture asserts it), and the MathML and the
    SVG graph laid out with a size."""
    page.set_content(exported_html(tour, "basic"))
    assert page.locator("math").count() > 50
    sizes = page.eval_on_selector_all("math, svg", "els => els.map(e => e.getBoundingClientRect().width)")
    assert sizes and min(sizes) > 0
