import numpy as np
import pytest

import chainrule as cr


def raises(kind, call):
    with pytest.raises(cr.ChainruleError) as info:
        call()
    assert isinstance(info.value, kind), f"{type(info.value).__name__}: {info.value}"
    return str(info.value)


def caret(message, text):
    """(start, end) of the caret marks under the line that shows `text`."""
    lines = message.splitlines()
    shown = lines.index("  " + text)
    marks = lines[shown + 1][2:]
    assert set(marks.strip()) == {"^"}, marks
    start = len(marks) - len(marks.lstrip())
    return start, len(marks.rstrip())


SYNTAX = [
    ("x+", 2, "ends too early"),
    ("(x", 2, "not closed"),
    ("x)", 1, "expected"),
    ("x $ y", 2, "unexpected character '$'"),
    ("x = 3", 2, "not an equation"),
    ("1 2", 2, "expected"),
    ("2x", 1, "expected"),
    ("x**y", 2, "expected '('"),
    ("x*", 2, "a name or a number"),
    ("()", 1, "a name or a number"),
    ("[]", 1, "a name or a number"),
    ("[a; b", 5, "']'"),
    ("x, y", 1, "the end"),
    ("'abc'", 0, "a name or a number"),
    ("x·y", 1, "unexpected character"),
    ("x . y", 2, "unexpected character"),
    ("sin(x", 5, "')'"),
    ("", 0, "empty"),
]


@pytest.mark.parametrize(("text", "column", "expected"), SYNTAX)
def test_malformed_expression(text, column, expected):
    message = raises(cr.ParseError, lambda: cr.parse(text))
    assert expected in message
    assert caret(message, text)[0] == column


def test_blank_expression():
    assert "empty" in raises(cr.ParseError, lambda: cr.parse("   "))


def test_non_text_expression():
    assert "text" in raises(cr.ParseError, lambda: cr.parse(3))


MISSPELT = [
    ("sine(x)", "sin"), ("lgo(x)", "log"), ("sigmod(x)", "sigmoid"), ("sumx(x)", "sum"), ("softmx(x)", "softmax"),
    ("nrom2(x)", "norm2"), ("sqr(x)", "sqrt"), ("logsumexpp(x)", "logsumexp"), ("Sin(x)", "sin"), ("eyes(3)", "eye"),
]


@pytest.mark.parametrize(("text", "nearest"), MISSPELT)
def test_misspelt_function_suggests_the_nearest(text, nearest):
    message = raises(cr.ParseError, lambda: cr.parse(text))
    assert f"unknown function '{text.split('(')[0]}'" in message
    assert f"Did you mean '{nearest}'?" in message
    assert caret(message, text) == (0, len(text))


def test_unknown_function_lists_the_known_ones():
    message = raises(cr.ParseError, lambda: cr.parse("foo(x) + 1"))
    assert "unknown function 'foo'" in message and "logsumexp" in message and "softmax" in message
    assert caret(message, "foo(x) + 1") == (0, 6)


def test_function_name_used_as_a_variable():
    message = raises(cr.ShapeError, lambda: cr.parse("2*sin"))
    assert "write sin(...)" in message
    assert caret(message, "2*sin") == (2, 5)


MISMATCH = [
    ("x'*A*x", {"x": (3,), "A": (4, 4)}, (0, 4), ["'x''", "row vector (3)", "'A'", "matrix (4×4)", "inner"]),
    ("x+y", {"x": (3,), "y": (4,)}, (0, 3), ["'x'", "col vector (3)", "'y'", "col vector (4)"]),
    ("A*x", {"A": (2, 3), "x": (4,)}, (0, 3), ["'A'", "matrix (2×3)", "'x'", "col vector (4)"]),
    ("X+Y", {"X": (2, 3), "Y": (3, 2)}, (0, 3), ["'X'", "matrix (2×3)", "'Y'", "matrix (3×2)"]),
    ("x.*y", {"x": (2,), "y": (3,)}, (0, 4), ["'.*'", "col vector (2)", "col vector (3)"]),
    ("x./y", {"x": (2,), "y": (3,)}, (0, 4), ["'./'", "col vector (2)", "col vector (3)"]),
    ("x.^y", {"x": (2,), "y": (3,)}, (0, 4), ["'.^'", "col vector (2)", "col vector (3)"]),
    ("a + max(x, y)", {"x": (2,), "y": (3,)}, (4, 13), ["'max'", "'x'", "(2)", "'y'", "(3)"]),
    ("x.*A", {"x": (3,), "A": (2, 3)}, (0, 4), ["'x'", "col vector (3)", "'A'", "matrix (2×3)"]),
    ("A*x + y", {"A": (2, 2), "y": (3,)}, (0, 7), ["'A*x'", "col vector (2)", "'y'", "col vector (3)"]),
    ("X*w - y", {"X": ("m", "n"), "y": ("n",)}, (0, 7), ["'X*w'", "(m)", "'y'", "(n)"]),
]


@pytest.mark.parametrize(("text", "decls", "span", "parts"), MISMATCH, ids=[m[0] for m in MISMATCH])
def test_inconsistent_shapes_name_both_operands_and_shapes(text, decls, span, parts):
    message = raises(cr.ShapeError, lambda: cr.parse(text, **decls))
    for part in parts:
        assert part in message
    assert caret(message, text) == span


SHAPE = [
    ("tr(X)", {"X": (2, 3)}, (0, 5), "square"),
    ("det(X)", {"X": ("m", "n")}, (0, 6), "matrix (m×n)"),
    ("logdet(X)", {"X": (2, 3)}, (0, 9), "square"),
    ("inv(x)", {"x": "vector"}, (0, 6), "square"),
    ("diag(X)", {"X": (2, 3)}, (0, 7), "square matrix"),
    ("X^2", {"X": (2, 3)}, (0, 3), "square matrix to an integer power"),
    ("A^0.5", {"A": "matrix"}, (0, 5), ".^"),
    ("x^y", {}, (0, 3), "exponent"),
    ("a/x", {"x": "vector"}, (0, 3), "divides by a scalar"),
    ("softmax(a)", {"a": "scalar"}, (0, 10), "vector or a matrix"),
    ("[x; a]", {"x": "vector"}, (1, 2), "stacking needs the size"),
    ("[x; y]", {"x": (3,), "y": (3, 3)}, (0, 6), "same number of columns"),
    ("x(5)", {"x": (3,)}, (2, 3), "beyond the end"),
    ("x(2)", {"x": "vector"}, (0, 4), "indexing needs the size"),
    ("x(0)", {"x": (3,)}, (2, 3), "whole number from 1"),
    ("X(2)", {"X": (2, 2)}, (0, 4), "two indices"),
    ("sin(x^2)", {"x": "vector"}, (4, 7), "col vector"),
    ("einsum('ij,jk->ik', A, B)", {"A": (2, 3), "B": (4, 5)}, (23, 24), "index 'j'"),
    ("einsum('ij->i', x)", {"x": "vector"}, (16, 17), "2 indices"),
    ("einsum('ij', A)", {}, (7, 11), "not of the form"),
    ("einsum('ij->ii', A)", {}, (7, 15), "once only"),
    ("einsum(ij, A)", {}, (0, 13), "quoted spec"),
    ("einsum('ij,j->i', A)", {}, (0, 20), "names 2 operands but 1"),
    ("einsum('ij->ijk', A)*x", {}, (0, 22), "use einsum for tensors"),
    ("einsum('ij->ijk', A)'", {}, (0, 21), "not tensors"),
    ("sin('x')", {}, (4, 7), "only allowed as the spec of einsum"),
    ("max(x, x, x)", {}, (0, 12), "max takes two operands"),
    ("sin()", {}, (0, 5), "1 argument(s), but 0"),
    ("det(X, Y)", {}, (0, 9), "1 argument(s), but 2"),
    ("eye(1, 2)", {}, (0, 9), "at most one argument"),
    ("eye(x)", {}, (4, 5), "whole number or a quoted dimension name"),
    ("vector(x)", {"x": "vector"}, (0, 9), "a scalar value"),
    ("vector(1, 0)", {}, (10, 11), "whole number"),
    ("vector(1, 2.5)", {}, (10, 13), "whole number"),
    ("matrix(1, 2)", {}, (0, 12), 'matrix(1, "n", "m")'),
]


@pytest.mark.parametrize(("text", "decls", "span", "expected"), SHAPE, ids=[s[0] for s in SHAPE])
def test_impossible_shapes(text, decls, span, expected):
    message = raises(cr.ShapeError, lambda: cr.parse(text, **decls))
    assert expected in message
    assert caret(message, text) == span


BAD_DECLARATIONS = [
    {"A": "banana"}, {"x": "tensor"}, {"a": 3}, {"a": None}, {"a": (0,)}, {"a": (-1,)}, {"a": (True,)},
    {"a": ("1n",)}, {"a": (1.5,)}, {"A": ("n", "n", 0)},
]


@pytest.mark.parametrize("decls", BAD_DECLARATIONS, ids=repr)
def test_bad_declaration(decls):
    message = raises(cr.ShapeError, lambda: cr.parse("x'*A*x + a", **decls))
    name, decl = next(iter(decls.items()))
    assert f"cannot read the declaration {name}={decl!r}" in message
    assert "scalar, vector, matrix, symmetric" in message


F = cr.parse("x'*A*x")
EVALUATION = [
    (F, {"x": np.ones(3)}, "no value given for A"),
    (F, {}, "no value given for x, A"),
    (F, {"x": np.ones(3), "A": np.ones((4, 4))}, "dimension n is 3 in x but 4 in A"),
    (F, {"x": np.ones(3), "A": np.ones((3, 4))}, "3 in x but 4 in A"),
    (F, {"x": np.ones((3, 1)), "A": np.eye(3)}, "x is declared n but its value has shape 3×1"),
    (F, {"x": np.ones(3), "A": np.ones((3, 3, 3))}, "A is declared n×n but its value has shape 3×3×3"),
    (F, {"x": "abc", "A": np.eye(3)}, "not an array of numbers"),
    (F, {"x": np.ones(3), "A": np.eye(3), "z": 1.0}, "'z' is not a variable"),
    (cr.parse("a*x"), {"a": np.ones(2), "x": np.ones(3)}, "a is declared scalar but its value has shape 2"),
    (cr.parse("x+y", x=(3,)), {"x": np.ones(4), "y": np.ones(4)}, "x must have shape 3, got 4"),
    (cr.parse("vector(c)"), {"c": 2.0}, "the size of dimension 'n' is unknown"),
    (cr.parse("inv(A)"), {"A": np.ones((2, 2))}, "inv"),
]


@pytest.mark.parametrize(("f", "values", "expected"), EVALUATION, ids=[e[2] for e in EVALUATION])
def test_bad_values(f, values, expected):
    assert expected in raises(cr.EvaluationError, lambda: f.evaluate(values))


def test_derivative_accepts_values_only_for_the_variables_of_its_source():
    g = cr.derivative(F, "x")
    assert "'z' is not a variable" in raises(cr.EvaluationError, lambda: g.evaluate(x=np.ones(2), A=np.eye(2), z=1))


REQUESTS = [
    (lambda: cr.derivative(F, "y"), "cannot differentiate by 'y'"),
    (lambda: cr.derivative(F, "sin"), "cannot differentiate by 'sin'"),
    (lambda: cr.derivative(F, 3), "cannot differentiate by 3"),
    (lambda: cr.derivative(F, cr.parse("x+1")), "not a variable of the expression"),
    (lambda: cr.derivative(F, ["x", "q"]), "cannot differentiate by 'q'"),
    (lambda: cr.hessian(F, "z"), "cannot differentiate by 'z'"),
    (lambda: cr.derivative("x'*A*x", "w"), "Its variables are: x, A."),
    (lambda: cr.derivative(F, "x", layout="diagonal"), "unknown layout 'diagonal'"),
    (lambda: cr.derivative(F, "x", layout="Numerator"), "Use one of numerator, denominator, mixed."),
    (lambda: cr.hessian(F, "x", layout="bogus"), "unknown layout 'bogus'"),
    (lambda: cr.derivative(F, "x", order=-1), "whole number >= 0, not -1"),
    (lambda: cr.derivative(F, "x", order=1.5), "not 1.5"),
    (lambda: cr.derivative(F, "x", order="2"), "not '2'"),
    (lambda: cr.check(F, "y", at={"x": np.ones(2), "A": np.eye(2), "y": 1.0}), "cannot differentiate by 'y'"),
]


@pytest.mark.parametrize(("call", "expected"), REQUESTS, ids=[r[1] for r in REQUESTS])
def test_impossible_request(call, expected):
    assert expected in raises(cr.DerivativeError, call)


def test_check_without_a_value_for_the_variable():
    assert "x" in raises(cr.ChainruleError, lambda: cr.check(F, "x", at={"A": np.eye(2)}))


def test_check_of_order_zero_is_answered_or_refused_clearly():
    try:
        result = cr.check(F, "x", at={"x": np.ones(2), "A": np.eye(2)}, order=0)
    except cr.ChainruleError:
        return
    assert isinstance(result, cr.CheckResult)


def test_check_does_not_pass_on_nan():
    at = {"x": np.array([np.nan, 1.0]), "A": np.eye(2)}
    assert not cr.check(F, "x", at=at).ok


def test_every_error_is_a_chainrule_error():
    for kind in (cr.ParseError, cr.ShapeError, cr.EvaluationError, cr.DerivativeError):
        assert issubclass(kind, cr.ChainruleError) and issubclass(kind, Exception)


N = 10_000
HUGE = {
    "10,000 negated parentheses": "-(" * N + "x" + ")" * N,
    "10,000 transposes": "x" + "'" * N,
    "10,000 powers": "^".join(["a"] * N),
    "10,000 nested brackets": "[" * N + "a" + "]" * N,
    "unclosed 10,000 parentheses": "(" * N + "x",
    "unclosed 10,000 sin": "sin(" * N + "a",
    "unclosed 10,000 brackets": "[" * N + "a",
    "10,000 extra closing parentheses": "x" + ")" * N,
}


@pytest.mark.parametrize("text", HUGE.values(), ids=HUGE.keys())
def test_huge_or_deep_input_answers_without_recursion_error(text):
    try:
        f = cr.parse(text)
    except cr.ChainruleError as error:
        message = str(error)
    else:
        message = ""
        assert isinstance(f.text(), str)
    assert len(message.splitlines()) <= 4     # an error is a short message, never a trace of the recursion


SOLVED = [
    ("+".join(["x"] * 50_000), {"x": np.array([1.0, 2.0])}, np.array([50_000.0, 100_000.0])),
    ("-".join(["x"] * 50_000), {"x": np.array([1.0, 2.0])}, np.array([-49_998.0, -99_996.0])),
    ("(" * N + "x" + ")" * N, {"x": np.array([1.0, 2.0])}, np.array([1.0, 2.0])),
    ("sin(" * N + "a" + ")" * N, {"a": 0.5}, None),
    ("-" * N + "x", {"x": np.array([1.0, 2.0])}, np.array([1.0, 2.0])),
    ("-" * (N + 1) + "x", {"x": np.array([1.0, 2.0])}, np.array([-1.0, -2.0])),
]


def nested_sin(a, depth=N):
    for _ in range(depth):
        a = np.sin(a)
    return a


@pytest.mark.parametrize(("text", "values", "expected"), SOLVED, ids=["sum", "difference", "parentheses", "sin",
                                                                      "even minus", "odd minus"])
def test_huge_or_deep_input_evaluates_and_differentiates(text, values, expected):
    f = cr.parse(text)
    expected = nested_sin(0.5) if expected is None else expected
    np.testing.assert_allclose(f.evaluate(values), expected, rtol=1e-10)
    name = next(iter(values))
    assert cr.check(f, name, at=values).ok


def test_deep_sin_derivative_value():
    g = cr.derivative(cr.parse("sin(" * N + "a" + ")" * N), "a")
    a, slope = 0.5, 1.0
    for _ in range(N):
        slope *= np.cos(a)
        a = np.sin(a)
    assert g.evaluate(a=0.5) == pytest.approx(slope, rel=1e-9)
    assert isinstance(g.text(), str)


def test_unclosed_deep_expression_says_how_many_are_open():
    message = raises(cr.ParseError, lambda: cr.parse("(" * N + "x"))
    assert "ends too early" in message and f"{N} parenthesis(es) not closed" in message


def test_long_expression_error_shows_an_excerpt_with_a_caret():
    text = "+".join(["x"] * 50_000) + "+"
    lines = raises(cr.ParseError, lambda: cr.parse(text)).splitlines()
    assert lines[1].startswith("  ...x+x+") and len(lines[1]) < 100
    assert lines[2].rstrip().endswith("^")
