"""The finite-difference check must fail on wrong derivatives (issue 7, A9): mutation testing of the rule tables.

Each derivative rule is perturbed in turn (its value doubled, its matrix result transposed, as a dropped transpose
would; an element-wise derivative doubled or shifted by 1), and `cr.check` at random values (no `at`) must report a
mismatch on expressions that use the rule. A check that passes a mutant would pass the same mistake in a real rule.
Coverage is checked against the tables: a new rule without a case here fails `test_every_rule_has_a_mutation_case`.
"""
from __future__ import annotations

import dataclasses

import pytest

import chainrule as cr
from chainrule.calculus import rules
from chainrule.ir.elementwise import ELEMENTWISE
from chainrule.simplify import build as b

SEEDS = (0, 1, 2)
SQUARE = dict.fromkeys("ABC", ("n", "n"))

# rule -> expressions that exercise it: (text, wrt, declarations, order). The matrix cases use square, general
# (non-symmetric) matrices, so that a transposed rule gives other numbers; C weights the entries differently, so
# that a mistake in one entry cannot cancel. The constant in max(x, -2) lies below the drawn values: where every entry
# lost to the constant the rule would contribute 0, and no check can see a doubled 0.
VJP_CASES: dict[str, list[tuple[str, str, dict, int]]] = {
    "map": [("sum(exp(A*x))", "x", {}, 1), ("tr(C*sin(A))", "A", SQUARE, 1)],
    "add": [("tr(C*(A+B))", "A", SQUARE, 1), ("sum(exp(x+a))", "a", {}, 1)],
    "pow": [("tr(C*A.^3)", "A", SQUARE, 1), ("sum(x.^y)", "y", {}, 1), ("sum(2 .^x)", "x", {}, 1)],
    "max": [("tr(C*max(A, B))", "A", SQUARE, 1), ("tr(C*max(A, B))", "B", SQUARE, 1), ("sum(max(x, -2))", "x", {}, 1)],
    "min": [("tr(C*min(A, B))", "A", SQUARE, 1), ("tr(C*min(A, B))", "B", SQUARE, 1), ("sum(min(x, 2))", "x", {}, 1)],
    "contract": [("x'*A*y", "x", {}, 1), ("tr(C*A)", "A", SQUARE, 1), ("x'*A*y", "A", SQUARE, 1)],
    "logsumexp": [("logsumexp(A*x)", "x", {}, 1), ("logsumexp(A*x)", "A", {}, 1), ("logsumexp(A)", "A", SQUARE, 1),
                  ("x'*logsumexp(A, 2)", "A", SQUARE, 1), ("logsumexp(A, 1)*x", "A", SQUARE, 1)],
    # the check's matrices are diagonally dominant: off the diagonal, the largest entry of a row is not on it
    "amax": [("max(A*x)", "x", {}, 1), ("x'*max(A - 100*eye(\"n\"), [], 2)", "A", SQUARE, 1),
             ("min(A + 100*eye(\"n\"), [], 1)*x", "A", SQUARE, 1)],
    "inv": [("tr(C*inv(A))", "A", SQUARE, 1), ("x'*inv(A)*y", "A", SQUARE, 1)],
    "det": [("det(A)", "A", SQUARE, 1)],
    "cofactor": [("det(A)", "A", SQUARE, 2)],
    "logdet": [("logdet(A)", "A", SQUARE, 1)],
    "norm2": [("norm2(A*x)", "x", {}, 1), ("norm2(A)", "A", SQUARE, 1)],
    "unit": [("norm2(x)", "x", {}, 2), ("norm2(A)", "A", SQUARE, 2)],
    "stack": [("sum(exp([x; y]).*[y; x])", "x", {"x": (3,), "y": (3,)}, 1),
              ("tr(C*[A, B])", "A", {"A": (3, 3), "B": (3, 1), "C": (4, 3)}, 1)],
    "index": [("sum(exp(x(2:3)).*y(1:2))", "x", {"x": (3,), "y": (3,)}, 1),
              ("x'*A(:, 2)*A(1, 3)", "A", {"A": (3, 3), "x": (3,)}, 1)],
}

# Rules that are identically 0 (piecewise-constant primitives): a doubled or transposed 0 is the same rule, so each is
# mutated by adding 1 to every entry instead, on the case given here.
ZERO_RULES: dict[str, tuple[str, str, dict, int]] = {
    "ismax": ("sum(sum(ismax(A, 2).*B.*A))", "A", SQUARE, 1),
}

# Mutants that cannot be told apart from the rule (so no check could catch them), with the reason.
NOT_APPLICABLE = {
    ("sign", "double"): "its derivative is identically 0",
    ("step", "double"): "its derivative is identically 0",
}


def _last_two_swapped(node):
    perm = tuple(range(node.rank - 2)) + (node.rank - 1, node.rank - 2)
    return b.transpose(node, perm)


def _square_operand(node, k) -> bool:
    shape = node.args[k].shape
    return len(shape) == 2 and shape[0] == shape[1]


def vjp_mutant(rule, how: str, used: list):
    """The rule with its result doubled, or transposed where its operand is a square matrix; `used` counts changes."""
    def mutant(g, node, k, n_f):
        right = rule(g, node, k, n_f)
        if how == "double":
            used.append(node.op)
            return b.scale(2.0, right)
        if _square_operand(node, k):
            used.append(node.op)
            return _last_two_swapped(right)
        return right
    return mutant


def elementwise_mutant(row, how: str):
    def derivative(bb, x, y):
        right = row.derivative(bb, x, y)
        return bb.scale(2.0, right) if how == "double" else bb.add(right, bb.const(1.0))
    return dataclasses.replace(row, derivative=derivative)


def caught(text: str, wrt: str, decls: dict, order: int) -> list[str]:
    """The seeds at which the check at random values did NOT report a mismatch (empty: the mutant is caught)."""
    f = cr.parse(text, **decls)
    missed = []
    for seed in SEEDS:
        result = cr.check(f, wrt, order=order, seed=seed)
        if result.ok:
            missed.append(f"seed {seed}: {result}")
    return missed


# ---- coverage: every rule of both tables has a mutation case ----

def test_every_rule_has_a_mutation_case():
    missing = sorted(set(rules.VJP) - set(VJP_CASES) - set(ZERO_RULES))
    assert not missing, f"add mutation cases to VJP_CASES for the VJP rules {missing}"
    stale = sorted((set(VJP_CASES) | set(ZERO_RULES)) - set(rules.VJP))
    assert not stale, f"VJP_CASES names rules that no longer exist: {stale}"


def test_every_elementwise_row_is_a_parseable_function():
    # the element-wise cases are generated from the table itself, as sum(fn(x)); each must parse
    for name in ELEMENTWISE:
        cr.parse(f"sum({name}(x))")


def test_not_applicable_mutants_are_truly_equivalent():
    # an exemption must be earned: the "mutant" derivative is the very same node as the rule's
    x = b.var("x", ("n",))
    for (name, how) in NOT_APPLICABLE:
        row = ELEMENTWISE[name]
        y = b.apply(name, x)
        assert elementwise_mutant(row, how).derivative(b, x, y) is row.derivative(b, x, y)


# ---- the mutants ----

# a transposed rule only where the case has square matrices (the other cases have no square operand to transpose)
VJP_MUTANTS = [(op, how, case) for op, cases in VJP_CASES.items() for case in cases
               for how in (("double", "transpose") if case[2] == SQUARE else ("double",))]


@pytest.mark.parametrize("op, how, case", VJP_MUTANTS, ids=[f"{op}-{how}-{c[0]}-by-{c[1]}-order{c[3]}"
                                                               for op, how, c in VJP_MUTANTS])
def test_a_wrong_vjp_rule_is_caught(op, how, case, monkeypatch):
    used: list = []
    monkeypatch.setitem(rules.VJP, op, vjp_mutant(rules.VJP[op], how, used))
    missed = caught(*case)
    assert used, f"the case does not give the rule {op!r} anything to {how}"
    assert not missed, f"the {how}d {op!r} rule passed the check: {missed}"


def test_every_vjp_rule_is_transposed_in_some_case(monkeypatch):
    # a dropped transpose is a mistake any rule can make: each rule must meet a square-matrix operand in a case
    for op, cases in VJP_CASES.items():
        used: list = []
        with monkeypatch.context() as patch:
            patch.setitem(rules.VJP, op, vjp_mutant(rules.VJP[op], "transpose", used))
            for text, wrt, decls, order in cases:
                cr.derivative(cr.parse(text, **decls), wrt, order)
        assert used, f"no case of VJP_CASES[{op!r}] gives the rule a square-matrix operand"


@pytest.mark.parametrize("op", sorted(ZERO_RULES))
def test_a_zero_rule_is_zero_and_a_nonzero_one_is_caught(op, monkeypatch):
    text, wrt, decls, order = ZERO_RULES[op]
    used: list = []
    rule = rules.VJP[op]

    def shifted(g, node, k, n_f):
        zero = rule(g, node, k, n_f)
        assert zero.op == "const" and zero.params.value == 0.0, "the exemption is earned: the rule gives 0"
        used.append(node.op)
        return b.const(1.0, zero.shape)
    assert len(caught(text, wrt, decls, order)) == len(SEEDS), "the check passes the rule itself at every seed"
    monkeypatch.setitem(rules.VJP, op, shifted)
    missed = caught(text, wrt, decls, order)
    assert used and not missed, f"a nonzero {op!r} rule passed the check: {missed}"


ELEMENTWISE_MUTANTS = [(name, how) for name in ELEMENTWISE for how in ("double", "shift")
                       if (name, how) not in NOT_APPLICABLE]


@pytest.mark.parametrize("name, how", ELEMENTWISE_MUTANTS, ids=[f"{n}-{h}" for n, h in ELEMENTWISE_MUTANTS])
def test_a_wrong_elementwise_derivative_is_caught(name, how, monkeypatch):
    monkeypatch.setitem(ELEMENTWISE, name, elementwise_mutant(ELEMENTWISE[name], how))
    missed = caught(f"sum({name}(x))", "x", {}, 1)
    assert not missed, f"the {how}d derivative of {name} passed the check: {missed}"


def test_the_unmutated_rules_pass_every_case():
    # the cases themselves are right: without a mutation every check passes (so a caught mutant is the mutation's)
    for cases in VJP_CASES.values():
        for case in cases:
            assert not [s for s in SEEDS if not cr.check(cr.parse(case[0], **case[2]), case[1], order=case[3],
                                                          seed=s).ok], case
    for name in ELEMENTWISE:
        for seed in SEEDS:
            assert cr.check(f"sum({name}(x))", "x", seed=seed).ok, name
