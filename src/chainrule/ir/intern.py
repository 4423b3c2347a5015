"""Making nodes: `make` returns the unique node with given fields (interning), checking a new one first.

The shape check runs once per distinct node, after the interning lookup misses, so building a node that exists
already costs a dictionary lookup and nothing more.
"""
from __future__ import annotations

import hashlib
import weakref

from ..errors import InternalError
from .node import Node, Shape
from .ops import PARAMS, Op
from .shapes import check

_interned: weakref.WeakValueDictionary = weakref.WeakValueDictionary()


class _Tally:
    """The calls of make so far (new and shared nodes): the work Limits.nodes bounds."""
    __slots__ = ("calls",)

    def __init__(self) -> None:
        self.calls = 0


_made = _Tally()


def nodes_made() -> int:
    """How many nodes have been built in this process (counting a shared one each time it is built again)."""
    return _made.calls


def make(op: Op | str, args: tuple[Node, ...], params: tuple, shape: Shape) -> Node:
    """The unique node with these fields (interned); a new one is first checked against its primitive's shape rule."""
    _made.calls += 1
    op = op if type(op) is Op else _primitive(op)
    params = _named(op, params)
    key = (op, params, shape, tuple(id(a) for a in args))
    node = _interned.get(key)
    if node is not None:
        return node
    node = object.__new__(Node)
    fields = {"op": op, "args": args, "params": params, "shape": shape}
    for name, value in fields.items():
        object.__setattr__(node, name, value)
    check(node)
    # A digest independent of the process's hash seed gives a deterministic canonical order of operands. It reads
    # the op's value and the parameters as a plain tuple, so it is the digest of the same node before Op existed.
    h = hashlib.blake2b(repr((op._value_, tuple(params), shape)).encode(), digest_size=8)
    for a in args:
        h.update(a.digest)
    object.__setattr__(node, "digest", h.digest())
    _interned[key] = node
    return node


def _primitive(op: object) -> Op:
    try:
        return Op(op)
    except ValueError:
        raise InternalError(f"there is no primitive {op!r} (ir/ops.py lists them); a bug of chainrule") from None


def _named(op: Op, params: tuple) -> tuple:
    """params as the primitive's NamedTuple (a plain tuple in the same order is accepted)."""
    kind = PARAMS[op]
    if kind is None or type(params) is kind:
        return params
    try:
        return kind(*params)
    except TypeError:
        raise InternalError(f"the parameters of {op} are {kind.__name__}{kind._fields}, not {params!r}; "
                            "a bug of chainrule") from None
