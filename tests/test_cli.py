import io
import json
import os
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
    (["softmax(x)", "--wrt", "x", "--cse"], "t0 = softmax(x)\ndiag(t0)-t0*t0'"),
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
    assert diff_json("softmax(x)", "--wrt", "x")["text"] == "diag(softmax(x))-softmax(x)*softmax(x)'"


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
    # issue 7, C: each of these exited 3 ("internal error") or was silently accepted
    (["diff", "x'*x", "--wrt", "x", "--at", 'x=[{"a":1}]'], '{"a": 1} is not a number'),
    (["diff", "x'*x", "--wrt", "x", "--at", "x=" + "[" * 5000 + "]" * 5000], "nested too deeply"),
    (["diff", "x'*x", "--wrt", "x", "--var", "x=²"], "a dimension is a size such as 3"),
    (["diff", "x'*x", "--wrt", "x", "--at", "x=[1,null]"], "null is not a number"),
    (["diff", "x'*x", "--wrt", "x", "--at", "x=[1,NaN]"], "NaN is not a finite number"),
    (["diff", "x'*x", "--wrt", "x", "--at", "x=[1,-Infinity]"], "-Infinity is not a finite number"),
    (["diff", "x'*x", "--wrt", "x", "--at", "x=1,nan"], "values must be finite numbers"),
    (["diff", "x'*x", "--wrt", "x", "--at", "x=1,1e400"], "values must be finite numbers"),
    (["diff", "x'*x", "--wrt", "x", "--at", "x=1", "--at", "x=2"], "gives x twice"),
    (["diff", "x'*A*x", "--wrt", "x", "--hessian", "--order", "3"], "not allowed with argument"),
    (["diff", "x'*Qa*x", "--wrt", "x", "--var", "Q=symmetric"], "Did you mean --var Qa=...?"),
    (["diff", "x'*A*x", "--wrt", "x", "--var", "Q=symmetric"], "--var declares Q, which is not a variable"),
    (["diff", "x'*A*x", "--wrt", "x", "--order", "11"], "exceeds the limit of 10 (order)"),
    (["diff", "x'*A*x", "--wrt", "x", "--order", "3", "--limit", "order=2"], "exceeds the limit of 2 (order)"),
    (["diff", "x'*A*x", "--wrt", "x", "--limit", "orders=2"], "unknown limit orders"),
    (["diff", "x'*A*x", "--wrt", "x", "--limit", "order=0"], "must be a positive number"),
    (["explain", "x'*A*x", "--wrt", "x", "--limit", "order"], "Write NAME=VALUE"),
    (["trace", "x'*x", "--wrt", "x", "--seed", "-1"], "a seed is a whole number >= 0"),
    (["trace", "x'*x", "--wrt", "x", "--var", "y=3"], "--var declares y"),
    (["explain", "x'*A*x", "--wrt", "x", "--wrt", "A"], "explain follows one variable at a time"),
    (["demo", "neuron", "--steps", "-1"], "a number of steps is a whole number >= 1"),
    (["demo", "neuron", "--steps", "0"], "a number of steps is a whole number >= 1"),
    (["demo", "mlp", "--seed", "-1"], "a seed is a whole number >= 0"),
    (["demo", "mlp", "--lr", "nan"], "a learning rate is a finite number > 0"),
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
    assert lines == ["chainrule: unknown function 'sine'", "  x'*A*x + sine(x)", "           ^^^^^^^",
                     "Did you mean 'sin'?"]


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


# ---- issue 7, C: the command line keeps its promises ----

def test_several_wrt_give_every_derivative_labelled():
    out = diff("x'*A*x", "--wrt", "x", "--wrt", "A", "--at", "x=1,2", "--at", "A=1,2;3,4")
    assert out == "derivative by x:\nx'*(A+A')\nvalue: [12. 21.]\nderivative by A:\nx*x'\nvalue: [[1. 2.]\n [2. 4.]]\n"
    report = diff_json("x'*A*x", "--wrt", "x", "--wrt", "A", "--check")
    assert report["wrt"] == ["x", "A"]
    assert [(d["wrt"], d["text"], d["check"]["ok"]) for d in report["derivatives"]] == [
        ("x", "x'*(A+A')", True), ("A", "x*x'", True)]
    assert diff("x'*A*x", "--wrt", "x", "--wrt", "x") == "x'*(A+A')\n"    # the same variable twice: once


def test_several_wrt_in_latex_keep_labels_as_comments():
    latex = diff("a*b", "--wrt", "a", "--wrt", "b", "--format", "latex")
    assert latex == "% derivative by a:\nb\n% derivative by b:\na\n"


@pytest.mark.parametrize("command", [["diff"], ["explain"], ["trace", "--at", "y=1,2", "--at", "p=0.2,0.8"]])
def test_an_expression_may_start_with_minus(command):
    result = run(command[0], "-sum(y.*log(p))", "--wrt", "p", *command[1:])
    assert result.returncode == 0, result.stderr
    if command[0] == "diff":
        assert result.stdout == "-y'./p'\n"


def test_an_expression_that_starts_with_minus_may_come_after_the_options():
    assert diff("--wrt", "x", "-x'*x") == "-2*x'\n"
    assert diff("--format", "text", "-x'*x", "--wrt", "x") == "-2*x'\n"


def test_minus_reads_the_expression_from_standard_input():
    result = subprocess.run([sys.executable, "-m", "chainrule.cli", "diff", "-", "--wrt", "x"], input="x'*A*x\n",
                            capture_output=True, text=True, timeout=120, check=False)
    assert (result.returncode, result.stdout) == (0, "x'*(A+A')\n"), result.stderr


def test_version_is_the_package_metadata():
    from importlib.metadata import version

    import chainrule
    assert chainrule.__version__ == version("chainrule")
    result = run("--version")
    assert (result.returncode, result.stdout) == (0, f"chainrule {chainrule.__version__}\n")


def test_ctrl_c_exits_130_with_one_line(monkeypatch, capsys):
    from chainrule import cli

    def interrupted(args):
        raise KeyboardInterrupt
    monkeypatch.setattr(cli, "_diff", interrupted)
    assert cli.main(["diff", "x", "--wrt", "x"]) == 130
    assert capsys.readouterr().err == "chainrule: interrupted\n"


def _reading_standard_input(pid: int) -> bool:
    """Whether the process waits in read(0, ...) (Linux: /proc/PID/syscall starts with the syscall number and fd)."""
    import platform
    number = {"x86_64": "0", "aarch64": "63"}.get(platform.machine())
    try:
        fields = Path(f"/proc/{pid}/syscall").read_text().split()
    except OSError:
        pytest.skip("cannot see where the process waits (/proc/PID/syscall)")
    if number is None:
        pytest.skip("unknown syscall number of read on this machine")
    return fields[:2] == [number, "0x0"]


def test_ctrl_c_on_a_real_process_exits_130():
    import signal
    import time
    # a run started in the background (`pytest &`) ignores SIGINT, a child inherits that, and Python keeps an
    # ignored SIGINT ignored: while the child starts, SIGINT is handled here (a handler is not inherited, so the
    # child gets the default, as a program started from a terminal has)
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        process = subprocess.Popen([sys.executable, "-m", "chainrule.cli", "diff", "-", "--wrt", "x"], text=True,
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    finally:
        signal.signal(signal.SIGINT, before)
    deadline = time.monotonic() + 60
    while not _reading_standard_input(process.pid) and time.monotonic() < deadline:
        time.sleep(0.05)    # importing chainrule first: an interrupt there is Python's own
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert (process.returncode, out, err) == (130, "", "chainrule: interrupted\n")


@pytest.mark.parametrize(("args", "instead"), [
    (["diff", "x'*A*x", "--wrt", "x", "--format", "unicode"], "--format text"),
    (["explain", "x'*A*x", "--wrt", "x"], "--format latex"),
    (["trace", "x'*A*x", "--wrt", "x"], "--format json"),
])
def test_an_ascii_terminal_gets_a_clear_error(args, instead):
    result = subprocess.run([sys.executable, "-m", "chainrule.cli", *args], capture_output=True, text=True,
                            timeout=120, check=False, env={**os.environ, "PYTHONIOENCODING": "ascii"})
    assert result.returncode == 2 and result.stdout == ""
    assert "encoding (ascii) cannot show" in result.stderr and "Traceback" not in result.stderr
    assert instead in result.stderr
    ascii_format = ["--format", instead.split()[1]]
    result = subprocess.run([sys.executable, "-m", "chainrule.cli", *args[:4], *ascii_format], capture_output=True,
                            text=True, timeout=120, check=False, env={**os.environ, "PYTHONIOENCODING": "ascii"})
    assert result.returncode == 0 and result.stdout, result.stderr    # the format it suggests does work there


def test_an_ascii_terminal_still_gets_ascii_formats():
    result = subprocess.run([sys.executable, "-m", "chainrule.cli", "diff", "x'*A*x", "--wrt", "x"],
                            capture_output=True, text=True, timeout=120, check=False,
                            env={**os.environ, "PYTHONIOENCODING": "ascii", "LANG": "C", "LC_ALL": "C"})
    assert (result.returncode, result.stdout) == (0, "x'*(A+A')\n")


def test_limits_from_the_environment_and_the_option():
    env = {**os.environ, "CHAINRULE_LIMITS": "order=2"}
    result = subprocess.run([sys.executable, "-m", "chainrule.cli", "diff", "x'*A*x", "--wrt", "x", "--order", "3"],
                            capture_output=True, text=True, timeout=120, check=False, env=env)
    assert result.returncode == 2 and "exceeds the limit of 2 (order)" in result.stderr
    assert "cr.limits" not in result.stderr and "--limit order=" in result.stderr     # the CLI's words
    result = subprocess.run([sys.executable, "-m", "chainrule.cli", "diff", "x'*A*x", "--wrt", "x", "--order", "3",
                             "--limit", "order=3", "--format", "json"], capture_output=True, text=True, timeout=120,
                            check=False, env=env)
    assert result.returncode == 0, result.stderr       # --limit wins over the variable
    assert json.loads(result.stdout)["shape"] == ["n", "n", "n"]
    assert diff_json("x'*A*x", "--wrt", "x", "--order", "11", "--limit", "order=11")["shape"] == ["n"] * 11


@pytest.mark.parametrize(("args", "cli_words", "python_words"), [
    (["diff", "x'*A*x", "--wrt", "x", "--at", "x=1,2"], "--at A=", "evaluate("),
    (["diff", "x+y", "--wrt", "x", "--var", "x=3", "--var", "y=4"], "--var x=n", "parse("),
    (["diff", "x'*A*x", "--wrt", "x", "--order", "11"], "--limit order=", "cr.limits("),
])
def test_hints_speak_the_command_line(args, cli_words, python_words):
    result = run(*args)
    assert result.returncode == 2
    assert cli_words in result.stderr and python_words not in result.stderr


def test_plot_into_a_missing_folder_is_a_usage_error(tmp_path):
    result = run("demo", "neuron", "--steps", "2", "--plot", str(tmp_path / "missing" / "loss.png"))
    assert result.returncode == 2 and "cannot write the loss curve" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_default_loss_curve_is_a_new_private_file(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    import tempfile

    from chainrule.training import neuron_demo
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    planted = tmp_path / "chainrule-neuron-loss.png"      # the old fixed name: a link planted there is not followed
    planted.symlink_to(tmp_path / "victim")
    first = neuron_demo(steps=2, plot=True, out=io.StringIO()).plot
    second = neuron_demo(steps=2, plot=True, out=io.StringIO()).plot
    assert first != second and first.parent == second.parent == tmp_path
    assert first.stat().st_mode & 0o777 == 0o600 and first.read_bytes().startswith(b"\x89PNG")
    assert not (tmp_path / "victim").exists()


def test_plot_goes_where_the_user_says(tmp_path):
    pytest.importorskip("matplotlib")
    target = tmp_path / "curve.png"
    result = run("demo", "neuron", "--steps", "2", "--plot", str(target))
    assert result.returncode == 0, result.stderr
    assert target.read_bytes().startswith(b"\x89PNG") and f"loss curve saved to {target}" in result.stdout


def test_readme_lists_every_limit_with_its_default():
    """The Limits section of the README is a table of every field of cr.Limits and its default, kept in step."""
    import dataclasses
    import re

    import chainrule as cr
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    rows = dict(re.findall(r"^\| `(\w+)` +\| ([^|]+?) +\|", readme, flags=re.MULTILINE))
    units = {"GiB": 2**30}

    def number(text):
        text = text.replace(",", "")
        if "^" in text:
            base, power = text.split("^")
            return int(base) ** int(power)
        amount, _, unit = text.partition(" ")
        return int(amount) * units.get(unit, 1)
    defaults = {f.name: f.default for f in dataclasses.fields(cr.Limits)}
    assert {name: number(rows[name]) for name in defaults if name in rows} == defaults


# ---- what was inferred is shown before the result ----

def test_diff_shows_every_variable_kind_and_origin_on_standard_error():
    result = run("diff", "x'*A*x + b*sum(y)", "--wrt", "x", "--var", "y=3")
    assert result.returncode == 0 and result.stdout == "x'*(A+A')\n"       # standard output: the result alone
    first = result.stderr.splitlines()[0]
    assert first.startswith("x: vector (n), A: matrix (n×n), b: scalar, y: vector (3)")
    assert "guessed from the name: x, A, b" in first and "declared: y" in first


def test_diff_says_which_kinds_use_fixed_and_notes_a_result_non_scalar_by_a_guess():
    result = run("diff", "k*norm2(w)^2", "--wrt", "w")
    assert "note: the result is a col vector because 'k' was read as a vector" in result.stderr
    fixed = run("diff", "tr(b)*X", "--wrt", "b")
    assert "fixed by use: b" in fixed.stderr.splitlines()[0]


def test_json_carries_the_variables_and_notes():
    report = diff_json("k*norm2(w)^2", "--wrt", "w", "--var", "w=3")
    assert report["variables"] == [
        {"name": "k", "kind": "vector", "shape": ["n"], "origin": "name"},
        {"name": "w", "kind": "vector", "shape": [3], "origin": "declared"},
    ]
    assert len(report["notes"]) == 1


def test_a_declaration_contradicted_by_use_is_an_error_naming_both_uses():
    result = run("diff", "x'*A*x", "--wrt", "x", "--var", "A=3,4")
    assert result.returncode == 2
    assert "'x'*A' is a row vector (4), 'x' a col vector (3)" in result.stderr and "'A' (3×4)" in result.stderr
