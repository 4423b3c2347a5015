"""The three outputs of a trace: aligned text, Markdown, and JSON of a stable schema."""
import json

import numpy as np
import pytest

from chainrule.trace import SCHEMA_VERSION, trace
from chainrule.trace.render import array
from chainrule.trace.schema import array as json_array

NEURON = "max(0, w'*x+b)"
AT = {"w": [0.5, -0.3], "x": [1.0, 2.0], "b": 0.4}

ARRAY = {"shape", "data"}
LOCAL = {"operand", "count", "local"}
# The schema, key by key (docs/trace.md). Changing it means bumping SCHEMA_VERSION and the docs.
TOP = {"schema_version", "expression", "mode", "wrt", "variables", "output", "forward", "backward", "sums",
       "direction", "tangents", "directional", "gradients", "not_finite", "ok"}
ITEMS = {
    "variables": {"name", "dims", "value"},
    "forward": {"name", "op", "formula", "source", "operands", "dims", "value"},
    "backward": {"name", "upstream", "edges"},
    "sums": {"name", "parts", "total"},
    "tangents": {"name", "tangent", "terms"},
    "gradients": {"wrt", "expression", "value", "backprop", "max_abs_difference", "finite_differences"},
}


@pytest.fixture(scope="module", params=["reverse", "forward"])
def doc(request):
    return json.loads(trace(NEURON, ["w", "b"], AT, mode=request.param).to_json())


def test_json_top_level_is_the_same_in_both_modes(doc):
    assert set(doc) == TOP
    assert doc["schema_version"] == SCHEMA_VERSION == 1
    assert doc["wrt"] == ["w", "b"] and doc["ok"] is True
    assert set(doc["output"]) == {"name", "value"}


def test_json_items_have_their_documented_keys(doc):
    for key, keys in ITEMS.items():
        for item in doc[key]:
            assert set(item) == keys, key
    for step in doc["backward"]:
        for edge in step["edges"]:
            assert set(edge) == LOCAL | {"downstream"}
            assert set(edge["local"]) == {"expression", "value"}
    for step in doc["tangents"]:
        for term in step["terms"]:
            assert set(term) == LOCAL | {"value"}
    for g in doc["gradients"]:
        assert set(g["finite_differences"]) == {"ok", "max_abs_error", "max_rel_error", "tolerance", "directions"}


def test_json_mode_specific_parts(doc):
    if doc["mode"] == "reverse":
        assert doc["direction"] is None and doc["tangents"] == [] and doc["directional"] is None
        assert [s["name"] for s in doc["backward"]] == ["u4", "u3", "u2", "u1"]
        assert doc["gradients"][0]["backprop"] == {"shape": [2], "data": [1.0, 2.0]}
    else:
        assert doc["backward"] == [] and doc["sums"] == []
        assert set(doc["directional"]) == {"tangent", "symbolic", "finite_difference", "max_abs_difference",
                                           "max_fd_error", "ok"}
        assert doc["direction"] == {"w": {"shape": [2], "data": [1.0, 1.0]}, "b": {"shape": [], "data": 1.0}}
        assert doc["gradients"][0]["backprop"] is None


def test_json_arrays_are_shape_and_nested_data():
    assert json_array(np.arange(6.0).reshape(2, 3)) == {"shape": [2, 3], "data": [[0, 1, 2], [3, 4, 5]]}
    assert json_array(2.5) == {"shape": [], "data": 2.5}
    assert json_array([np.nan, np.inf]) == {"shape": [2], "data": [None, None]}


def test_json_of_a_tensor_trace_is_complete():
    at = {"X": np.ones((2, 3)), "B": np.ones((3, 2))}
    doc = json.loads(trace("sum(exp(tanh(X*B)))", "X", at).to_json())
    local = doc["backward"][-1]["edges"][0]["local"]["value"]
    assert local["shape"] == [2, 2, 2, 3] and np.asarray(local["data"]).shape == (2, 2, 2, 3)


def test_text_tables_are_aligned():
    text = trace(NEURON, ["w", "b"], AT).text()
    lines = text.splitlines()
    header = next(k for k, line in enumerate(lines) if line.startswith("  node  upstream"))
    column = lines[header].index("operand")
    for line in lines[header + 1:header + 6]:
        assert line[column - 2:column] == "  " and line[column] != " "
    assert "u1    [1, 2]" in text and "eye(\"n\")" in text and text.endswith("all checks ok")


def test_text_summarises_large_tensors_unless_full():
    at = {"X": np.ones((3, 4)), "B": np.ones((4, 3))}
    t = trace("sum(exp(X*B))", "X", at)
    assert "3×3×3×4, norm" in t.text() and "…" in t.text()
    assert "…" not in t.text(full=True) and "3×3×3×4, norm" not in t.text(full=True)


def test_array_formats():
    assert array(np.array(-0.0)) == "0"
    assert array([1.0, 2.5]) == "[1, 2.5]"
    assert array([[1.0, 2.0], [3.0, 4.0]]) == "[1, 2; 3, 4]"
    assert array(np.zeros((2, 2, 2)), full=True) == "[[[0, 0], [0, 0]], [[0, 0], [0, 0]]]"
    assert array(np.arange(10.0)).startswith("10, norm 16.88: [0, 1, 2, …]")


def test_markdown_tables_are_well_formed():
    md = trace(NEURON, ["w", "b"], AT).markdown()
    assert md.startswith("## trace of `max(0, w'*x+b)` by w, b (reverse mode)")
    tables = [line for line in md.splitlines() if line.startswith("|")]
    assert len(tables) > 10
    for line in tables:
        assert line.endswith("|")
    assert "| `u4` | `1` | `u3` | `step(u3)` |" in md
