"""Bounded work: each limit stops its request with a LimitError that names it, before the work (so these tests are
quick), and requests within the limits succeed. Timings are measured in benchmarks/limits.py, not here."""
import random
import time

import numpy as np
import pytest

import chainrule as cr
from chainrule.language.parser import parse_syntax
from chainrule.language.surface import walk

RNG = np.random.default_rng(3)


def limit_error(call) -> cr.LimitError:
    start = time.process_time()
    with pytest.raises(cr.LimitError) as info:
        call()
    assert time.process_time() - start < 5, "the limit must be checked before the work"
    return info.value


def names_limit(error: cr.LimitError, name: str) -> None:
    assert f"({name})" in error.message and f"{name}=" in error.hint


# ---- input length and nesting depth ---------------------------------------------------------------------------------

def test_input_longer_than_the_limit_is_refused_before_parsing():
    names_limit(limit_error(lambda: cr.parse("x" * 1_000_001)), "input_chars")
    with cr.limits(input_chars=100):
        names_limit(limit_error(lambda: cr.parse("+".join(["x"] * 51))), "input_chars")
        assert cr.parse("+".join(["x"] * 50)).shape == ("n",)


@pytest.mark.parametrize("opener, closer", [("(", ")"), ("sin(", ")"), ("[", "]")])
def test_nesting_deeper_than_the_limit_names_the_position(opener, closer):
    with cr.limits(depth=50):
        if opener != "[":      # [[a]] stacks a vector: a shape error, after parsing
            assert cr.parse(opener * 50 + "a" + closer * 50).evaluate(a=0.0) == 0.0
        error = limit_error(lambda: cr.parse("b+" + opener * 51 + "a" + closer * 51))
    names_limit(error, "depth")
    column = 2 + 50 * len(opener) + len(opener) - 1      # the 51st opening bracket
    assert error.start == column and f"position {column + 1}" in error.message
    assert "^" in str(error)


def test_default_depth_allows_ten_thousand_levels():
    assert cr.parse("(" * 10_000 + "a" + ")" * 10_000).evaluate(a=2.0) == 2.0
    names_limit(limit_error(lambda: cr.parse("(" * 10_001 + "a" + ")" * 10_001)), "depth")


def test_long_operator_chains_are_not_nesting():
    # only brackets and calls count as depth: a chain of operators is read without recursion at any length
    f = cr.parse("-" * 10_001 + "a" + "'" * 10_001)
    assert f.evaluate(a=3.0) == -3.0
    assert cr.parse("^".join(["a"] * 10_001)).evaluate(a=1.0) == 1.0


# ---- integer matrix power -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["A^1e20", "A^100000", "A^-1001", "A^1001", "(A+B)^99999999999999999999"])
def test_matrix_power_over_the_limit_is_refused_before_any_work(text):
    error = limit_error(lambda: cr.parse(text))
    names_limit(error, "power")
    assert error.text == text and error.end == len(text)


def test_scalar_powers_are_not_matrix_powers():
    assert cr.parse("a^100000").evaluate(a=1.0) == 1.0


@pytest.mark.parametrize("k", [0, 1, 2, 3, 5, 13, 64, 1000, -1, -6])
def test_matrix_power_by_repeated_squaring_is_right(k):
    q, _ = np.linalg.qr(RNG.standard_normal((3, 3)))
    a = q * 1.001                                          # |eigenvalues| ~ 1: A^1000 stays finite
    got = cr.parse(f"A^{k}").evaluate(A=a)
    np.testing.assert_allclose(got, np.linalg.matrix_power(a, k), rtol=1e-9, atol=1e-12)


def test_matrix_power_builds_few_products():
    from chainrule.ir import topological
    assert len(topological([cr.parse("A^1000").node])) < 60      # 2 log2(1000) products, not 1000


@pytest.mark.parametrize("k", [3, 6, -2])
def test_matrix_power_derivative_matches_finite_differences(k):
    a = np.eye(3) + 0.3 * RNG.standard_normal((3, 3))
    assert cr.check(f"sum(A^{k})", "A", at={"A": a}).ok


def test_power_limit_can_be_raised():
    with cr.limits(power=2000):
        assert cr.parse("A^2000").shape == ("n", "n")


# ---- derivative order and nodes built -------------------------------------------------------------------------------

def test_order_over_the_limit_is_refused_before_differentiating():
    names_limit(limit_error(lambda: cr.derivative("x'*x", "x", order=99999999999999999999)), "order")
    names_limit(limit_error(lambda: cr.derivative("x'*x", "x", order=11)), "order")
    with cr.limits(order=2):
        assert cr.hessian("exp(a)", "a").evaluate(a=0.0) == 1.0
        names_limit(limit_error(lambda: cr.derivative("exp(a)", "a", order=3)), "order")


def test_a_derivative_that_grows_too_large_stops_at_the_node_limit():
    # the order-k derivative of exp(x'*x) grows about 2.5x per order
    with cr.limits(nodes=2000):
        assert cr.derivative("exp(x'*x)", "x", order=5).shape == ("n",) * 5
        error = limit_error(lambda: cr.derivative("exp(x'*x)", "x", order=9))
    names_limit(error, "nodes")


def test_the_node_limit_counts_every_order_together():
    f = cr.parse("exp(x'*x)")
    f5 = cr.derivative(f, "x", order=5)
    total, last = _nodes_built(lambda: cr.derivative(f, "x", order=6)), _nodes_built(lambda: cr.derivative(f5, "x"))
    assert last < 0.7 * total
    with cr.limits(nodes=int(0.8 * total)):
        cr.derivative(f5, "x")
        names_limit(limit_error(lambda: cr.derivative(f, "x", order=6)), "nodes")


def test_the_node_limit_counts_operands():
    # x'*A*...*A*x by A is a sum of one outer product per factor, each a product of up to 12 operands: as many nodes
    # as factors, but about 15 times the work of one, in the derivative and in the printing; by x it is one product
    # per 12 factors. Counted in nodes alone, the first ran for 8 s at 20,000 factors under the default limit.
    f = cr.parse("x'*" + "*".join(["A"] * 2000) + "*x")
    by_x, by_a = _nodes_built(lambda: cr.derivative(f, "x")), _nodes_built(lambda: cr.derivative(f, "A"))
    assert by_a > 10 * 2000 and by_x < 3 * 2000
    with cr.limits(nodes=10_000):
        assert cr.derivative(f, "x").shape == ("n",)
        names_limit(limit_error(lambda: cr.derivative(f, "A")), "nodes")


def _nodes_built(call) -> int:
    from chainrule.ir.intern import nodes_made
    start = nodes_made()
    call()
    return nodes_made() - start


def test_default_limits_allow_the_usual_derivatives():
    d = cr.derivative("sin(a)*exp(a)/(1+a^2)", "a", order=6)
    assert cr.check("sin(a)*exp(a)/(1+a^2)", "a", at={"a": 0.3}, order=6).ok
    assert d.shape == ()


# ---- long inputs: linear-time parsing and kind inference ------------------------------------------------------------

LONG = {
    "sum": lambda n: "+".join(f"x{k % 7}" for k in range(n)),
    "differences of products": lambda n: "-".join(f"a*b{k % 5}" for k in range(n)),
    "product chain": lambda n: "x'*" + "*".join(["A"] * n) + "*x",
    "element-wise chain": lambda n: ".*".join(["x"] * n),
    "stack": lambda n: "[" + ";".join(f"a{k % 9}*b" for k in range(n)) + "]",
    "nested calls": lambda n: "sin(" * n + "a" + ")" * n,
}


@pytest.mark.parametrize("make", LONG.values(), ids=LONG.keys())
def test_long_inputs_parse_differentiate_and_print(make):
    text = make(300)
    f = cr.parse(text)
    wrt = next(name for name in ("x", "a", "b", "x3") if name in f.variables)
    d = cr.derivative(f, wrt)
    assert isinstance(d.text(), str)


def test_re_kinding_variables_one_by_one_is_linear_and_right():
    # each x_k is first a vector (the default for x), and x_k*x_k makes it a scalar: typing resumes at x_k
    n = 1000
    f = cr.parse("+".join(f"x{k}*x{k}" for k in range(n)) + "+x'*y")
    assert all(f.variables[f"x{k}"].shape == () for k in range(n)) and f.variables["x"].shape == ("n",)
    values = {f"x{k}": 0.5 for k in range(n)} | {"x": np.ones(2), "y": np.ones(2)}
    assert f.evaluate(values) == pytest.approx(0.25 * n + 2)


def test_re_kinding_keeps_what_was_inferred_before_the_variable():
    # A*y fixes y to A's columns before z is seen; z changes kind from vector to scalar, y keeps its dimension
    f = cr.parse("A*y + z*z*(B*y)", A=(2, 3), B=(2, 3))
    assert f.variables["y"].shape == (3,) and f.variables["z"].shape == ()
    assert np.allclose(f.evaluate(A=np.ones((2, 3)), B=np.ones((2, 3)), y=np.ones(3), z=2.0), [15.0, 15.0])


def test_re_kinding_work_is_bounded():
    terms = 60
    text = "+".join(f"p{k}" for k in range(terms)) + "+" + "+".join(f"p{k}*p{k}" for k in range(terms))
    assert all(v.shape == () for v in cr.parse(text).variables.values())
    with cr.limits(nodes=1000):
        names_limit(limit_error(lambda: cr.parse(text)), "nodes")


# ---- the parser: positions --------------------------------------------------------------------------------------

ATOMS = ["x", "A", "2", ".5", "3e2", "pi", "sin(x)", "max(a, b)", "einsum('ij->ji', A)", "[a; b]", "(x)", "x'",
         "f()"]


def random_text(rng: random.Random) -> str:
    text = rng.choice(ATOMS)
    for _ in range(rng.randint(0, 6)):
        r = rng.random()
        if r < 0.5:
            op = rng.choice(["+", "-", "*", "/", ".*", "./", "^", ".^", " + ", " * "])
            text += op + rng.choice(["", "-", "+", "- "]) + rng.choice(ATOMS)
        elif r < 0.6:
            text = "( " + text + ")"
        elif r < 0.7:
            text += "'"
        elif r < 0.8:
            text = rng.choice(["-", "+", "- "]) + text
        elif r < 0.9:
            text = "sin(" + text + " )"
        else:
            text = "[" + text + "; " + rng.choice(ATOMS) + " ]"
    return text


def shape_of(node):
    return node.op, node.value, tuple(shape_of(a) for a in node.args)


def test_every_node_spans_the_text_that_parses_to_it():
    rng = random.Random(11)
    for _ in range(400):
        text = random_text(rng)
        for node in walk(parse_syntax(text)):
            if node.op != "string":
                assert shape_of(parse_syntax(text[node.start:node.end])) == shape_of(node), (text, node)


def test_symbolic_dimensions_never_run_out_of_names():
    # x0'*y0 + x1'*y1 + ... has one free dimension per term: more than any fixed list of names
    from chainrule.language.infer import _Names
    from chainrule.language.types import DimVar, SType, Unifier
    names = _Names(Unifier(), taken={"n", "n1"})
    shown = [names.resolve(SType((DimVar(),), "col")).dims[0] for _ in range(10_050)]
    assert len(set(shown)) == len(shown) and "n" not in shown and "n1" not in shown
