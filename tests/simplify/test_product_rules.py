"""The product normal form is a list of rules run to a fixpoint (simplify/contract.py RULES), and the fixpoint loop
keeps the promises it relies on: a rule that does not apply returns its input, an idempotent rule has nothing left to
do on its own result, and a product that never settles is a loud bug, not a silent stop."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule.errors import InternalError
from chainrule.ir import Op
from chainrule.simplify import build as b
from chainrule.simplify import contract

x, y = b.var("x", ("n",)), b.var("y", ("n",))
A, B = b.var("A", ("n", "n")), b.var("B", ("n", "n"))
s = b.var("s", ())
D = b.delta("n")

# products before their normal form: (operands, output labels)
PRODUCTS = [
    ([(A, "ij"), (B, "jk")], "ik"),                                          # nothing to do
    ([(b.contract([(A, "ij"), (x, "j")], "i"), "i"), (y, "i")], ""),         # y'*(A*x): inline
    ([(b.const(2.0), ""), (A, "ij"), (b.const(3.0), "")], "ij"),             # constants fold
    ([(A, "ij"), (D, "jk"), (D, "kl"), (x, "l")], "i"),                      # two deltas, one at a time
    ([(s, ""), (s, ""), (b.power(s, b.const(2.0)), "")], ""),                # powers merge
    ([(b.apply("exp", x), "i"), (b.apply("sigmoid", b.neg(x)), "i")], "i"),  # sigmoid of exp
    ([(b.zeros(("n",)), "i"), (x, "i")], "i"),                               # zero
]


def _product(operands, out):
    ops = [(n, tuple(ix)) for n, ix in operands]
    sizes = contract._sizes(ops, None)
    return ops, contract.Product(tuple(out), sizes, contract._fresh(ops, tuple(out)), b.CONSTRUCTORS)


def test_every_rule_is_listed_once_with_its_idempotence():
    rules = [rule for rule, _ in contract.RULES]
    assert len(set(rules)) == len(rules) and all(isinstance(flag, bool) for _, flag in contract.RULES)
    assert all(rule.__name__.startswith("_") for rule in rules)


@pytest.mark.parametrize("rule, idempotent", contract.RULES, ids=lambda r: getattr(r, "__name__", str(r)))
@pytest.mark.parametrize("operands, out", PRODUCTS)
def test_a_rule_returns_its_input_when_done_and_an_idempotent_rule_is_done_after_one_run(rule, idempotent, operands,
                                                                                          out):
    ops, product = _product(operands, out)
    once = rule(ops, product)
    if idempotent:
        assert rule(once, product) is once
    settled = contract._settle(ops, product)
    assert rule(settled, product) is settled      # at the fixpoint no rule applies


def test_a_product_where_only_inlining_applies_settles_in_one_round(monkeypatch):
    calls = []
    counted = tuple((_counting(rule, calls), idempotent) for rule, idempotent in contract.RULES)
    monkeypatch.setattr(contract, "RULES", counted)
    b.contract([(b.contract([(A, "ij"), (B, "jk")], "ik"), "ik"), (x, "k")], "i")
    assert len(calls) == 2 * len(counted)         # the inner product's round, then the outer one's


def _counting(rule, calls):
    def counted(ops, product):
        calls.append(rule.__name__)
        return rule(ops, product)
    return counted


def test_a_product_that_never_settles_is_an_internal_error(monkeypatch):
    def flip(ops, product):      # a rule that always finds something to rewrite: two rules undoing each other
        return list(reversed(ops))
    monkeypatch.setattr(contract, "RULES", ((flip, False),) + contract.RULES)
    with pytest.raises(InternalError, match=f"did not settle in {contract.MAX_ROUNDS} rounds"):
        b.contract([(A, "ij"), (x, "j")], "i")


def test_the_rules_build_with_the_constructors_they_are_given():
    # exp(x) .* sigmoid(-x) = sigmoid(x), built by build.apply: the same interned node the language makes
    assert b.mul(b.apply("exp", x), b.apply("sigmoid", b.neg(x))) is b.apply("sigmoid", x)
    assert cr.parse("exp(x).*sigmoid(-x)", x="vector").node is cr.parse("sigmoid(x)", x="vector").node


@st.composite
def relabelled_products(draw):
    """(a product, the same product with its operands in another order and its indices named otherwise): two to five
    operands from two matrices and two vectors, repeated often, over five indices, some kept in the output."""
    pool = [(A, 2), (B, 2), (x, 1), (y, 1)]
    count = draw(st.integers(2, 5))
    operands = [draw(st.sampled_from(pool[:2] if k % 2 else pool)) for k in range(count)]
    labels = "abcde"
    ops = [(node, "".join(draw(st.sampled_from(labels)) for _ in range(rank))) for node, rank in operands]
    used = sorted({label for _, ix in ops for label in ix})
    out = "".join(draw(st.permutations(used))[:draw(st.integers(0, min(2, len(used))))])
    renamed = dict(zip(used, draw(st.permutations("pqrstuvw"))[:len(used)], strict=True))
    order = draw(st.permutations(range(count)))
    other = [(ops[k][0], "".join(renamed[label] for label in ops[k][1])) for k in order]
    return (ops, out), (other, "".join(renamed[label] for label in out))


@settings(max_examples=300, deadline=None)
@given(relabelled_products())
def test_a_product_builds_one_node_whatever_its_operands_order_and_its_indices_names(pair):
    # equal factors whose indices are all summed once kept the order they came in: the gradient of norm2(V'*V*x)^2
    # was a sum of two nodes of one product, V'*V*V'*V*x with its summed indices named two ways, never 2 times one
    (ops, out), (other, other_out) = pair
    assert b.contract(ops, out) is b.contract(other, other_out)


def test_the_gradient_of_a_squared_norm_of_a_chain_is_one_product():
    g = cr.derivative(cr.parse("norm2(V'*V*x)^2"), "x")
    assert g.node.op is Op.CONTRACT                             # 2*V'*V*V'*V*x, not the sum of two copies
