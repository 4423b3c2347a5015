"""Immutable, hash-consed nodes of the tensor-expression DAG.

A node is an operation name, its operand nodes, hashable parameters and its shape. Nodes are interned: building the
same node twice returns the same object, so identity is structural equality and shared subexpressions are shared.
"""
from __future__ import annotations

import hashlib
import weakref
from typing import Any, NamedTuple, Union

Dim = Union[int, str]
Shape = tuple[Dim, ...]



class VarInfo(NamedTuple):
    """What an expression knows of one of its variables."""
    shape: Shape
    symmetric: bool = False


_interned: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
_made = 0     # calls of make so far (new and shared nodes): the work Limits.nodes bounds


def nodes_made() -> int:
    """How many nodes have been built in this process (counting a shared one each time it is built again)."""
    return _made


class Node:
    __slots__ = ("__weakref__", "args", "digest", "op", "params", "shape")

    op: str
    args: tuple[Node, ...]
    params: tuple
    shape: Shape
    digest: bytes

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("nodes are immutable")

    @property
    def rank(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        return f"Node({self.op}, {self.params}, shape={self.shape}, nargs={len(self.args)})"

    def __lt__(self, other: Node) -> bool:
        return self.digest < other.digest


def make(op: str, args: tuple[Node, ...], params: tuple, shape: Shape) -> Node:
    """The unique node with these fields (interned)."""
    global _made
    _made += 1
    key = (op, params, shape, tuple(id(a) for a in args))
    node = _interned.get(key)
    if node is not None:
        return node
    node = object.__new__(Node)
    fields = {"op": op, "args": args, "params": params, "shape": shape}
    for name, value in fields.items():
        object.__setattr__(node, name, value)
    # A digest independent of the process's hash seed gives a deterministic canonical order of operands.
    h = hashlib.blake2b(repr((op, params, shape)).encode(), digest_size=8)
    for a in args:
        h.update(a.digest)
    object.__setattr__(node, "digest", h.digest())
    _interned[key] = node
    return node
