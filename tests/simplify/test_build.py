"""The normal forms the constructors guarantee (each checked by structure: these are the point)."""
from chainrule.simplify import build as b

x, y = b.var("x", ("n",)), b.var("y", ("n",))
A = b.var("A", ("n", "n"))


def test_like_terms_collect_and_zeros_vanish():
    assert b.add(x, x) is b.scale(2.0, x)
    assert b.sub(x, x) is b.zeros(("n",))
    assert b.add(x, b.zeros(("n",))) is x


def test_constants_fold():
    assert b.apply("exp", b.const(0.0)) is b.const(1.0)
    assert b.mul(b.const(2.0), b.const(3.0)) is b.const(6.0)
    assert b.power(x, b.const(1.0)) is x


def test_nested_products_flatten_and_transposes_cancel():
    twice = b.transpose(b.transpose(A, (1, 0)), (1, 0))
    assert twice is A
    product = b.contract([(b.contract([(A, "ij"), (x, "j")], "i"), "i"), (y, "i")], "")
    assert product.op == "contract" and len(product.args) == 3


def test_identities_are_absorbed():
    # A_ij delta_jk = A_ik
    assert b.contract([(A, "ij"), (b.delta("n"), "jk")], "ik") is A


def test_zero_annihilates_products():
    assert b.mul(b.zeros(("n",)), x) is b.zeros(("n",))


def test_equal_factors_become_powers():
    s = b.var("s", ())
    assert b.mul(s, b.mul(s, s)) is b.power(s, b.const(3.0))


def test_products_differing_in_one_factor_share_the_rest():
    # A*x + A*y = A*(x+y)
    merged = b.add(b.contract([(A, "ij"), (x, "j")], "i"), b.contract([(A, "ij"), (y, "j")], "i"))
    assert merged is b.contract([(A, "ij"), (b.add(x, y), "j")], "i")


def test_log_sum_exp_is_recognised():
    assert b.apply("log", b.sum_all(b.apply("exp", x))) is b.logsumexp(x)


def test_symmetric_matrix_equals_its_transpose_inside_products():
    S = b.var("S", ("n", "n"), symmetric=True)
    assert b.contract([(S, "ij"), (x, "j")], "i") is b.contract([(S, "ji"), (x, "j")], "i")


def test_a_symmetric_matrix_transposed_alone_is_the_matrix():
    S = b.var("S", ("n", "n"), symmetric=True)
    assert b.contract([(S, "ji")], "ij") is S


def test_derivatives_of_det_are_one_node_in_any_order_of_their_pairs():
    # D^k det is symmetric in its k pairs of axes (the order of differentiation does not matter): contracting a
    # direction with either pair of cofactor(A, 2) is one node (computed once), and cofactor(A, 2) with its pairs
    # swapped is cofactor(A, 2) (the Hessian of sum(cofactor(A).*A) is 2*cofactor(A, 2) + ..., not a sum of two forms)
    v, d2, d3 = b.var("v", ("n", "n")), b.cofactor(A, 2), b.cofactor(A, 3)
    assert b.contract([(v, "kl"), (d2, "klij")], "ij") is b.contract([(v, "kl"), (d2, "ijkl")], "ij")
    assert b.contract([(d2, "klij")], "ijkl") is d2
    assert b.contract([(d3, "mnijkl"), (A, "mn")], "ijkl") is b.contract([(d3, "ijmnkl"), (A, "mn")], "ijkl")
    # the pairs move as units: swapping a pair's two axes is a transpose, a different tensor
    assert b.contract([(d2, "jikl")], "ijkl") is not d2
