"""A contract node's code: the product planned by plan/contract.py, written as source text by a target's Writer.

>>> import chainrule as cr
>>> from chainrule.codegen.targets import TARGETS, Writer
>>> f = cr.parse("A*B*x")
>>> contract_code(f.node, lambda n: atom(n.params.name), Writer(TARGETS["numpy"]), {"n": 100}).text
'A @ (B @ x)'
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from ..ir import Node
from ..plan.contract import ALL, plan_product
from .code import Code, atom, scaled, times
from .targets import Writer

Ref = Callable[[Node], Code]   # the code of an operand's value; calling it records that the operand is read


def contract_code(node: Node, ref: Ref, w: Writer, plan_sizes: Mapping[str, int]) -> Code:
    """The code of a contract node's value, planned at plan_sizes."""
    return plan_product(node, ref, _CodeEmitter(w), plan_sizes).value


def _item(item: int | slice | None) -> str:
    return ":" if item is ALL else "None" if item is None else str(item)


class _CodeEmitter:
    """The planner's operations as source text of one target (plan.contract.Emitter)."""
    solves = True

    def __init__(self, w: Writer):
        self.w = w
        self.derivatives = frozenset(w.target.derivatives)

    def note(self, rewrite: str) -> None:
        self.w.note(rewrite)

    def number(self, value: float) -> Code:
        return atom(repr(value))

    def size(self, dim: object) -> Code:
        return atom(self.w.dim(dim))

    def times(self, a: Code, b: Code) -> Code:
        return times(a, b)

    def scaled(self, coefficient: float, x: Code) -> Code:
        return scaled(coefficient, x)

    def zeros(self, dims: Sequence[object]) -> Code:
        return self.w.zeros(dims)

    def full(self, dims: Sequence[object], value: float) -> Code:
        return self.w.full(dims, value)

    def broadcast(self, x: Code, dims: Sequence[object]) -> Code:
        return self.w.broadcast(x, dims)

    def embed(self, x: Code, dims: Sequence[object], where: Sequence[int]) -> Code:
        return self.w.embed(x, dims, where)

    def transpose(self, x: Code, perm: Sequence[int]) -> Code:
        return self.w.transpose(x, perm)

    def sum(self, x: Code, axes: Sequence[int] | None) -> Code:
        return self.w.sum(x, axes)

    def index(self, x: Code, items: Sequence[int | slice | None]) -> Code:
        return self.w.index(x, [_item(i) for i in items])

    def diagonal(self, x: Code, equation: str) -> Code:
        return self.w.diagonal(x, equation)

    def matmul(self, a: Code, b: Code) -> Code:
        return self.w.matmul(a, b)

    def mul(self, a: Code, b: Code) -> Code:
        return self.w.mul(a, b)

    def times_derivative(self, fn: str, g: Code, y: Code) -> Code:
        return self.w.times_derivative(fn, g, y)

    def tensordot(self, a: Code, b: Code, axes_a: Sequence[int], axes_b: Sequence[int]) -> Code:
        return self.w.tensordot(a, b, axes_a, axes_b)

    def einsum(self, equation: str, operands: Sequence[Code], path: Sequence[tuple[int, ...]]) -> Code:
        return self.w.einsum(equation, operands, path)

    def solve(self, a: Code, b: Code) -> Code:
        return self.w.solve(a, b)

    def cofactor_along(self, a: Code, e: Code) -> Code:
        return self.w.cofactor_along(a, e)
