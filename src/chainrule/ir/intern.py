"""Making nodes: `make` returns the unique node with given fields (interning), checking a new one first.

The shape check runs once per distinct node, after the interning lookup misses, so building a node that exists
already costs a dictionary lookup and nothing more.
"""
from __future__ import annotations

import hashlib
import weakref
from typing import Any

from ..errors import InternalError
from .node import Node, Shape
from .ops import PARAMS, Op
from .shapes import check


class InternTable:
    """An interning table: key -> a weak reference to the live node with those fields (IR nodes here, notation trees
    in notation/mast.py). A plain dict read and written directly, since interning is the innermost call of every
    constructor.

    A freed node's entry is not removed when it goes (a callback per freed node made freeing a large graph twice as
    slow): the table is swept of dead entries when it has doubled since the last sweep, so it stays within twice
    the live nodes (and a first SWEEP_FROM entries), at a constant cost per entry. A dead entry is harmless until
    then: a look-up that finds one is a miss, and a new node takes its key. (A key holds its operands' ids, which a
    freed operand gives up; but an entry whose node lives has live operands, so its key names them and no other.)"""
    __slots__ = ("refs", "sweep_at")

    SWEEP_FROM = 4096

    def __init__(self) -> None:
        self.refs: dict[tuple, weakref.ref] = {}
        self.sweep_at = self.SWEEP_FROM

    def get(self, key: tuple) -> Any:
        """The live node with these fields, or None."""
        ref = self.refs.get(key)
        return None if ref is None else ref()

    def put(self, key: tuple, node: Any) -> Any:
        """node, now the one with these fields."""
        refs = self.refs
        refs[key] = weakref.ref(node)
        if len(refs) > self.sweep_at:
            self.sweep()
        return node

    def sweep(self) -> None:
        """Drop the entries of freed nodes."""
        refs = self.refs
        for key in [key for key, ref in refs.items() if ref() is None]:
            del refs[key]
        self.sweep_at = max(self.SWEEP_FROM, 2 * len(refs))


_table = InternTable()


class _Tally:
    """The nodes made so far (new and shared), with their operands: the work Limits.nodes bounds."""
    __slots__ = ("calls",)

    def __init__(self) -> None:
        self.calls = 0


_made = _Tally()


def nodes_made() -> int:
    """How many nodes have been built in this process, each counted once and once more per operand (a shared one each
    time it is built again). Work follows operands, not nodes: a product of 12 operands costs about 12 times a leaf to
    build, to differentiate and to print, and a sum of 50,000 terms is one node."""
    return _made.calls


def make(op: Op | str, args: tuple[Node, ...], params: tuple, shape: Shape) -> Node:
    """The unique node with these fields (interned); a new one is first checked against its primitive's shape rule."""
    _made.calls += 1 + len(args)
    if type(op) is not Op:
        op = _primitive(op)
    kind = PARAMS[op]
    if kind is not None and type(params) is not kind:
        params = _named(op, kind, params)
    key = (op, params, shape, tuple(map(id, args)))
    node = _table.get(key)
    return node if node is not None else _table.put(key, _new_node(op, args, params, shape))


def _new_node(op: Op, args: tuple[Node, ...], params: tuple, shape: Shape) -> Node:
    node = object.__new__(Node)
    set_field = object.__setattr__
    set_field(node, "op", op)
    set_field(node, "args", args)
    set_field(node, "params", params)
    set_field(node, "shape", shape)
    check(node)
    set_field(node, "digest", _digest(op, params, shape, args))
    return node


def _digest(op: Op, params: tuple, shape: Shape, args: tuple[Node, ...]) -> bytes:
    # A digest independent of the process's hash seed gives a deterministic canonical order of operands. It reads
    # the op's value and the parameters as a plain tuple, so it is the digest of the same node before Op existed.
    # (Printed term order follows it: it must not change.)
    h = hashlib.blake2b(repr((op._value_, tuple(params), shape)).encode(), digest_size=8)
    for a in args:
        h.update(a.digest)
    return h.digest()


def _primitive(op: object) -> Op:
    try:
        return Op(op)
    except ValueError:
        raise InternalError(f"there is no primitive {op!r} (ir/ops.py lists them); a bug of chainrule") from None


def _named(op: Op, kind: type[Any], params: tuple) -> tuple:
    """params as the primitive's NamedTuple `kind` (a plain tuple in the same order is accepted)."""
    try:
        return kind(*params)
    except TypeError:
        raise InternalError(f"the parameters of {op} are {kind.__name__}{kind._fields}, not {params!r}; "
                            "a bug of chainrule") from None
