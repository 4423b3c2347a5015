"""Shared partial products (plan/share.py): the rewritten roots keep their values, every rewritten node has the value
of the node `origin` says it stands for, and a partial product is read only where that saves work."""
from __future__ import annotations

import numpy as np
import pytest
from codegen.corpus import CORPUS, SECOND_ORDER

import chainrule as cr
from chainrule.ir import Node, Op, topological
from chainrule.plan.share import NOTE, SUM_NOTE, share
from chainrule.simplify import build as b


def _values(f: cr.Expr, rng) -> tuple[dict, dict]:
    dims = sorted({d for info in f.variables.values() for d in info.shape if isinstance(d, str)})
    sizes = {d: int(rng.integers(2, 6)) for d in dims}
    values = {}
    for name, info in f.variables.items():
        shape = [sizes.get(d, d) for d in info.shape]
        v = rng.uniform(0.5, 1.5, shape)
        if len(shape) == 2 and shape[0] == shape[1]:
            v = v + 3 * np.eye(shape[0])
        values[name] = (v + v.T) / 2 if info.symmetric else v
    return values, dict.fromkeys(dims, 50)


def _value(node: Node, f: cr.Expr, values: dict) -> np.ndarray:
    return np.asarray(cr.Expr(node, None, f.variables).evaluate(values))


@pytest.mark.parametrize("split", [False, True])
@pytest.mark.parametrize("row", CORPUS + SECOND_ORDER, ids=lambda row: f"{row[0]} by {','.join(row[1])}")
def test_shared_and_split_products_keep_every_value(row, split):
    text, wrt, decls = row
    f = cr.parse(text, **decls)
    values, plan_sizes = _values(f, np.random.default_rng(3))
    roots = [f.node, *(cr.derivative(f, w).node for w in wrt)]
    new, origin, _ = share(roots, [], plan_sizes, split)
    for old, rewritten in zip(roots, new, strict=True):
        np.testing.assert_allclose(_value(rewritten, f, values), _value(old, f, values), rtol=1e-9, atol=1e-9)
    for node in topological(new):
        if id(node) in origin:       # what a generated statement's comment and a torch backward rely on
            np.testing.assert_allclose(_value(node, f, values), _value(origin[id(node)], f, values), rtol=1e-9,
                                       atol=1e-9)
        if split and node.op is Op.CONTRACT and id(node) in origin:
            assert sum(1 for s in node.params.specs if s) <= 2


def test_the_value_reads_the_product_its_gradient_computes():
    f = cr.parse("x'*A*x")
    g = cr.derivative(f, "x")
    (value, grad), origin, applied = share([f.node, g.node], [], {"n": 100})
    assert grad is g.node and origin[id(value)] is f.node and applied == {NOTE}
    shared = [a for a in value.args if a.op is Op.CONTRACT]
    assert len(shared) == 1 and shared[0] in topological([g.node])     # A*x, computed once for both


def test_a_known_partial_product_is_read_and_a_known_node_is_left_alone():
    x, A = b.var("x", ("n",)), b.var("A", ("n", "n"))
    g = b.var("g", ())
    ax = b.contract([(A, (0, 1)), (x, (1,))], (0,))                     # A*x, saved by a forward pass
    term = b.contract([(g, ()), (A, (0, 1)), (x, (1,))], (0,))          # g*A*x in its backward
    (new,), _, _ = share([term], [ax], {"n": 100})
    assert ax in new.args and A not in new.args
    (same,), origin, applied = share([term], [term, ax], {"n": 100})
    assert same is term and not origin and not applied


def test_a_partial_product_that_costs_more_is_not_read():
    x, y, z = (b.var(name, ("n",)) for name in "xyz")
    outer = b.contract([(x, (0,)), (y, (1,))], (0, 1))                  # x*y': n^2 entries
    chain = b.contract([(x, (0,)), (y, (1,)), (z, (1,))], (0,))         # x*(y'*z): 2n multiply-adds
    (new,), _, applied = share([chain], [outer], {"n": 100})
    assert new is chain and not applied


def test_split_writes_a_chain_as_products_of_two_in_the_planned_order():
    f = cr.parse("sum(A*B*C*x)")
    (new,), _, _ = share([f.node], [], {"n": 100}, split=True)
    products = [n for n in topological([new]) if n.op is Op.CONTRACT]
    assert all(sum(1 for s in n.params.specs if s) <= 2 for n in products)
    first = next(n for n in products if {a.params.name for a in n.args if a.op is Op.VAR} == {"C", "x"})
    assert len(first.shape) == 1                                          # C*x first: never a matrix product


def test_a_sum_reads_a_sum_of_some_of_its_terms():
    a, c, d, e = (b.var(name, ("n",)) for name in "acde")
    small, large = b.add(a, c), b.add(a, c, d, e)
    (new_small, new_large), origin, applied = share([small, large], [], {"n": 100})
    assert new_small is small and origin[id(new_large)] is large and applied == {SUM_NOTE}
    assert small in new_large.args and len(new_large.args) == 3              # (a + c) + d + e
    (alone,), _, applied = share([large], [], {"n": 100})
    assert alone is large and not applied                                    # nothing to read: unchanged


def test_a_partial_product_that_two_products_plan_is_computed_once_for_both():
    # X'*((G*W').*D) (n×h) and sum((G*W').*D, 1) (h): both plan (G*W').*D, the m×h signal; the second reads it and
    # sums its rows, the first reads it too, and it becomes a node of its own
    X, G, W, D = (b.var(name, shape) for name, shape in
                  [("X", ("m", "n")), ("G", ("m", "k")), ("W", ("h", "k")), ("D", ("m", "h"))])
    weights = b.contract([(X, (0, 1)), (G, (0, 3)), (W, (2, 3)), (D, (0, 2))], (1, 2))
    bias = b.contract([(G, (0, 3)), (W, (2, 3)), (D, (0, 2))], (2,))
    sizes = {"m": 1000, "n": 1000, "h": 1000, "k": 10}
    (new_weights, new_bias), origin, applied = share([weights, bias], [], sizes)
    [signal] = new_bias.args                                    # the signal, in either orientation
    assert signal in new_weights.args and applied == {NOTE}
    assert signal in (b.contract([(G, (0, 3)), (W, (2, 3)), (D, (0, 2))], labels) for labels in [(0, 2), (2, 0)])
    assert origin[id(new_bias)] is bias and origin[id(new_weights)] is weights
    (alone,), _, applied = share([bias], [], sizes)             # nothing else plans it: left as it was
    assert alone is bias and not applied


def test_a_sum_of_a_hadamard_product_reads_the_product_computed_anyway_at_equal_multiply_adds():
    # the gradients of sum(sum(V.*tanh(X*W + b'))): X'*(V.*D) by W and sum(V.*D, 1) by b (D = 1 - tanh(...).^2). The
    # bias's column sums of V.*D cost the multiply-adds of the einsum of V and D, but read one array, not two
    X, V, D = (b.var(name, shape) for name, shape in [("X", ("m", "n")), ("V", ("m", "k")), ("D", ("m", "k"))])
    weights = b.contract([(X, (0, 1)), (V, (0, 2)), (D, (0, 2))], (1, 2))
    bias = b.contract([(V, (0, 2)), (D, (0, 2))], (2,))
    (new_weights, new_bias), _, applied = share([weights, bias], [], {"m": 1000, "n": 1000, "k": 1000})
    [signal] = new_bias.args
    assert signal in new_weights.args and applied == {NOTE}
    assert signal in (b.contract([(V, (0, 2)), (D, (0, 2))], labels) for labels in [(0, 2), (2, 0)])


def test_a_product_and_its_transpose_never_read_each_other():
    A, B = b.var("A", ("n", "n")), b.var("B", ("n", "n"))
    ab = b.contract([(A, (0, 1)), (B, (1, 2))], (0, 2))
    ba = b.contract([(A, (0, 1)), (B, (1, 2))], (2, 0))          # (A*B)'
    new, _, _ = share([ab, ba], [], {"n": 100})                   # no cycle (share would raise InternalError)
    assert not (ab in topological([new[1]]) and ba in topological([new[0]]))
