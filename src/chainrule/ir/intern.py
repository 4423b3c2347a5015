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
    """An interning table: key -> a weak reference to the live node with those fields. An entry goes when its node
    is freed (the reference's callback); a plain dict of KeyedRefs, read and written without WeakValueDictionary's
    Python-level get and set, since interning is the innermost call of every constructor (of IR nodes here, of
    notation trees in notation/mast.py)."""
    __slots__ = ("refs",)

    def __init__(self) -> None:
        self.refs: dict[tuple, weakref.KeyedRef] = {}

    def get(self, key: tuple) -> Any:
        """The live node with these fields, or None."""
        ref = self.refs.get(key)
        return None if ref is None else ref()

    def put(self, key: tuple, node: Any) -> Any:
        """node, now the one with these fields."""
        self.refs[key] = weakref.KeyedRef(node, self.forget, key)
        return node

    def forget(self, ref: weakref.KeyedRef) -> None:
        # a node was freed: drop its entry, unless a new node with the same fields has taken the key since
        if self.refs.get(ref.key) is ref:
            del self.refs[ref.key]


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
