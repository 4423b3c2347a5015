import pytest

from chainrule.ir import depends_on, fold, topological, variables
from chainrule.simplify import build as b


def test_nodes_are_interned_and_immutable():
    x = b.var("x", ("n",))
    assert b.apply("exp", x) is b.apply("exp", b.var("x", ("n",)))
    with pytest.raises(AttributeError):
        x.op = "const"


def test_topological_order_puts_operands_first_and_survives_deep_graphs():
    x = b.var("x", ())
    node = x
    for _ in range(20_000):
        node = b.apply("sin", node)
    order = topological([node])
    assert order[0] is x and order[-1] is node and len(order) == 20_001
    assert fold(node, lambda n, kids: 1 + max(kids, default=0)) == 20_001


def test_variables_and_dependencies():
    x, y = b.var("x", ()), b.var("y", ())
    f = b.add(b.apply("exp", x), y)
    assert set(variables(f)) == {"x", "y"}
    assert id(f) in depends_on(f, x) and id(y) not in depends_on(f, x)
