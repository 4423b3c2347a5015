"""A style is a table the one renderer reads; index notation of one product (explain's index rows); the tree walk."""
import chainrule as cr
from chainrule.notation import index_form, mast, shown_tree
from chainrule.notation.render import STYLES, Renderer, Style


class Spaced(Style):
    """A made-up notation: only the table differs, the renderer is the same."""
    times, plus, subtract, transpose = " * ", " + ", " - ", ".T"


def test_a_new_style_is_one_more_table():
    assert Renderer(Spaced()).render(shown_tree(cr.parse("x'*A*y-2*a").node, None)) == "x.T * A * y - 2 * a"
    gradient = cr.derivative("x'*A*x", "x").node
    assert Renderer(Spaced()).render(shown_tree(gradient, "row")) == "x.T * (A + A.T)"


def test_the_sign_between_terms_comes_from_the_table():
    tree = shown_tree(cr.parse("a-b").node, None)
    assert [Renderer(STYLES[s]).render(tree) for s in ("text", "unicode", "latex")] == ["a-b", "a − b", "a - b"]


def test_a_scalar_quotient_is_a_fraction_in_latex_only():
    d = cr.derivative("ln(sin(x^3)^2)", "x")
    assert d.text() == "6*x^2*cos(x^3)/sin(x^3)"
    assert d.latex() == r"6 \frac{{x}^{2} \cos\left({x}^{3}\right)}{\sin\left({x}^{3}\right)}"


def test_index_form_writes_each_operand_with_its_indices():
    form = index_form(cr.derivative("A*X", "X").node, "unicode")
    assert (form.free, form.summed, form.factors) == ("ijkl", "", ("A[ik]", "δ[jl]"))
    assert form.entry("J") + " = " + form.body() == "(J)[ijkl] = A[ik] δ[jl]"
    latex = index_form(cr.derivative("A*X", "X").node, "latex")
    assert latex.entry("J") + " = " + latex.body(r"\,") == r"\left(J\right)_{ijkl} = A_{ik}\,\delta_{jl}"


def test_index_form_sums_and_parenthesises_compound_operands():
    form = index_form(cr.derivative("sum(exp(A*X))", "X").node, "unicode")
    assert form.body() == "Σ_k A[ki] (exp(A·X))[kj]"


def test_index_form_is_only_for_products():
    assert index_form(cr.parse("sin(x)").node, "latex") is None


def test_postorder_visits_operands_first_once_and_skips_known_nodes():
    x, y = mast.sym("x", 0), mast.sym("y", 0)
    shared = mast.add(x, y)
    root = mast.mm(shared, mast.func("exp", shared))
    order = mast.postorder(root)
    assert len(order) == len({id(n) for n in order}) and order[-1] is root
    assert all(order.index(a) < order.index(n) for n in order for a in n.args)
    assert shared not in mast.postorder(root, {id(shared)}) and x not in mast.postorder(root, {id(shared)})
