import numpy as np
import pytest

import chainrule as cr
from chainrule.language import infer
from chainrule.language.infer import BY_NAME, BY_USE, SCALAR_NAMES, compile_text


def shape(f, name):
    return f.variables[name].shape


def rank(f, name):
    return len(shape(f, name))


DEFAULTS = [
    ("a", 0), ("b", 0), ("c", 0), ("d", 0), ("e", 0), ("f", 0), ("g", 0), ("alpha", 0),
    ("h", 1), ("i", 1), ("n", 1), ("w", 1), ("x", 1), ("z", 1), ("theta", 1),
    ("A", 2), ("G", 2), ("H", 2), ("X", 2), ("Z", 2), ("Weights", 2),
]


@pytest.mark.parametrize(("name", "expected"), DEFAULTS)
def test_first_letter_decides_when_use_leaves_it_open(name, expected):
    f = cr.parse(f"sum({name})" if expected else name)
    assert rank(f, name) == expected


DECLARED = [
    ("x", "scalar", ()),
    ("a", "vector", ("n",)),
    ("a", "matrix", ("n", "m")),
    ("x", "matrix", ("n", "m")),
    ("A", "scalar", ()),
    ("A", "vector", ("n",)),
    ("A", "symmetric", ("n", "n")),
    ("x", (), ()),
    ("x", (3,), (3,)),
    ("A", (2, 5), (2, 5)),
    ("X", ("m", "n"), ("m", "n")),
    ("b", ("k",), ("k",)),
    ("X", ["m", 4], ("m", 4)),
]


@pytest.mark.parametrize(("name", "decl", "expected"), DECLARED)
def test_explicit_declaration_wins(name, decl, expected):
    f = cr.parse(f"sum({name})", **{name: decl})
    assert shape(f, name) == expected
    assert f.variables[name].symmetric == (decl == "symmetric")


def test_declaration_wins_over_use():
    f = cr.parse("a*x", a="vector", x="scalar")
    assert rank(f, "a") == 1 and rank(f, "x") == 0
    assert f.stype.kind == "col vector"


USE = [
    ("sin(x^2)", "x", 0),
    ("x^3+1", "x", 0),
    ("[x; y]", "x", 0),
    ("tr(x)", "x", 2),
    ("inv(x)*A", "x", 2),
    ("diag(a)", "a", 1),
    ("softmax(a)", "a", 1),
    ("A^0.5", "A", 0),
]


@pytest.mark.parametrize(("text", "name", "expected"), USE)
def test_use_decides(text, name, expected):
    assert rank(cr.parse(text), name) == expected


SQUARE = ["x'*A*x", "tr(A)", "det(A)", "logdet(A)", "inv(A)", "A^2", "diag(A)", "A+A'", "A*A", "einsum('ii->', A)"]


@pytest.mark.parametrize("text", SQUARE)
def test_use_makes_a_matrix_square(text):
    rows, cols = shape(cr.parse(text), "A")
    assert rows == cols


def test_a_rectangular_matrix_stays_rectangular():
    rows, cols = shape(cr.parse("x'*X*y"), "X")
    assert rows != cols


UNIFY = [
    ("X*w", [("X", 1), ("w", 0)]),
    ("X*w-y", [("X", 0), ("y", 0)]),
    ("x'*A*x", [("x", 0), ("A", 0), ("A", 1)]),
    ("A*B*C", [("A", 1), ("B", 0)]),
    ("x*y'+A", [("x", 0), ("A", 0)]),
    ("x.*y", [("x", 0), ("y", 0)]),
    ("max(x, y)", [("x", 0), ("y", 0)]),
    ("einsum('ij,jk->ik', A, B)", [("A", 1), ("B", 0)]),
    ("U*V'-T", [("U", 1), ("V", 1)]),
    ("U*V'+T", [("U", 0), ("T", 0)]),
    ("U*V'+T ", [("V", 0), ("T", 1)]),
]


@pytest.mark.parametrize(("text", "dims"), UNIFY, ids=[u[0] for u in UNIFY])
def test_symbolic_dimensions_unify(text, dims):
    f = cr.parse(text)
    assert len({shape(f, name)[axis] for name, axis in dims}) == 1


def test_declared_dimension_names_propagate():
    f = cr.parse("X*w", X=("m", "k"))
    assert shape(f, "w") == ("k",)
    assert f.shape == ("m",)


def test_declared_sizes_propagate():
    f = cr.parse("X*w-y", X=(4, 3))
    assert shape(f, "w") == (3,) and shape(f, "y") == (4,)
    assert f.shape == (4,)


def test_x_and_w_share_a_dimension_in_evaluation():
    f = cr.parse("X*w")
    with pytest.raises(cr.EvaluationError):
        f.evaluate(X=np.ones((4, 3)), w=np.ones(4))


def test_unused_declared_variable_is_kept():
    f = cr.parse("x", y=(3,))
    assert shape(f, "y") == (3,)


def test_generated_dimension_names_avoid_declared_ones():
    f = cr.parse("X*w+y", X=("m", "n"), y=("m",))
    assert shape(f, "w") == ("n",)


def test_symmetric_declaration_gives_the_symmetric_gradient():
    f = cr.parse("x'*A*x", A="symmetric")
    assert f.variables["A"].symmetric
    g = cr.derivative(f, "x")
    assert g.text() == "2*x'*A"
    rng = np.random.default_rng(1)
    m = rng.standard_normal((3, 3))
    A, x = m + m.T, rng.standard_normal(3)
    np.testing.assert_allclose(g.evaluate(x=x, A=A), 2 * A @ x, rtol=1e-12)


def test_undeclared_matrix_gives_the_general_gradient():
    assert cr.derivative(cr.parse("x'*A*x"), "x").text() == "x'*(A+A')"


def test_symmetric_hessian():
    assert cr.hessian(cr.parse("x'*A*x", A="symmetric"), "x").text() == "2*A"


def test_dimension_tuple_with_a_shared_name():
    f = cr.parse("x'*A*x", x=("n",), A=("n", "n"))
    assert shape(f, "A") == ("n", "n") and f.shape == ()


# ---- scalar names, declarations that win, the weakest guess re-read first, notes on guessed results ----



@pytest.mark.parametrize("name", sorted(SCALAR_NAMES))
def test_scalar_names_of_the_literature_are_scalars(name):
    assert cr.parse(f"{name}*norm2(w)^2").shape == ()
    assert rank(cr.parse(f"{name}*norm2(w)^2", **{name: "vector"}), name) == 1     # unless declared otherwise


def test_a_declaration_is_never_resolved_by_re_reading_another_variable():
    with pytest.raises(cr.ShapeError) as error:
        cr.parse("x'*A*x", A=(3, 4))
    message = str(error.value)
    assert "'x'*A' is a row vector (4), 'x' a col vector (3)" in message     # both uses
    assert "'A' (3×4)" in message and "never re-read" in message


def test_undeclared_variables_are_still_re_read_where_use_demands():
    f = cr.parse("x*y'*z")           # z: a vector by its letter, a scalar by use? no: x*y' is a matrix, z a vector
    assert f.shape == ("n",)
    g = cr.parse("x'*W")             # W stays a matrix
    assert rank(g, "W") == 2


def test_a_consistent_letter_reading_is_kept():
    # X and W matrices by their letters; b a scalar: vector(1)*b' is a column, expanded over the columns of X*W
    compiled = compile_text("X*W + vector(1)*b'", {})
    assert compiled.stype.rank == 2
    assert {n: len(v.shape) for n, v in compiled.variables.items()} == {"X": 2, "W": 2, "b": 0}
    assert compiled.origins == {"X": BY_NAME, "W": BY_NAME, "b": BY_NAME}


def test_a_guess_the_use_contradicts_is_re_read_and_says_so():
    compiled = compile_text("tr(b)*X", {})
    assert {n: len(v.shape) for n, v in compiled.variables.items()} == {"b": 2, "X": 2}
    assert compiled.origins == {"b": BY_USE, "X": BY_NAME}


def test_origins_name_declared_guessed_and_re_read_variables():
    compiled = compile_text("a*x + A*y", {"y": "vector", "a": "scalar"})
    assert compiled.origins["y"] == infer.DECLARED and compiled.origins["x"] == BY_NAME


def test_a_result_non_scalar_only_by_a_guess_gets_a_note():
    compiled = compile_text("k*norm2(w)^2", {})
    assert compiled.stype.rank == 1
    assert len(compiled.notes) == 1 and "'k' was read as a vector" in compiled.notes[0]
    assert compile_text("k*norm2(w)^2", {"k": "scalar"}).notes == ()
    assert compile_text("W*x + b", {}).notes == ()      # a vector result whatever the guesses: nothing to say


def test_the_inferred_kinds_are_shown_by_the_api_and_in_jupyter():
    f = cr.parse("k*norm2(w)^2", w=("m",))
    assert f.inferred() == [{"name": "k", "kind": "vector", "shape": ["n"], "origin": "name"},
                            {"name": "w", "kind": "vector", "shape": ["m"], "origin": "declared"}]
    assert f.inferred_text.splitlines()[0] == "k: vector (n), w: vector (m)  (guessed from the name: k; declared: w)"
    pytest.importorskip("latex2mathml")
    shown = f._repr_html_()
    assert "guessed from the name: k; declared: w" in shown and "note: the result is a col vector" in shown


# ---- indexing re-reads a guessed scalar; a size a later use fixes is enough ----

INDEXED_GUESSES = [   # (text, declarations, the variable indexed, its shape as read)
    ("b(2) + y'*b", {"y": (3,)}, "b", (3,)),
    ("y'*b + b(2)", {"y": (3,)}, "b", (3,)),
    ("sum(c(2:3)) + c'*x", {"x": (4,)}, "c", (4,)),
    ("d(1, 2) + sum(sum(d.*X))", {"X": (2, 3)}, "d", (2, 3)),
    ("x(2) + y'*x", {"y": (3,)}, "x", (3,)),      # a vector by its letter: its size may come later too
]


@pytest.mark.parametrize("text, decls, name, expected", INDEXED_GUESSES, ids=[i[0] for i in INDEXED_GUESSES])
def test_indexing_a_guessed_scalar_re_reads_it(text, decls, name, expected):
    compiled = compile_text(text, decls)
    assert tuple(compiled.variables[name].shape) == expected
    assert compiled.origins[name] == (BY_NAME if name == "x" else BY_USE)


def test_an_indexed_guess_evaluates_and_differentiates_as_a_vector():
    f = cr.parse("b(2)^2 + y'*b", y=(3,))
    b, y = np.array([0.5, -2.0, 1.5]), np.array([1.0, 2.0, 3.0])
    assert f.shape == () and f.evaluate(b=b, y=y) == pytest.approx(4.0 + y @ b)
    np.testing.assert_allclose(cr.derivative(f, "b").evaluate(b=b, y=y), y + [0.0, 2 * b[1], 0.0])
    assert cr.check(f, "b", at={"b": b, "y": y}).ok


@pytest.mark.parametrize("text, kind, hint", [
    ("b(2)", "a col vector", "b=(3,)"),
    ("c(1)*x + c(2)", "a col vector", "c=(3,)"),
    ("b(2, 1)", "a matrix", "b=(2, 3)"),
])
def test_an_indexed_guess_whose_size_nothing_fixes_asks_for_it(text, kind, hint):
    # re-read as a vector (or a matrix), the guess still needs its size as a number: the message says so, not that
    # it is a scalar
    with pytest.raises(cr.ShapeError, match=f"indexing needs the size of '{text[0]}' \\({kind}") as error:
        cr.parse(text, **({"x": (3,)} if "x" in text else {}))
    assert "is a scalar" not in str(error.value) and hint in error.value.hint


def test_an_index_beyond_a_size_a_later_use_fixes_points_at_the_index():
    with pytest.raises(cr.ShapeError, match=r"index 4 is beyond the end of 'b', a col vector \(3\)") as error:
        cr.parse("b(4) + y'*b", y=(3,))
    assert (error.value.start, error.value.end) == (2, 3)


@pytest.mark.parametrize("decl", ["scalar", ()])
def test_indexing_a_declared_scalar_stays_an_error(decl):
    with pytest.raises(cr.ShapeError, match="'b' is a scalar: indexing takes a vector or matrix") as error:
        cr.parse("b(2) + y'*b", b=decl, y=(3,))
    assert "declare 'b' a vector or a matrix" in error.value.hint


def test_a_declared_vector_is_indexed_as_declared():
    f = cr.parse("b(2)", b=(3,))
    assert f.variables["b"].shape == (3,) and f.origins["b"] == "declared"
