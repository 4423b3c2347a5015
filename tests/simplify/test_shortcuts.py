"""The constructors' shortcuts (build.py: a scalar times a unit vector; a product with one Kronecker delta) build
exactly the node the full product normal form builds, wherever they apply, and step aside where they do not."""
import pytest

from chainrule.simplify import build as b
from chainrule.simplify.build import CONSTRUCTORS
from chainrule.simplify.contract import normal_form

a, c = b.var("a", ()), b.var("c", ())
x = b.var("x", ("n",))
X = b.var("X", (3, 4))
S = b.var("S", (3, 3), symmetric=True)

SCALARS = [a, b.apply("sin", a), b.apply("exp", c), b.power(a, b.const(3.0)), b.index(b.var("v", (5,)), [2]),
           b.apply("sigmoid", b.neg(a)), b.add(a, c), b.const(2.0), b.mul(a, c), b.scale(-1.5, a),
           b.sum_all(x)]


def full(operands, out, dims=None):
    return normal_form(operands, out, dims, CONSTRUCTORS)


@pytest.mark.parametrize("scalar", SCALARS)
@pytest.mark.parametrize("k, n", [(0, 2), (1, 2), (4, 7), (0, 1)])
def test_scalar_times_unit_vector_is_its_normal_form(scalar, k, n):
    e = b.basis(k, n)
    expected = full([(scalar, ()), (e, (0,))], (0,))
    assert b.mul(scalar, e) is expected
    assert b.mul(e, scalar) is expected


@pytest.mark.parametrize("operand, labels, out", [
    (x, ("j",), ("i",)),
    (X, ("j", "k"), ("i", "k")),
    (X, ("k", "j"), ("k", "i")),
    (X, ("j", "k"), ("k", "i")),          # the renamed labels are not out's order: the full form transposes
    (S, ("j", "k"), ("i", "k")),
    (S, ("k", "j"), ("i", "k")),
    (b.basis(2, 3), ("j",), ("i",)),
    (b.apply("exp", X), ("j", "k"), ("i", "k")),
    (b.add(X, X), ("j", "k"), ("i", "k")),
    (b.transpose(X, (1, 0)), ("k", "j"), ("k", "i")),      # a product: left to the normal form
    (b.const(2.0, (3,)), ("j",), ("i",)),                  # a constant: left to the normal form
    (X, ("j", "k"), ("i",)),                               # k summed
    (x, ("j",), ("i", "i")),                               # i twice in the output
])
def test_product_with_a_delta_is_its_normal_form(operand, labels, out):
    j = labels.index("j")
    d = b.delta(operand.shape[j])
    dims = dict(zip(labels, operand.shape, strict=True)) | {"i": operand.shape[j]}
    for operands in ([(d, ("i", "j")), (operand, labels)], [(operand, labels), (d, ("i", "j"))]):
        assert b.contract(operands, out, dims) is full(operands, out, dims)


def test_a_delta_on_both_sides_is_left_to_the_normal_form():
    d = b.delta(3)
    assert b.contract([(d, ("i", "j")), (d, ("j", "k"))], ("i", "k")) is d


def test_one_term_sums_are_what_the_full_sum_gives():
    # a zero term takes the full path (flatten, collect, fold) and is dropped there
    for term in (a, x, X, b.apply("exp", X), b.const(2.0, (3,)), b.mul(a, c), b.add(a, c), b.basis(1, 3),
                 b.apply("sigmoid", b.neg(x)), b.index(X, [1, b.FULL])):
        assert b.add(term) is b.add(term, b.zeros(term.shape))


ENTRIES = [a, b.apply("sin", a), b.apply("exp", c), b.power(a, b.const(3.0)), b.index(b.var("v", (5,)), [2]),
           b.add(a, c), b.sum_all(x), b.apply("sigmoid", a), b.const(2.0), b.mul(a, c), None,    # None: e_k alone
           b.apply("sigmoid", b.neg(a))]


def _entry(scalar, k, n):
    return b.basis(k, n) if scalar is None else b.mul(scalar, b.basis(k, n))


@pytest.mark.parametrize("entries, shortcut", [
    ([(0, 0), (1, 1), (10, 2)], True),               # (which of ENTRIES, its slot k)
    ([(10, 3), (0, 0), (1, 1), (2, 2)], True),
    ([(2, 0), (3, 1), (5, 2), (10, 4), (4, 3)], True),
    ([(0, 0), (0, 1), (0, 2)], True),                # one scalar in every slot
    ([(0, 0), (1, 2), (2, 0)], False),               # slot 0 twice: the full form collects it
    ([(0, 0), (1, 1)], False),                       # two terms: a factored reflection is possible
    ([(0, 0), (1, 1), (6, 2)], False),               # sum(x)*e_2 is a product: the normal form may rewrite it
    ([(0, 0), (1, 1), (7, 2)], True),                # sigmoid(a): nothing to reflect onto it
    ([(0, 0), (11, 1), (7, 2)], False),              # sigmoid(-a): a reflection onto sigmoid(a)
    ([(8, 0), (1, 1), (2, 2)], False),               # a number times e_0
    ([(5, 1), (1, 6), (6, 0), (0, 2), (2, 4), (4, 3), (3, 7), (7, 8), (8, 9), (9, 5)], False),
])
def test_a_column_of_scalars_is_its_normal_form(entries, shortcut):
    # a zero term sends the sum down the full path
    n = 1 + max(k for _, k in entries)
    terms = [_entry(ENTRIES[p], k, n) for p, k in entries]
    assert (b._column_of_scalars(terms) is not None) == shortcut
    assert b.add(*terms) is b.add(*terms, b.zeros((n,)))
    assert b.add(*reversed(terms)) is b.add(*terms)

