"""Printed forms, where the form is the point; every printed result is also re-parsed and compared numerically."""
import numpy as np
import pytest
from roundtrip import assert_derivatives_reparse

import chainrule as cr

FORMS = [
    ("x'*A*x", {}, "x", 1, "x'*(A+A')"),
    ("x'*A*x", {}, "x", 2, "A+A'"),
    ("x'*A*x", {"A": "symmetric"}, "x", 1, "2*x'*A"),
    ("norm2(X*w-y)^2", {}, "w", 1, "2*(X*w-y)'*X"),
    ("tr(X'*A*X)", {}, "X", 1, "(A+A')*X"),
    ("sum(log(1+exp(-y.*(X*w))))", {}, "w", 1, "-(y.*sigmoid(-y.*(X*w)))'*X"),
    ("norm2(T-U*V')^2", {}, "U", 1, "-2*(T-U*V')*V"),
    ("w'*x", {}, "w", 1, "x'"),
    ("A*x", {}, "x", 1, "A"),
    ("w.*x", {}, "w", 1, "diag(x)"),
    ("sin(x^2)", {}, "x", 1, "2*cos(x^2)*x"),
    ("ln(sin(x^3)^2)", {}, "x", 1, "6*x^2*cos(x^3)/sin(x^3)"),
    ("[ln(x^2); sin(3*x)]", {}, "x", 1, "[2/x; 3*cos(3*x)]"),
    ("max(0, w'*x+b)", {}, "b", 1, "step(b+w'*x)"),
    ("logdet(X)", {}, "X", 1, "inv(X)'"),
    ("inv(X)", {}, "X", 1, 'einsum("ik,lj->ijkl", inv(X), inv(X))'),
    # batched layers: a bias's gradient is a column sum, MATLAB's sum(A, 1)
    ("sum(relu(X*W+b'))", {"b": "vector"}, "b", 1, "sum(step(X*W+b'), 1)"),
    ("v'*sum(X, 2)", {}, "v", 1, "sum(X, 2)'"),
    ("sum(X, 1)*v", {}, "v", 1, "sum(X, 1)"),
    # the backward pass through a hidden layer: a matrix product meeting the activation's derivative element-wise
    ("sum((relu(X*W1+b1')*W2+b2'-Y).^2)", {"b1": "vector", "b2": "vector"}, "W1", 1,
     "2*X'*(((b2'+relu(X*W1+b1')*W2-Y)*W2').*step(X*W1+b1'))"),
    ("sum((relu(X*W1+b1')*W2+b2'-Y).^2)", {"b1": "vector", "b2": "vector"}, "b1", 1,
     "2*sum(((b2'+relu(X*W1+b1')*W2-Y)*W2').*step(X*W1+b1'), 1)"),
    # softmax along a dimension keeps its name in derivatives
    ("sum(sum(Y.*softmax(Z, 2)))", {}, "Z", 1,
     "Y.*softmax(Z, 2)-diag(sum(Y.*softmax(Z, 2), 2))*softmax(Z, 2)"),
    ("-sum(Y.*logsoftmax(X*W+b', 2))", {"b": "vector"}, "W", 1, "X'*(diag(sum(Y, 2))*softmax(X*W+b', 2)-Y)"),
    # a row scaling by a computed vector: S_ij (S*v)_i is diag(S*v)*S (attention's softmax against values)
    ("sum(sum(softmax(Z, 2)*V))", {}, "Z", 1,
     "softmax(Z, 2)*diag(sum(V, 2))-diag(softmax(Z, 2)*sum(V, 2))*softmax(Z, 2)"),
    ("sum(sum(softmax(Q*K', 2)*V))", {}, "Q", 1,
     "(softmax(Q*K', 2)*diag(sum(V, 2))-diag(softmax(Q*K', 2)*sum(V, 2))*softmax(Q*K', 2))*K"),
    # a row or column repeated over a matrix inside an element-wise product is written as the vector (implicit
    # expansion), not as an outer product with ones: normalising rows
    ("sum(sum(G.*X./sum(X, 2)))", {}, "X", 1, "G./sum(X, 2)-sum(X.*G./sum(X, 2).^2, 2)"),
    ("sum(sum(G./sqrt(sum(X.^2, 2))))", {}, "X", 1, "-diag(sum(G./sqrt(sum(X.^2, 2)).^2, 2)./sqrt(sum(X.^2, 2)))*X"),
    # and a row scaling already on the index joins it element-wise: x_i S_ik v_k S_ij is diag(x.*(S*v))*S
    ("x'*softmax(Z, 2)*v", {}, "Z", 1, "diag(x)*softmax(Z, 2)*diag(v)-diag(x.*(softmax(Z, 2)*v))*softmax(Z, 2)"),
    # a compact form keeps its name where a part of it is also a broadcast vector (softmax(Z, 2) is Z - its
    # logsumexp along rows, and both parts hold the size): attention's scaled scores
    ("sum(sum(softmax(Q*K'/sqrt(size(K, 2)), 2)*V.*G))", {}, "V", 1, "softmax(Q*K'/sqrt(size(K, 2)), 2)'*G"),
    # a zero part of a stacked tensor is left out: its place stays zero
    ("C(2:4, :).*C(2:4, :)", {"C": (4, 3)}, "C", 1,
     'einsum("ijzl,kz->ijkl", 2*einsum("ik,jl,kl->ijkl", eye(3), eye(3), C(2:4, :)), [matrix(0, 1, 3); eye(3)])'),
    # numbers times a tensor, and D2det in either order of its pairs: one term
    ("det(A)^2", {}, "A", 2, '2*det(A)*cofactor(A, 2)+2*einsum("ij,kl->ijkl", cofactor(A), cofactor(A))'),
    ("sum(cofactor(A).*A)", {}, "A", 2, '2*cofactor(A, 2)+einsum("ijklmn,mn->ijkl", cofactor(A, 3), A)'),
]
LAYOUTS = [("w'*x", "w", "numerator", "x'"), ("w'*x", "w", "denominator", "x"), ("w'*x", "w", "mixed", "x"),
           ("A*x", "x", "numerator", "A"), ("A*x", "x", "denominator", "A'"), ("A*x", "x", "mixed", "A")]


def values_for(f, rng, n=3):
    sizes = {}
    values = {}
    for name, info in f.variables.items():
        shape = tuple(d if isinstance(d, int) else sizes.setdefault(d, n + len(sizes)) for d in info.shape)
        value = rng.standard_normal(shape)
        if len(shape) == 2 and shape[0] == shape[1]:
            value = value @ value.T + shape[0] * np.eye(shape[0])
        values[name] = value
    return values


@pytest.mark.parametrize("text, decls, wrt, order, form", FORMS, ids=[f"{r[0]} by {r[2]}" for r in FORMS])
def test_printed_form(text, decls, wrt, order, form, rng):
    f = cr.parse(text, **decls)
    d = cr.derivative(f, wrt, order=order)
    assert d.text().replace("-einsum", "einsum") == form
    values = values_for(f, rng)
    got = d.evaluate(values)
    np.testing.assert_allclose(cr.parse(d.text(), **{n: i.shape for n, i in f.variables.items()}).evaluate(values),
                               got, rtol=1e-10, atol=1e-12)
    assert d.unicode() and d.latex()
    assert_derivatives_reparse(f, values, wrt)


@pytest.mark.parametrize("text, wrt, layout, form", LAYOUTS)
def test_layouts(text, wrt, layout, form, rng):
    f = cr.parse(text)
    d = cr.derivative(f, wrt, layout=layout)
    assert d.text() == form
    numerator = cr.derivative(f, wrt).evaluate(values_for(f, rng))
    expected = numerator.T if layout == "denominator" else numerator
    np.testing.assert_allclose(d.evaluate(values_for(f, np.random.default_rng(0))), expected)


def test_unicode_and_latex_renderings():
    d = cr.derivative("x'*A*x", "x")
    assert d.unicode() == "xᵀ·(A + Aᵀ)"
    assert d.latex() == r"x^{\top} \left(A + A^{\top}\right)"
    assert "⊙" in cr.derivative("sum(x.*sin(x))", "x", layout="mixed").unicode()


def test_tensor_results_use_index_notation():
    d = cr.derivative("inv(X)", "X")
    assert "[ijkl:" in d.unicode() and r"_{ijkl}" in d.latex()


def test_cse_names_shared_subexpressions(rng):
    d = cr.derivative("softmax(x)", "x")
    lines = d.text(cse=True).splitlines()
    assert lines == ["t0 = softmax(x)", "diag(t0)-t0*t0'"]      # p = softmax(x) named once, no name left unused


@pytest.mark.parametrize("factors", [11, 12, 13, 40])
def test_long_chains_print_as_written(factors, rng):
    # a chain longer than one product normal form (12 factors) is several nested products; each scalar product reads
    # in the direction with fewer transposes, so the text is the chain, not x'*(x'*A*...*A)'
    text = "x'*" + "*".join(["A"] * factors) + "*x"
    f = cr.parse(text)
    assert f.text() == text
    if factors <= 16:      # longer products than this print nested: A*...*(A*...*x)
        chain = "*".join(["A"] * factors)
        assert cr.derivative(f, "x").text() == f"x'*{chain}+({chain}*x)'"
    assert_derivatives_reparse(f, values_for(f, rng, n=2), "x")


def test_very_deep_results_name_their_shared_parts():
    d = cr.derivative("sin(" * 3000 + "x" + ")" * 3000, "x")
    text = d.text()
    assert text.count("\n") > 100 and len(text) < 200_000


HIDDEN = ["relu", "tanh", "sigmoid", "sin", "softplus"]
LAYERS = ["X*W1+b1'", "X*W1'+b1'", "(W1*X'+b1)'"]


@pytest.mark.parametrize("layer", LAYERS)
@pytest.mark.parametrize("g", HIDDEN)
def test_hidden_layer_gradients_are_matrix_products(g, layer, rng):
    """Every weight and bias of a two-layer model prints in matrix notation (no einsum) and re-parses to the same
    numbers, whichever activation and however the first layer is written."""
    f = cr.parse(f"sum(({g}({layer})*W2+b2'-Y).^2)", b1="vector", b2="vector")
    values = values_for(f, rng)
    for wrt in ["W1", "b1", "W2", "b2"]:
        d = cr.derivative(f, wrt)
        assert "einsum" not in d.text(), (wrt, d.text())
        assert cr.check(f, wrt, seed=1).ok
    assert_derivatives_reparse(f, values, ["W1", "b1", "W2", "b2"], max_order=1)


@pytest.mark.parametrize("text", ["X./sum(X, 2)", "exp(X)./sum(exp(X), 1)", "G./sqrt(sum(X.^2, 2))", "X'./sum(X, 1)'"])
def test_a_repeated_row_or_column_prints_as_written(text, rng):
    # it printed as X./(X*vector(1, "m")*vector(1, "m")'): the ones of the broadcast written out
    f = cr.parse(text, X=("n", "m"), G=("n", "m"))
    assert "vector(1" not in f.text()
    values = {"X": rng.uniform(0.5, 1.5, (3, 4)), "G": rng.standard_normal((3, 4))}
    again = cr.parse(f.text(), X=("n", "m"), G=("n", "m"))
    np.testing.assert_allclose(again.evaluate(values), f.evaluate(values), rtol=1e-12)
