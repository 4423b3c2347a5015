"""Fuzzing the public API and the command line: whatever the input, only a ChainruleError escapes, and the CLI never
reports an internal error (exit status 3).

Inputs: random strings (ASCII, Unicode, control characters), grammar-aware mutations of valid expressions (tokens
inserted, deleted, swapped, replaced), every function of the language with each arity and kind of argument, bad
declarations and bad values, and random command lines run in-process through `chainrule.cli.main`.

In CI the examples are derandomized (a fixed seed) and bounded (the file runs in well under 30 s). For a longer run:
    CHAINRULE_FUZZ_EXAMPLES=5000 pytest tests/test_fuzz.py
which also draws new random examples each time.
"""
from __future__ import annotations

import contextlib
import io
import os
import re
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule import cli
from chainrule.expr import apply_operator
from chainrule.language.rules import FUNCTIONS, OPERATORS

LOCAL_EXAMPLES = int(os.environ.get("CHAINRULE_FUZZ_EXAMPLES", "0"))


def fuzz_settings(ci_examples: int):
    return settings(max_examples=LOCAL_EXAMPLES or ci_examples, derandomize=not LOCAL_EXAMPLES, deadline=None,
                    database=None, suppress_health_check=list(HealthCheck))


# Tight limits: a fuzzed eye(99999) must stop at the limit, not allocate gigabytes on a shared machine.
TIGHT = {"size": 10**5, "eval_bytes": 10**7, "nodes": 20_000, "explain_steps": 50}

CORPUS = [
    ("x'*A*x", {}), ("x'*A*x", {"A": "symmetric"}), ("sum(log(1+exp(-y.*(X*w))))", {}),
    ("norm2(X*w-y)^2", {}), ("tr(X'*A*X)", {}), ("logdet(X)", {}), ("inv(X)", {}), ("det(A)", {}),
    ("softmax(x)", {}), ("logsumexp(x)", {}), ("max(0, w'*x+b)", {}), ("-sum(y.*log(p))", {}),
    ("ln(sin(x^3)^2)", {"x": "scalar"}), ("a*b^2", {}), ("sigmoid(w'*x)", {}), ("diag(x)*A", {}),
    ("x.^2./(1+abs(x))", {}), ("[a; b; a*b]", {}), ("A^3", {}), ("exp(x'*x)", {}), ("a+1+0*x", {}),
    ("(A.^B)'", {}), ("tr(B)*tr(B)", {}), ("(a)*b", {}), ("max(a, relu(a))", {}), ("eye(3)*x", {}),
    ("einsum(\"ij,j->i\", A, x)", {}), ("tanh(W*x+c)", {}), ("sqrt(x'*x)", {}), ("min(a, max(a, b))", {}),
]
TOKEN = re.compile(r"[A-Za-z_]\w*|\d+(?:\.\d*)?(?:e[+-]?\d+)?|\.[*/^]|\"[^\"]*\"|\S")
POOL = sorted({t for text, _ in CORPUS for t in TOKEN.findall(text)} |
              {"(", ")", "[", "]", ";", ",", "'", "^", "-", "+", "*", "/", "1e308", "0", "-1", "999999", "nan", "inf",
               "pi", "eye", "vector", "matrix", "\"n\"", "''", ".", "=", "²", "ᵀ", "\x00", "\t"})


def only_chainrule_errors(action, *args, **kwargs):
    """Run action; a ChainruleError is an answer, any other exception a bug (re-raised for hypothesis to report)."""
    try:
        with np.errstate(all="ignore"):
            return action(*args, **kwargs)
    except cr.ChainruleError:
        return None


def some_values(f: cr.Expr) -> dict:
    """Moderate values of the right shapes: every named dimension 2, symmetric matrices symmetric."""
    rng = np.random.default_rng(0)
    values = {}
    for name, (shape, symmetric) in f.variables.items():
        value = rng.uniform(0.5, 1.5, tuple(d if isinstance(d, int) else 2 for d in shape))
        values[name] = (value + value.T) / 2 if symmetric else value
    return values


def exercise(text: str, declarations: dict) -> None:
    """Everything a user may do with one expression; only ChainruleErrors may escape any of it."""
    with cr.limits(**TIGHT):
        f = only_chainrule_errors(cr.parse, text, declarations)
        if f is None:
            only_chainrule_errors(cr.explain, text, "x", declarations=declarations)
            return
        only_chainrule_errors(str, f)
        values = some_values(f)
        only_chainrule_errors(f.evaluate, values)
        for wrt in list(f.variables)[:2]:
            d = only_chainrule_errors(cr.derivative, f, wrt)
            if d is not None:
                only_chainrule_errors(lambda d=d: (d.text(), d.unicode(), d.latex(), d.evaluate(values)))
            only_chainrule_errors(cr.check, f, wrt, at=values)
            if len(text) <= 60:
                only_chainrule_errors(lambda wrt=wrt: cr.explain(text, wrt, declarations=declarations).text())
                only_chainrule_errors(lambda wrt=wrt: cr.trace(text, wrt, values, declarations=declarations).text())


# ---- random text -----------------------------------------------------------------------------------------------

EXPRESSION_CHARACTERS = st.sampled_from(list("xyAB ab()[];,'*+-./^=0123456789e\"_") + ["ᵀ", "²", "\x00", "\n", "é"])


@fuzz_settings(150)
@given(st.one_of(st.text(EXPRESSION_CHARACTERS, max_size=30), st.text(max_size=20)))
def test_random_text_gets_chainrule_errors_only(text):
    exercise(text, {})


# ---- grammar-aware mutations of valid expressions ----------------------------------------------------------------

@st.composite
def mutated(draw):
    text, declarations = draw(st.sampled_from(CORPUS))
    tokens = TOKEN.findall(text)
    for _ in range(draw(st.integers(1, 3))):
        k = draw(st.integers(0, len(tokens)))
        edit = draw(st.sampled_from(("insert", "delete", "swap", "replace")))
        if edit == "insert" or not tokens:
            tokens.insert(k, draw(st.sampled_from(POOL)))
        elif edit == "delete":
            del tokens[min(k, len(tokens) - 1)]
        elif edit == "swap" and len(tokens) > 1:
            k = min(k, len(tokens) - 2)
            tokens[k], tokens[k + 1] = tokens[k + 1], tokens[k]
        else:
            tokens[min(k, len(tokens) - 1)] = draw(st.sampled_from(POOL))
    return "".join(tokens), declarations


@fuzz_settings(250)
@given(mutated())
def test_mutated_expressions_get_chainrule_errors_only(case):
    exercise(*case)


# ---- every function with every arity and kind of argument ---------------------------------------------------------

ARGUMENTS = ("a", "x", "x'", "A", "B", "3", "2.5", "\"n\"", "\"ij->i\"", "-1", "0", "eye")


@fuzz_settings(200)
@given(st.sampled_from(sorted(FUNCTIONS)), st.lists(st.sampled_from(ARGUMENTS), max_size=3))
def test_every_function_with_wrong_arity_and_kinds(name, arguments):
    exercise(f"{name}({', '.join(arguments)})", {"B": ("m", "k")})


PYTHON_OPERANDS = (cr.scalar_var("a"), cr.vector_var("x", "n"), cr.matrix_var("A", "n"), cr.matrix_var("B", "m", "k"),
                   2.5, 10**400, "x", "n", "ij->i", None, [1, 2], np.ones(3), float("nan"), True)


@fuzz_settings(150)
@given(st.sampled_from([*sorted(FUNCTIONS), "nosuch", "", 3]),
       st.lists(st.sampled_from(range(len(PYTHON_OPERANDS))), max_size=3))
def test_every_function_called_from_python(name, picks):
    operands = [PYTHON_OPERANDS[k] for k in picks]
    result = only_chainrule_errors(cr.call, name, *operands)
    if result is not None:
        only_chainrule_errors(str, result)


@fuzz_settings(100)
@given(st.sampled_from(sorted(OPERATORS)), st.sampled_from(range(len(PYTHON_OPERANDS))),
       st.sampled_from(range(len(PYTHON_OPERANDS))))
def test_python_operators(op, i, j):
    left, right = PYTHON_OPERANDS[i], PYTHON_OPERANDS[j]
    if isinstance(left, cr.Expr):
        only_chainrule_errors(apply_operator, op, left, *([] if op in ("neg", "transpose") else [right]))


# ---- bad declarations, values and arguments ----------------------------------------------------------------------

ODD = st.one_of(st.none(), st.booleans(), st.integers(-10**30, 10**30), st.floats(), st.complex_numbers(),
                st.text(max_size=8), st.binary(max_size=4), st.lists(st.integers(-3, 5), max_size=3),
                st.tuples(st.text(max_size=3)), st.dictionaries(st.text(max_size=2), st.integers(), max_size=2))
NAMES = st.one_of(st.sampled_from(["x", "A", "a", "text", "f", "wrt", "1x", "", "x y", "é", "eye"]),
                  st.text(max_size=4))


@fuzz_settings(200)
@given(st.dictionaries(NAMES, st.one_of(ODD, st.sampled_from(["vector", "symmetric", "scalar", "matrix", (),
                                                                     ("n",), (3, 3), (0,), ("n", "n")])),
                       max_size=3))
def test_bad_declarations(declarations):
    exercise("x'*A*x+a", declarations)


VALUES = st.one_of(ODD, st.sampled_from([np.zeros(0), np.ones((2, 2)), np.ones((3, 3, 3)), [[1, 2], [3]],
                                        np.array([1j, 2]), np.array(["a", "b"]), [1e308, 1e308], [np.nan, 1.0],
                                        np.ones(10**3), object()]))


@fuzz_settings(100)
@given(st.dictionaries(NAMES, VALUES, max_size=3), st.one_of(ODD, st.sampled_from(["x", "A", "a"])),
       st.one_of(st.integers(-3, 3), ODD))
def test_bad_values_and_arguments(values, wrt, number):
    f = cr.parse("x'*A*x+a")
    with cr.limits(**TIGHT):
        only_chainrule_errors(f.evaluate, values)
        only_chainrule_errors(cr.derivative, f, wrt, order=number)
        only_chainrule_errors(cr.derivative, f, wrt, layout=number)
        only_chainrule_errors(cr.check, f, wrt, at=values, order=1, seed=number)
        only_chainrule_errors(cr.check, f, "x", at={"x": [1.0, 2.0], "A": [[1.0, 0], [0, 1]], "a": 1.0}, seed=number)
        only_chainrule_errors(cr.trace, "x'*A*x+a", wrt, values)
        only_chainrule_errors(cr.trace, "sum(x)", "x", {"x": [1.0, 2.0]}, mode="forward", direction=values or number)
        only_chainrule_errors(cr.explain, "x'*A*x+a", wrt, layout=number)
        only_chainrule_errors(cr.train, "(a-3)^2", params=values, data={}, steps=2)
        only_chainrule_errors(cr.train, "(a-3)^2", params={"a": number}, data={}, steps=2)
        for maker in (cr.scalar_var, cr.vector_var, cr.matrix_var):
            made = only_chainrule_errors(maker, wrt)
            if made is not None:
                only_chainrule_errors(str, made)
        only_chainrule_errors(lambda: str(cr.vector_var("v", number)))
        only_chainrule_errors(lambda: str(cr.matrix_var("M", number, symmetric=number)))


# ---- the command line ------------------------------------------------------------------------------------------

def run_cli(argv: list[str]) -> int:
    """cli.main in-process; argparse's own exits (2 for usage, 0 for --help/--version) count as answers."""
    out, err = io.StringIO(), io.StringIO()
    stdin = sys.stdin
    sys.stdin = io.StringIO("x'*A*x")
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), cr.limits(**TIGHT):
            code = cli.main(argv)
    except SystemExit as exit_:
        code = exit_.code
    finally:
        sys.stdin = stdin
    assert code != 3, f"internal error for {argv}:\n{err.getvalue()}"
    assert "Traceback" not in err.getvalue()
    return code


CLI_EXPRESSIONS = st.one_of(st.sampled_from([t for t, _ in CORPUS] + ["-", "-x", "--", "", "-sum(x)"]),
                            st.sampled_from([t for t, _ in CORPUS]), mutated().map(lambda case: case[0]),
                            st.text(EXPRESSION_CHARACTERS, max_size=15))
ODD_CLI_VALUES = ["1", "1,2", "1,2;3,4", "[1,2]", "[[1,2],[3,4]]", "[{\"a\":1}]", "[1,null]", "[NaN]",
                  "inf", "1e400", "[" * 2000 + "]" * 2000, "", "x", "²", "1,2;3", "[[1],[2,3]]", "0.5",
                  "[true]", "[\"1\"]", "1" * 5000, "[[[1]]]"]
CLI_VALUES = st.sampled_from(ODD_CLI_VALUES)
CLI_NAMES = st.sampled_from(["x", "A", "a", "b", "y", "p", "w", "X", "1x", ""])
CLI_VALUE_OPTIONS = {
    "--at": st.builds(lambda n, v: f"{n}={v}", CLI_NAMES, CLI_VALUES),
    "--var": st.sampled_from(["x=3", "A=symmetric", "x=²", "Q=symmetric", "a=scalar", "X=m,n", "x=0", "A=3,3",
                              "x=vectr", "p=()", "w=n", "A=2,3"]),
    "--limit": st.sampled_from(["order=2", "size=10", "foo=1", "order", "eval_bytes=1e3", "depth=3", "input_chars=5",
                                "nodes=10", "explain_steps=1", "power=1", "order=nan"]),
    "--order": st.sampled_from(["0", "1", "2", "3", "-1", "99999999999999999999", "11"]),
    "--layout": st.sampled_from(["numerator", "denominator", "mixed"]),
    "--seed": st.sampled_from(["-1", "0", "7"]),
    "--mode": st.sampled_from(["reverse", "forward"]),
    "--direction": st.builds(lambda n, v: f"{n}={v}", CLI_NAMES, CLI_VALUES),
}
CLI_COMMANDS = {      # the options each subcommand has: random ones argparse would refuse teach nothing
    "diff": (["--at", "--var", "--limit", "--order", "--layout"], ["--check", "--hessian", "--cse"],
             ["text", "unicode", "latex", "json"]),
    "explain": (["--var", "--limit", "--layout"], ["--forward", "--reverse"], ["text", "markdown", "latex", "json"]),
    "trace": (["--at", "--var", "--limit", "--seed", "--mode", "--direction"], ["--full"],
              ["text", "markdown", "json"]),
}


@st.composite
def command_lines(draw):
    command = draw(st.sampled_from(sorted(CLI_COMMANDS)))
    valued, flags, formats = CLI_COMMANDS[command]
    argv = [command, draw(CLI_EXPRESSIONS), "--wrt", draw(CLI_NAMES.filter(bool)),
            "--format", draw(st.sampled_from(formats))]
    for option in draw(st.lists(st.sampled_from(valued), max_size=4)):
        argv += [option, draw(CLI_VALUE_OPTIONS[option])]
    return argv + draw(st.lists(st.sampled_from(flags), max_size=2, unique=True))


@fuzz_settings(80)
@given(command_lines())
def test_cli_never_reports_an_internal_error(argv):
    run_cli(argv)


@pytest.mark.parametrize("option", ["--at", "--direction"])
@pytest.mark.parametrize("text", ODD_CLI_VALUES, ids=lambda text: repr(text[:12]))
def test_every_odd_value_on_a_valid_command_line(option, text):
    """Each odd value once, on a command line that is otherwise right (so that it is the value that gets read)."""
    mode = ["--mode", "forward"] if option == "--direction" else []
    run_cli(["trace", "sum(x)", "--wrt", "x", *mode, "--at", f"x={text}" if option == "--at" else "x=1,2",
             *([option, f"x={text}"] if option == "--direction" else [])])
    if option == "--at":
        run_cli(["diff", "x'*x", "--wrt", "x", "--at", f"x={text}", "--check"])


@pytest.mark.parametrize("argv", [
    ["demo", "neuron", "--steps", "-1"], ["demo", "mlp", "--steps", "0"], ["demo", "neuron", "--seed", "-1"],
    ["demo", "neuron", "--lr", "nan"], ["demo", "neuron", "--steps", "1", "--plot", "/nonexistent/folder/loss.png"],
    ["--version"], ["diff", "--help"],
])
def test_cli_demo_and_top_level_never_report_an_internal_error(argv):
    assert run_cli(argv) in (0, 2)
