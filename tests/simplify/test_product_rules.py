"""The product normal form is a list of rules run to a fixpoint (simplify/contract.py RULES), and the fixpoint loop
keeps the promises it relies on: a rule that does not apply returns its input, an idempotent rule has nothing left to
do on its own result, and a product that never settles is a loud bug, not a silent stop."""
import pytest

import chainrule as cr
from chainrule.errors import InternalError
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
