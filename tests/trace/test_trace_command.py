"""`chainrule trace` as a user runs it: through the subcommand's own parser, and in a subprocess."""
import argparse
import json
import subprocess
import sys

import pytest

from chainrule.trace import command

NEURON = ["max(0, w'*x+b)", "--wrt", "w", "--wrt", "b", "--at", "w=0.5,-0.3", "--at", "x=1,2", "--at", "b=0.4"]


def run_registered(argv, capsys):
    parser = argparse.ArgumentParser(prog="chainrule")
    command.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["trace", *argv])
    status = args.func(args)
    out, err = capsys.readouterr()
    return status, out, err


def test_text(capsys):
    status, out, err = run_registered(NEURON, capsys)
    assert status == 0 and err == "w: vector (n), x: vector (n), b: scalar  (guessed from the name: w, x, b)\n"
    assert out.startswith("trace of max(0, w'*x+b) by w, b (reverse mode)\nat w = [0.5, -0.3], x = [1, 2], b = 0.4")
    assert "Backward pass" in out and "all checks ok" in out


def test_json(capsys):
    status, out, _ = run_registered(NEURON + ["--format", "json"], capsys)
    doc = json.loads(out)
    assert status == 0 and doc["schema_version"] == 1
    assert [g["backprop"]["data"] for g in doc["gradients"]] == [[1.0, 2.0], 1.0]


def test_markdown_forward_mode_with_a_direction(capsys):
    status, out, _ = run_registered(NEURON + ["--mode", "forward", "--direction", "w=1,0", "--format", "markdown"],
                                    capsys)
    assert status == 0 and "### Tangent pass (forward mode)" in out
    assert "direction: dw = [1, 0], db = 0" in out


def test_matrix_values_and_declarations(capsys):
    status, out, _ = run_registered(["x'*A*x", "--wrt", "x", "--var", "A=symmetric", "--at", "x=1,2",
                                     "--at", "A=2,1;1,3"], capsys)
    assert status == 0 and "2*x'*A" in out and "[8, 14]" in out


def test_random_values_when_none_given(capsys):
    status, out, _ = run_registered(["sum(exp(X*w))", "--wrt", "w"], capsys)
    assert status == 0 and "all checks ok" in out


@pytest.mark.parametrize("argv, message", [
    (["max(0, w'*x+b)", "--wrt", "y"], "not a variable"),
    (NEURON[:5] + ["--at", "w=1,2"], "no value given for x, b"),
    (["x'*A*x", "--wrt", "x", "--at", "x=1,2", "--at", "A=1,2,3"], "A is declared"),
    (["x'*", "--wrt", "x"], "ends too early"),
    (NEURON + ["--direction", "w=1,1"], "only for --mode forward"),
    (NEURON + ["--at", "w=a,b"], "cannot read --at"),
])
def test_bad_input_prints_a_message_and_exits_2(argv, message, capsys):
    status, out, err = run_registered(argv, capsys)
    assert status == 2 and out == ""
    assert err.startswith("chainrule: ") and message in err


def _subprocess(module, argv):
    return subprocess.run([sys.executable, "-m", module, "trace", *argv], capture_output=True, text=True, check=False,
                          timeout=120)


def test_subprocess_through_the_main_cli():
    text = _subprocess("chainrule.cli", NEURON)
    assert text.returncode == 0, text.stderr
    assert "u1    [1, 2]             w        eye(\"n\")" in text.stdout
    result = _subprocess("chainrule.cli", NEURON + ["--format", "json"])
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["ok"] is True
    bad = _subprocess("chainrule.cli", ["max(0, w'*x+b)", "--wrt", "y"])
    assert bad.returncode == 2 and bad.stderr.startswith("chainrule: ")


@pytest.mark.parametrize("expression, at, where", [
    ("log(a)", "a=-1", "u1 = log(a) is the first intermediate to become NaN: log of a negative number, log(-1)"),
    # (log(1+exp(a)) is one step, softplus(a), finite there: tests/explain/test_stable_steps.py)
    ("sin(exp(a))", "a=1000", "u1 = exp(a) is the first intermediate to become inf: overflow in exp, exp(1000)"),
    ("sqrt(a)", "a=0", "in the derivative, sqrt(a)^-1 is the first intermediate to become inf: division by zero"),
])
def test_a_non_finite_number_is_traced_to_where_it_starts(expression, at, where, capsys):
    # never a silent nan: every format names the intermediate and the reason
    for fmt, shown in (("text", f"not finite: {where}"), ("markdown", f"**not finite: {where}"),
                       ("json", f'"not_finite": "{where}')):
        status, out, _ = run_registered([expression, "--wrt", "a", "--at", at, "--format", fmt], capsys)
        assert status == 1 and shown in out, (fmt, out[-400:])
    from chainrule import trace
    t = trace(expression, "a", {"a": float(at.split("=")[1])})
    assert t.not_finite is not None and t.not_finite.startswith(where)
    assert t.to_dict()["not_finite"] == t.not_finite


def test_finite_traces_report_nothing():
    from chainrule import trace
    t = trace("sin(a)*b", "a", {"a": 1.0, "b": 2.0})
    assert t.not_finite is None and "not finite" not in t.text() and t.to_dict()["not_finite"] is None
