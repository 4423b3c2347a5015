"""Bad input to the public API gets the project's own errors (issue 7, C); a variable may be called like a parameter.

Each case below escaped as a raw TypeError, ValueError, KeyError, IndexError, OverflowError or AttributeError before.
"""
from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import errors

f = cr.parse("x'*A*x")
x, A = cr.vector_var("x", "n"), cr.matrix_var("A", "n")

BAD = [
    ("softmax of an empty vector", lambda: cr.parse("softmax(x)").evaluate(x=np.zeros(0)), cr.EvaluationError, "empty"),
    ("logsumexp of an empty vector", lambda: cr.parse("logsumexp(x)").evaluate(x=[]), cr.EvaluationError, "empty"),
    ("an unknown function", lambda: cr.call("nosuch", x), cr.ParseError, "unknown function 'nosuch'"),
    ("a misspelt function", lambda: cr.call("sofmax", x), cr.ParseError, "Did you mean 'softmax'?"),
    ("a function name that is not text", lambda: cr.call(3, x), cr.ParseError, "unknown function 3"),
    ("max of three operands", lambda: cr.call("max", x, x, x), cr.ShapeError, "max takes two operands max(a, b)"),
    ("exp of nothing", cr.exp, cr.ShapeError, "exp takes 1 argument(s), but 0 are given"),
    ("eye without a size from Python", lambda: cr.call("eye"), cr.ShapeError, "leaves a size unknown"),
    ("a number too large for a float", lambda: cr.exp(10**400), cr.UsageError, "too large for a float"),
    ("a vector named by a number", lambda: cr.vector_var(123), cr.UsageError, "not int"),
    ("a scalar named 1x", lambda: cr.scalar_var("1x"), cr.UsageError, "not '1x'"),
    ("a dimension that is an object", lambda: cr.vector_var("x", object()), cr.UsageError, "a dimension"),
    ("a dimension of 0", lambda: cr.matrix_var("A", 0), cr.UsageError, "a dimension"),
    ("a non-square symmetric matrix", lambda: cr.matrix_var("S", 2, 3, symmetric=True), cr.ShapeError, "square"),
    ("symmetric not a bool", lambda: cr.matrix_var("S", symmetric="yes"), cr.UsageError, "True or False"),
    ("derivative of a number", lambda: cr.derivative(12, "x"), cr.UsageError, "needs an expression"),
    ("hessian of None", lambda: cr.hessian(None, "x"), cr.UsageError, "needs an expression"),
    ("parse of a number", lambda: cr.parse(3), cr.ParseError, "must be text, not int"),
    ("parse of an Expr", lambda: cr.parse(x), cr.ParseError, "already an Expr"),
    ("explain of a number", lambda: cr.explain(5, "x"), cr.ChainruleError, "int"),
    ("explain by a list", lambda: cr.explain("x'*x", ["x"]), cr.UsageError, "variable name"),
    ("explain with an order that is not text", lambda: cr.explain("x'*x", "x", order=[]), cr.DerivativeError,
     "unknown order"),
    ("trace of a number", lambda: cr.trace(5, "x", {}), cr.ChainruleError, "int"),
    ("trace by None", lambda: cr.trace("sum(x)", None, {"x": [1.0]}), cr.UsageError, "not NoneType"),
    ("values that are text", lambda: f.evaluate("abc"), cr.UsageError, "mapping"),
    ("values keyed by numbers", lambda: f.evaluate({1: 2}), cr.UsageError, "names"),
    ("check at values that are text", lambda: cr.check(f, "x", at={"x": "ab", "A": np.eye(2)}), cr.EvaluationError,
     "text"),
    ("check with a negative seed", lambda: cr.check("sum(x)", "x", at={"x": [1.0]}, seed=-1), cr.ChainruleError,
     "seed"),
    ("check by a number", lambda: cr.check(f, 5, at={"x": [1.0]}), cr.DerivativeError, "cannot differentiate"),
    ("a trace direction of text", lambda: cr.trace("sum(x)", "x", {"x": [1.0, 2.0]}, mode="forward",
                                                   direction={"x": "ab"}), cr.EvaluationError, "direction for x"),
    ("training from text values", lambda: cr.train("(a-3)^2", params={"a": "abc"}, data={}), cr.EvaluationError,
     "text"),
    ("training from params that are a list", lambda: cr.train("(a-3)^2", params=[1], data={}), cr.UsageError,
     "mapping"),
    ("a learning rate of text", lambda: cr.train("(a-3)^2", params={"a": 0.0}, data={}, lr="abc"), cr.ChainruleError,
     "learning rate"),
    ("a negative number of steps", lambda: cr.train("(a-3)^2", params={"a": 0.0}, data={}, steps=-1),
     cr.ChainruleError, "steps"),
    ("a fractional number of steps", lambda: cr.train("(a-3)^2", params={"a": 0.0}, data={}, steps=2.5),
     cr.ChainruleError, "steps"),
    ("a callback that is not a function", lambda: cr.train("(a-3)^2", params={"a": 0.0}, data={}, callback=5),
     cr.ChainruleError, "callback"),
    ("training declarations that are a list", lambda: cr.train("(a-3)^2", params={"a": 0.0}, data={},
                                                               declarations=[1]), cr.UsageError, "mapping"),
    ("a trace mode that is an array", lambda: cr.trace("sum(x)", "x", {"x": [1.0]}, mode=np.array([1, 2])),
     cr.DerivativeError, "unknown mode"),
    ("trace declarations that are a list", lambda: cr.trace("sum(x)", "x", {"x": [1.0]}, declarations=[1]),
     cr.UsageError, "mapping"),
    ("trace values that are a list", lambda: cr.trace("sum(x)", "x", [1.0]), cr.UsageError, "mapping"),
    ("a huge identity", lambda: cr.parse("eye(1e308)*x").evaluate(x=np.ones(2)), cr.ChainruleError, ""),
    ("a declaration named 1x", lambda: cr.parse("x", **{"1x": "vector"}), cr.UsageError, "'1x'"),
    ("a declaration named 1x in a mapping", lambda: cr.parse("x", {"1x": "vector"}), cr.UsageError, "'1x'"),
    ("a non-ASCII declaration", lambda: cr.parse("x", {"é": "vector"}), cr.UsageError, "'é'"),
    ("declarations that are a list", lambda: cr.parse("x", ["x"]), cr.UsageError, "mapping"),
    ("a name declared twice, differently", lambda: cr.parse("x", {"x": "vector"}, x="scalar"), cr.UsageError,
     "declared twice"),
    ("a trace declaration named 1x", lambda: cr.trace("x", "x", {"x": 1.0}, declarations={"1x": "scalar"}),
     cr.ChainruleError, "'1x'"),
]


@pytest.mark.parametrize(("action", "error", "words"), [case[1:] for case in BAD], ids=[case[0] for case in BAD])
def test_bad_input_raises_a_chainrule_error(action, error, words):
    with pytest.raises(error) as caught:
        action()
    assert words in str(caught.value)


def test_usage_error_is_a_chainrule_error_and_exported():
    assert issubclass(cr.UsageError, cr.ChainruleError) and cr.UsageError is errors.UsageError
    from chainrule.arguments import UsageError
    assert UsageError is cr.UsageError     # the command line's usage errors are the same type


def test_an_internal_error_is_not_disguised(monkeypatch):
    """The guards check arguments; they do not catch what goes wrong below them: a bug stays a bug."""
    def broken(*args, **kwargs):
        raise RuntimeError("a bug")
    monkeypatch.setattr("chainrule.api.jacobian", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        cr.derivative("x'*x", "x")


# ---- variables named like the API's own parameters ----

@pytest.mark.parametrize("name", ["text", "f", "wrt", "layout", "order", "declarations", "values", "self", "kinds"])
def test_a_variable_may_be_named_like_a_parameter(name):
    as_mapping = cr.parse(f"{name}+1", {name: "vector"})
    as_keyword = cr.parse(f"{name}+1", **{name: "vector"})
    assert as_mapping.shape == as_keyword.shape == ("n",)
    value = np.array([1.0, 2.0])
    np.testing.assert_allclose(as_keyword.evaluate(**{name: value}), value + 1)
    np.testing.assert_allclose(as_mapping.evaluate({name: value}), value + 1)
    g = cr.parse(f"{name}'*{name}", {name: "vector"})
    np.testing.assert_allclose(cr.derivative(g, name, order=1, layout="denominator").evaluate({name: value}),
                               2 * value)
    assert cr.check(g, name, at={name: value}).ok
    assert cr.explain(f"{name}'*{name}", name, declarations={name: "vector"}).result.text() == f"2*{name}'"
    traced = cr.trace(f"{name}'*{name}", name, {name: value}, declarations={name: "vector"})
    np.testing.assert_allclose(traced.gradients[0].backprop, 2 * value)


def test_keywords_and_mapping_declarations_combine():
    g = cr.parse("x'*S*x", {"S": "symmetric"}, x=(3,))
    assert g.variables["S"].symmetric and g.variables["x"].shape == (3,)
    assert str(cr.derivative(g, "x")) == "2*x'*S"
