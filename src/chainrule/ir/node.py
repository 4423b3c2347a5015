"""Immutable, hash-consed nodes of the tensor-expression DAG.

A node is a primitive (an `Op`), its operand nodes, its parameters (the primitive's NamedTuple in ir/ops.py PARAMS,
or () when it has none) and its shape. Nodes are made only by ir/intern.py's `make`, which interns them (building the
same node twice returns the same object, so identity is structural equality and shared subexpressions are shared)
and checks each new one against its primitive's shape rule (ir/shapes.py).
"""
from __future__ import annotations

from typing import Any, NamedTuple

from .ops import Op

Dim = int | str
Shape = tuple[Dim, ...]


class VarInfo(NamedTuple):
    """What an expression knows of one of its variables."""
    shape: Shape
    symmetric: bool = False


class Node:
    __slots__ = ("__weakref__", "args", "digest", "op", "params", "shape")

    op: Op
    args: tuple[Node, ...]
    params: Any           # the primitive's parameters: a NamedTuple of ir/ops.py PARAMS, or ()
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
