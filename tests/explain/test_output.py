"""The four output formats, the data-flow graph and the command line, as a user runs them."""
import argparse
import json
import os
import subprocess
import sys
import types

import pytest

from chainrule.errors import ChainruleError
from chainrule.explain import explain
from chainrule.explain.command import register
from chainrule.explain.graph import dot, render_graph


@pytest.fixture
def derivation():
    return explain("ln(sin(x^3)^2)", "x", x="scalar")


def test_text_is_the_four_steps(derivation):
    text = derivation.text()
    for heading in ("Step 1.", "Step 2.", "Step 3.", "Step 4."):
        assert heading in text
    assert "u₄ = log(u₃)" in text and "dy/dx = du₄/du₃ du₃/du₂ du₂/du₁ du₁/dx" in text
    assert "6·x²·cos(x³)/sin(x³)    (u₁ = x³)" in text
    assert str(derivation) == text


def test_markdown_math_is_balanced(derivation):
    md = derivation.markdown()
    assert md.count("$$") % 2 == 0 and "\\begin{aligned}" in md
    for line in md.splitlines():
        if not line.startswith("$$"):
            assert line.replace("\\$", "").count("$") % 2 == 0, line
    assert "\\frac{d u_{4}}{d u_{3}}" in md or "\\frac{du_{4}}{du_{3}}" in md


def test_latex_has_environments(derivation):
    tex = derivation.latex()
    assert tex.count("\\begin{align*}") == tex.count("\\end{align*}") >= 2
    assert "\\subsection*{Step 4. Substitute back and simplify}" in tex


def test_json_round_trips(derivation):
    data = json.loads(derivation.json())
    assert data["chain_rule"] == "single-variable" and data["result"]["text"] == "6*x^2*cos(x^3)/sin(x^3)"
    assert [u["name"] for u in data["intermediates"]] == ["u1", "u2", "u3", "u4"]
    assert data["identical"] is True


def test_dot_graph_marks_the_paths():
    text = dot(explain("x*x^2", "x", x="scalar"))
    assert text.startswith("digraph derivation {") and text.rstrip().endswith("}")
    assert '"x" -> "x_1"' in text and '"x_1" -> "u1"' in text and "∂u2/∂u1 = x" in text
    assert text.count("penwidth=2];") >= 3


def test_svg_needs_graphviz(monkeypatch, derivation):
    monkeypatch.setitem(sys.modules, "graphviz", None)        # the package is missing
    with pytest.raises(ChainruleError, match="graphviz"):
        render_graph(derivation)


def test_svg_through_graphviz(monkeypatch, derivation):
    seen = {}

    class Source:
        def __init__(self, source):
            seen["source"] = source

        def pipe(self, format):
            return f"<{format}/>".encode()

    monkeypatch.setitem(sys.modules, "graphviz", types.SimpleNamespace(Source=Source))
    monkeypatch.setattr("shutil.which", lambda name: "/usr/bin/dot")
    assert render_graph(derivation, "svg") == b"<svg/>" and seen["source"] == dot(derivation)


def _run(argv, capsys):
    parser = argparse.ArgumentParser(prog="chainrule")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    status = args.func(args)
    out, err = capsys.readouterr()
    return status, out, err


def test_register_adds_explain(capsys):
    status, out, _ = _run(["explain", "sin(x^2)", "--wrt", "x", "--var", "x=scalar", "--forward"], capsys)
    assert status == 0 and "order: forward" in out and "du₁/dx du₂/du₁" in out


@pytest.mark.parametrize("fmt, marker", [("markdown", "$$"), ("latex", "align*"), ("json", '"chain_rule"')])
def test_formats_from_the_command_line(fmt, marker, capsys):
    status, out, _ = _run(["explain", "sum(w+x)", "--wrt", "w", "--format", fmt, "--layout", "denominator"], capsys)
    assert status == 0 and marker in out


def test_graph_from_the_command_line(capsys, tmp_path):
    status, out, _ = _run(["explain", "x+x^2", "--wrt", "x", "--var", "x=scalar", "--graph", "dot"], capsys)
    assert status == 0 and out.startswith("digraph")
    target = tmp_path / "g.dot"
    status, out, _ = _run(["explain", "x+x^2", "--wrt", "x", "--var", "x=scalar", "--graph", "dot", "-o",
                           str(target)], capsys)
    assert status == 0 and out == "" and target.read_text().startswith("digraph")


@pytest.mark.parametrize("argv, message", [
    (["explain", "sin(x+", "--wrt", "x"], "ends too early"),
    (["explain", "sin(x)", "--wrt", "y", "--var", "x=scalar"], "not a variable"),
    (["explain", "u1+x", "--wrt", "x"], "intermediate variables"),
    (["explain", "x", "--wrt", "x", "--var", "=3"], "cannot read --var"),
    (["explain", "x", "--wrt", "x", "--graph", "png"], "PNG"),
])
def test_errors_are_messages(argv, message, capsys):
    status, out, err = _run(argv, capsys)
    assert status == 2 and out == "" and err.startswith("chainrule: ") and message in err


def test_api_rejects_unknown_order():
    with pytest.raises(ChainruleError, match="order"):
        explain("x^2", "x", order="sideways")


def test_as_a_user_runs_it():
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    done = subprocess.run([sys.executable, "-m", "chainrule.cli", "explain", "ln(sin(x^3)^2)", "--wrt",
                           "x", "--var", "x=scalar"], capture_output=True, text=True, env=env, timeout=120, check=False)
    assert done.returncode == 0 and "6*x^2*cos(x^3)/sin(x^3): the same expression" in done.stdout
