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
