import gc

from chainrule.ir.intern import InternTable
from chainrule.ir.node import Node
from chainrule.simplify import build as b


class _Thing:
    __slots__ = ("__weakref__",)


def test_a_freed_node_is_a_miss_and_its_key_is_taken_again():
    table = InternTable()
    thing = _Thing()
    assert table.put(("k",), thing) is thing and table.get(("k",)) is thing
    del thing
    gc.collect()
    assert table.get(("k",)) is None
    other = _Thing()
    table.put(("k",), other)
    assert table.get(("k",)) is other


def test_the_table_stays_within_twice_the_live_entries():
    table = InternTable()
    kept = []
    for round_ in range(20):
        for k in range(3000):
            thing = _Thing()
            table.put((round_, k), thing)
            if k % 10 == 0:
                kept.append(thing)      # one in ten lives on; the others are freed at once
        assert len(table.refs) <= max(table.SWEEP_FROM, 2 * len(kept)) + 1
    assert all(table.get((r, k)) is not None for r in range(20) for k in range(0, 3000, 10))


def test_building_a_freed_node_again_gives_one_node_with_its_fields():
    x = b.var("x", ("n",))
    first = b.apply("sin", b.apply("exp", x))
    digest = first.digest
    del first
    gc.collect()
    again = b.apply("sin", b.apply("exp", x))
    assert isinstance(again, Node) and again.digest == digest
    assert again is b.apply("sin", b.apply("exp", b.var("x", ("n",))))
