"""Surface types: the shape of a value as the text sees it (with MATLAB orientation), and dimension unification."""
from __future__ import annotations

import itertools
from dataclasses import dataclass

from ..ir import Dim


class DimVar:
    """A dimension not known yet; unification binds it to a size, a name or another DimVar."""
    __slots__ = ("id",)
    _ids = itertools.count()

    def __init__(self) -> None:
        self.id = next(DimVar._ids)

    def __repr__(self) -> str:
        return f"?{self.id}"

    def __str__(self) -> str:
        return "?"   # not known yet: messages say so


class _One:
    """The unit dimension of a vector seen as an n×1 or 1×n matrix (never a declared size)."""

    def __repr__(self) -> str:
        return "1"


ONE = _One()
AnyDim = Dim | DimVar | _One


@dataclass(frozen=True)
class SType:
    dims: tuple
    orient: str | None = None      # "col" or "row" for vectors

    @property
    def rank(self) -> int:
        return len(self.dims)

    @property
    def kind(self) -> str:
        return {0: "scalar", 1: f"{self.orient} vector", 2: "matrix"}.get(self.rank, f"rank-{self.rank} tensor")

    def as_2d(self) -> tuple:
        if self.rank == 0:
            return (ONE, ONE)
        if self.rank == 1:
            return (self.dims[0], ONE) if self.orient == "col" else (ONE, self.dims[0])
        return self.dims

    def transposed(self) -> SType:
        if self.rank == 1:
            return SType(self.dims, "row" if self.orient == "col" else "col")
        return SType(self.dims[::-1]) if self.rank == 2 else self


SCALAR = SType(())


def from_2d(rows: AnyDim, cols: AnyDim) -> SType:
    if rows is ONE and cols is ONE:
        return SCALAR
    if cols is ONE:
        return SType((rows,), "col")
    if rows is ONE:
        return SType((cols,), "row")
    return SType((rows, cols))


def of_shape(dims: tuple) -> SType:
    return SType(tuple(dims), "col" if len(dims) == 1 else None)


class Unifier:
    """Union-find over dimensions. Every binding is logged on a trail, so that inference can go back to an earlier
    state (`undo(mark())`) instead of starting again from nothing."""

    def __init__(self) -> None:
        self.parent: dict[DimVar, AnyDim] = {}
        self.trail: list[tuple[DimVar, AnyDim | None]] = []    # (variable, its parent before) per binding
        self.clash: tuple | None = None    # the two sizes of the last unify that failed because both were fixed

    def mark(self) -> int:
        return len(self.trail)

    def undo(self, mark: int) -> None:
        while len(self.trail) > mark:
            d, before = self.trail.pop()
            if before is None:
                del self.parent[d]
            else:
                self.parent[d] = before

    def _bind(self, d: DimVar, to: AnyDim) -> None:
        self.trail.append((d, self.parent.get(d)))
        self.parent[d] = to

    def find(self, d: AnyDim) -> AnyDim:
        root = d
        while isinstance(root, DimVar) and root in self.parent:
            root = self.parent[root]
        while isinstance(d, DimVar) and d in self.parent and self.parent[d] is not root:
            following: DimVar = d
            d = self.parent[d]
            self._bind(following, root)       # path compression: later look-ups are one step
        return root

    def unify(self, a: AnyDim, b: AnyDim) -> bool:
        self.clash = None
        a, b = self.find(a), self.find(b)
        if a is b or (not isinstance(a, (DimVar, _One)) and a == b):
            return True
        if isinstance(a, DimVar) and b is not ONE:
            self._bind(a, b)
            return True
        if isinstance(b, DimVar) and a is not ONE:
            self._bind(b, a)
            return True
        if not isinstance(a, _One) and not isinstance(b, _One):
            self.clash = (a, b)       # two fixed sizes (declared, or literal): not a question of kinds
        return False

    def same(self, x: SType, y: SType) -> bool:
        return x.rank == y.rank and x.orient == y.orient and all(
            self.unify(a, b) for a, b in zip(x.dims, y.dims, strict=True))

    def resolve(self, t: SType) -> SType:
        return SType(tuple(self.find(d) for d in t.dims), t.orient)


def show_dims(t: SType, unifier: Unifier | None = None, names: dict | None = None) -> str:
    dims = [unifier.find(d) if unifier else d for d in t.dims]
    names = names or {}
    text = "×".join(str(names.get(d, "?") if isinstance(d, DimVar) else d) for d in dims)
    return t.kind if not dims else f"{t.kind} ({text})"
