import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest


def run(*args, program=(sys.executable, "-m", "chainrule.cli")):
    return subprocess.run([*program, *args], check=False, capture_output=True, text=True, timeout=120)


def diff(*args):
    result = run("diff", *args)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def diff_json(*args):
    return json.loads(diff(*args, "--format", "json"))


def matrix_arg(m):
    return ";".join(",".join(repr(float(v)) for v in row) for row in np.atleast_2d(m))


def vector_arg(v):
    return ",".join(repr(float(t)) for t in v)


PRINTED = [
    (["x'*A*x", "--wrt", "x"], "x'*(A+A')"),
    (["x'*A*x", "--wrt", "x", "--var", "A=symmetric"], "2*x'*A"),
    (["x'*X*y", "--wrt", "x", "--var", "X=m,n"], "y'*X'"),
    (["a*x", "--wrt", "x", "--var", "x=3", "--var", "a=scalar"], "a*eye(3)"),
    (["x'*A*x", "--wrt", "x", "--order", "2"], "A+A'"),
    (["x'*A*x", "--wrt", "x", "--hessian"], "A+A'"),
    (["x'*A*x", "--wrt", "x", "--hessian", "--var", "A=symmetric"], "2*A"),
    (["w'*x", "--wrt", "w", "--layout", "numerator"], "x'"),
    (["w'*x", "--wrt", "w", "--layout", "denominator"], "x"),
    (["w'*x", "--wrt", "w", "--layout", "mixed"], "x"),
    (["w'*x", "--wrt", "w"], "x'"),
    (["A*x", "--wrt", "x", "--layout", "numerator"], "A"),
    (["A*x", "--wrt", "x", "--layout", "denominator"], "A'"),
    (["A*x", "--wrt", "x", "--layout", "mixed"], "A"),
    (["norm2(X*w-y)^2", "--wrt", "w"], "2*(X*w-y)'*X"),
    (["tr(X'*A*X)", "--wrt", "X"], "(A+A')*X"),
    (["x'*A*x", "--wrt", "x", "--format", "text"], "x'*(A+A')"),
    (["x'*A*x", "--wrt", "x", "--format", "unicode"], "xᵀ·(A + Aᵀ)"),
    (["x'*A*x", "--wrt", "x", "--format", "latex"], r"x^{\top} \left(A + A^{\top}\right)"),
    (["softmax(x)", "--wrt", "x", "--cse"], "t0 = x-logsumexp(x)\nt1 = exp(t0)\ndiag(t1)-t1*t1'"),
]


@pytest.mark.parametrize(("args", "printed"), PRINTED, ids=[" ".join(p[0]) for p in PRINTED])
def test_diff_prints_the_result(args, printed):
    assert diff(*args) == printed + "\n"


def test_json_has_every_rendering_and_the_shape():
    report = diff_json("x'*A*x", "--wrt", "x")
    assert report["text"] == "x'*(A+A')"
    assert report["unicode"] == "xᵀ·(A + Aᵀ)"
    assert report["latex"] == r"x^{\top} \left(A + A^{\top}\right)"
    assert report["shape"] == ["n"]
    assert report["order"] == 1 and report["layout"] == "numerator" and report["wrt"] == "x"


def test_json_shape_follows_declarations_and_order():
    assert diff_json("x'*A*x", "--wrt", "x", "--var", "x=3")["shape"] == [3]
    assert diff_json("x'*A*x", "--wrt", "x", "--hessian")["shape"] == ["n", "n"]
    assert diff_json("A*x", "--wrt", "x", "--var", "A=2,3", "--layout", "denominator")["shape"] == [3, 2]


def test_cse_is_in_every_format():
    report = diff_json("softmax(x)", "--wrt", "x", "--cse")
    assert report["text"].startswith("t0 = ")
    assert diff_json("softmax(x)", "--wrt", "x")["text"] == "diag(exp(x-logsumexp(x)))-exp(x-logsumexp(x))*exp(x-logsumexp(x))'"


rng = np.random.default_rng(3)
X, y, w = rng.standard_normal((4, 3)), np.array([1.0, -1.0, 1.0, -1.0]), rng.standard_normal(3)
A, x, M = rng.standard_normal((3, 3)), rng.standard_normal(3), rng.standard_normal((3, 2))

AT = [
    (["x'*A*x", "--wrt", "x", "--at", f"x={vector_arg(x)}", "--at", f"A={matrix_arg(A)}"], (A + A.T) @ x),
    (["x'*A*x", "--wrt", "x", "--at", f"x={json.dumps(x.tolist())}", "--at", f"A={json.dumps(A.tolist())}"],
     (A + A.T) @ x),
    (["x'*A*x", "--wrt", "x", "--hessian", "--at", f"x={vector_arg(x)}", "--at", f"A={matrix_arg(A)}"], A + A.T),
    (["a*b^2", "--wrt", "b", "--at", "a=2", "--at", "b=3"], 12.0),
    (["a*b^2", "--wrt", "b", "--order", "2", "--at", "a=2.5", "--at", "b=3"], 5.0),
    (["A*x", "--wrt", "x", "--layout", "denominator", "--at", f"A={matrix_arg(M)}", "--at", "x=1,2"], M.T),
    (["sum(log(1+exp(-y.*(X*w))))", "--wrt", "w", "--at", f"X={matrix_arg(X)}", "--at", f"y={vector_arg(y)}",
      "--at", f"w={vector_arg(w)}"], -X.T @ (y / (1 + np.exp(y * (X @ w))))),
    (["tr(X'*A*X)", "--wrt", "X", "--at", f"X={matrix_arg(M)}", "--at", f"A={matrix_arg(A)}"], (A + A.T) @ M),
    (["norm2(X*w-y)^2", "--wrt", "w", "--at", f"X={matrix_arg(X)}", "--at", f"y={vector_arg(y)}",
      "--at", f"w={vector_arg(w)}"], 2 * X.T @ (X @ w - y)),
    (["x'*A*x", "--wrt", "x", "--var", "A=symmetric", "--at", f"x={vector_arg(x)}",
      "--at", f"A={matrix_arg(A + A.T)}"], 2 * (A + A.T) @ x),
]


@pytest.mark.parametrize(("args", "expected"), AT, ids=[a[0][0] + " " + " ".join(a[0][1:3]) for a in AT])
def test_at_evaluates_the_result(args, expected):
    value = np.array(diff_json(*args)["value"])
    np.testing.assert_allclose(value, expected, rtol=1e-10, atol=1e-12)


def test_at_value_is_printed_in_text():
    out = diff("x'*A*x", "--wrt", "x", "--at", "x=1,2", "--at", "A=1,2;3,4")
    assert out == "x'*(A+A')\nvalue: [12. 21.]\n"


CHECKED = [
    ["x'*A*x", "--wrt", "x"],
    ["x'*A*x", "--wrt", "x", "--hessian"],
    ["x'*A*x", "--wrt", "x", "--var", "A=symmetric", "--order", "2"],
    ["sum(log(1+exp(-y.*(X*w))))", "--wrt", "w"],
    ["tr(X'*A*X)", "--wrt", "X"],
    ["logdet(X)", "--wrt", "X"],
    ["inv(X)", "--wrt", "X"],
    ["softmax(x)", "--wrt", "x", "--layout", "denominator"],
    ["max(0, w'*x+b)", "--wrt", "w", "--at", "w=0.5,-0.3", "--at", "x=1,2", "--at", "b=0.4"],
    ["x'*A*x", "--wrt", "A", "--at", "x=1,2", "--at", "A=1,2;3,4"],
]


@pytest.mark.parametrize("args", CHECKED, ids=[" ".join(c) for c in CHECKED])
def test_check_passes(args):
    lines = diff(*args, "--check").splitlines()
    assert lines[-1].startswith("finite-difference check")
    assert ": ok (max abs error" in lines[-1]
    assert ("at random values" in lines[-1]) == ("--at" not in args)


def test_check_in_json():
    check = diff_json("x'*A*x", "--wrt", "x", "--check")["check"]
    assert check["ok"] is True and check["random_values"] is True and check["max_rel_error"] < 1e-6


def test_check_does_not_report_ok_on_nan():
    result = run("diff", "x'*A*x", "--wrt", "x", "--at", "x=nan,2", "--at", "A=1,2;3,4", "--check")
    assert result.returncode != 0
    assert ": ok" not in result.stdout


ERRORS = [
    (["diff", "sine(x)", "--wrt", "x"], "Did you mean 'sin'?"),
    (["diff", "x+", "--wrt", "x"], "ends too early"),
    (["diff", "x'*A*x", "--wrt", "y"], "cannot differentiate by 'y'"),
    (["diff", "x+y", "--wrt", "x", "--var", "x=3", "--var", "y=4"], "col vector (4)"),
    (["diff", "x'*A*x", "--wrt", "x", "--var", "A"], "cannot read --var 'A'"),
    (["diff", "x'*A*x", "--wrt", "x", "--var", "A=0"], "cannot read the declaration"),
    (["diff", "x'*A*x", "--wrt", "x", "--var", "1x=3"], "cannot read --var"),
    (["diff", "x'*A*x", "--wrt", "x", "--at", "x=1,a"], "cannot read --at 'x=1,a'"),
    (["diff", "x'*A*x", "--wrt", "x", "--at", "x=[1,2"], "cannot read --at"),
    (["diff", "x'*A*x", "--wrt", "x", "--at", "x="], "cannot read --at"),
    (["diff", "x'*A*x", "--wrt", "x", "--at", "x=1,2"], "no value given for A"),
    (["diff", "x'*A*x", "--wrt", "x", "--at", "x=1,2", "--at", "A=1,2,3;4,5,6"], "2 in x but 3 in A"),
    (["diff", "x'*A*x", "--wrt", "x", "--at", "x=[[1,2]]", "--at", "A=1,2;3,4"], "x is declared"),
    (["diff", "x'*A*x", "--wrt", "x", "--at", "x=1,2", "--at", "A=1,2;3"], "A"),
    (["diff", "a*b", "--wrt", "b", "--at", "a=1,2", "--at", "b=3"], "a"),
    (["diff", "inv(A)", "--wrt", "A", "--at", "A=1,2;2,4"], "inv"),
    (["diff", "x'*A*x", "--wrt", "x", "--order", "-1"], "whole number >= 0"),
    (["diff", "x'*A*x", "--wrt", "x", "--order", "0", "--check"], "order"),
    (["diff", "x'*A*x", "--wrt", "x", "--layout", "diagonal"], "invalid choice: 'diagonal'"),
    (["diff", "x'*A*x", "--wrt", "x", "--format", "html"], "invalid choice: 'html'"),
    (["diff", "x'*A*x", "--wrt", "x", "--order", "two"], "invalid int value"),
    (["diff", "x'*A*x"], "--wrt"),
    (["integrate", "x"], "invalid choice"),
    (["explain", "sine(x)", "--wrt", "x"], "Did you mean 'sin'?"),
    (["trace", "x'*A*x", "--wrt", "x", "--at", "x=1,2"], "no value given for A"),
]


@pytest.mark.parametrize(("args", "expected"), ERRORS, ids=[" ".join(e[0]) for e in ERRORS])
def test_error_is_one_paragraph_on_stderr(args, expected):
    result = run(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert expected in result.stderr
    assert "\n\n" not in result.stderr.strip()


def test_parse_error_shows_the_expression_and_a_caret():
    lines = run("diff", "x'*A*x + sine(x)", "--wrt", "x").stderr.splitlines()
    assert lines == ["chainrule: unknown function 'sine'", "  x'*A*x + sine(x)", "           ^^^^^^^", "Did you mean 'sin'?"]


SMOKE = [
    ["explain", "ln(sin(x^3)^2)", "--wrt", "x"],
    ["explain", "max(0, w'*x+b)", "--wrt", "w", "--graph", "dot"],
    ["explain", "x'*A*x", "--wrt", "x", "--format", "markdown"],
    ["trace", "max(0, w'*x+b)", "--wrt", "w", "--wrt", "b", "--at", "w=0.5,-0.3", "--at", "x=1,2", "--at", "b=0.4"],
    ["demo", "neuron", "--steps", "5", "--no-plot"],
]


@pytest.mark.parametrize("args", SMOKE, ids=[" ".join(s[:2]) for s in SMOKE])
def test_subcommand_runs(args):
    result = run(*args)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() and "Traceback" not in result.stderr


def test_trace_checks_agree():
    out = run("trace", "max(0, w'*x+b)", "--wrt", "w", "--wrt", "b",
              "--at", "w=0.5,-0.3", "--at", "x=1,2", "--at", "b=0.4").stdout
    assert "step(b+w'*x)*x'" in out and "all checks ok" in out


def test_console_script_exists_and_runs():
    script = Path(sys.executable).parent / "chainrule"
    assert script.exists()
    result = run("diff", "x'*A*x", "--wrt", "x", "--check", program=(str(script),))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("x'*(A+A')\nfinite-difference check at random values: ok")
