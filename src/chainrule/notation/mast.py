"""Matrix-notation trees: the printer's view of an expression, with orientation (rows and columns) restored.

Nodes are interned like IR nodes. The constructors keep the notation compact: transposes are pushed inwards only
where that removes transposes, numeric coefficients gather in front, and sums pull out a common first or last factor.
"""
from __future__ import annotations

import weakref
from collections.abc import Container, Iterator
from typing import Any

from ..ir.intern import InternTable

# orientation: "s" scalar, "c" column, "r" row, "m" matrix, "t" tensor (index notation)
_interned = InternTable()
_PUSH_LIMIT = 400
_FLATTEN_LIMIT = 16   # longer products stay nested, so a chain of n products is built in linear time


class M:
    __slots__ = ("__weakref__", "args", "data", "kind", "orient", "size", "tcount", "transposed")

    kind: str                 # sym, num, fill, eye, T, func, stack, blocks, pick, einsum, pow, mm, had, add
    args: tuple[M, ...]
    data: Any                 # the kind's own data: a name, a number, a function name, an einsum spec, ...
    orient: str               # s, c, r, m or t (above)
    size: int                 # the number of nodes of the tree, shared ones counted each time
    tcount: int               # the reading cost of its transposes (a transpose of a parenthesised group costs 2)
    # what transpose() made of it, while that lives (a weak reference: the two would otherwise keep each other):
    # transposing a long chain transposes its parts again, each of them at most once
    transposed: weakref.ref[M] | None

    def __repr__(self) -> str:
        return f"M({self.kind}, {self.data!r}, {self.orient}, {len(self.args)} args)"


def mk(kind: str, args: tuple = (), data: Any = None, orient: str = "s") -> M:
    args = tuple(args)
    key = (kind, data, orient, tuple(map(id, args)))
    node = _interned.get(key)
    if node is not None:
        return node
    node = M()
    node.kind, node.args, node.data, node.orient, node.transposed = kind, args, data, orient, None
    own = (1 + (args[0].size > 1)) if kind == "T" else 0
    node.tcount = own + sum([a.tcount for a in args])
    node.size = 1 + sum([a.size for a in args])
    return _interned.put(key, node)


def postorder(root: M, known: Container[int] = frozenset()) -> list[M]:
    """root, and the nodes of its tree whose id is not in known, each once and after its operands, left to right (the
    order of ir.topological); the operands of a known node below the root are not visited."""
    order: list[M] = []
    seen: set[int] = {id(root)}
    # a frame per level: a node and the iterator over its operands not yet entered (as ir.topological)
    stack: list[tuple[M, Iterator[M]]] = [(root, iter(root.args))]
    while stack:
        node, pending = stack[-1]
        for arg in pending:
            if id(arg) not in seen and id(arg) not in known:
                seen.add(id(arg))
                stack.append((arg, iter(arg.args)))
                break
        else:
            stack.pop()
            order.append(node)
    return order


def orient_of_rank(rank: int) -> str:
    return {0: "s", 1: "c", 2: "m"}.get(rank, "t")


def sym(name: str, rank: int, symmetric: bool = False) -> M:
    return mk("sym", (), (name, symmetric), orient_of_rank(rank))


def num(value: float) -> M:
    return mk("num", (), float(value), "s")


def is_num(x: M, value: float | None = None) -> bool:
    return x.kind == "num" and (value is None or x.data == value)


def fill(value: float, shape: tuple) -> M:
    """A tensor with every entry equal to value (its shape kept so the text can say it: vector(1, "n"))."""
    if not shape:
        return num(value)
    return mk("fill", (), (float(value), tuple(shape)), orient_of_rank(len(shape)))


def eye(dim: object) -> M:
    return mk("eye", (), dim, "m")


def func(name: str, *args: M, orient: str | None = None) -> M:
    return mk("func", args, name, orient or args[0].orient)


def power(base: M, exponent: M) -> M:
    if is_num(exponent, 0.5):
        return func("sqrt", base)
    if is_num(exponent, 1.0):
        return base
    return mk("pow", (base, exponent), None, elementwise_orient([base, exponent]))


def elementwise_orient(operands: list[M]) -> str:
    """The orientation of an element-wise result: its operands', a matrix where a row meets a column (x + y', the
    outer sum of MATLAB's implicit expansion)."""
    shaped = {x.orient for x in operands} - {"s"}
    if "m" in shaped or {"r", "c"} <= shaped:
        return "m"
    return next((x.orient for x in operands if x.orient != "s"), "s")


def stack(entries: list[M]) -> M:
    return mk("stack", tuple(entries), None, "c")


def blocks(parts: list[M], separator: str, orient: str) -> M:
    """[x; y] (separator ";": one above the other) or [X, Y] (",": side by side)."""
    return mk("blocks", tuple(parts), separator, orient)


def pick(x: M, items: tuple[str, ...], orient: str) -> M:
    """x indexed, one item per axis as the language writes it: "2", ":" or "2:4" (from 1)."""
    return mk("pick", (x,), items, orient)


def einsum(spec: str, args: list[M], rank: int) -> M:
    return mk("einsum", tuple(args), spec, orient_of_rank(rank))


_FLIP = {"c": "r", "r": "c"}


def transpose(x: M) -> M:
    known = x.transposed() if x.transposed is not None else None
    if known is None:
        known = _transpose(x)
        x.transposed = weakref.ref(known)
    return known


def _transpose(x: M) -> M:
    if _is_own_transpose(x):
        return x
    if x.kind == "fill" and x.orient == "m":
        return fill(x.data[0], x.data[1][::-1])     # an m×n filled matrix transposed is n×m
    if x.kind == "T":
        return x.args[0]
    plain = mk("T", (x,), None, _FLIP.get(x.orient, x.orient))
    if x.kind not in ("mm", "add", "had", "pow") or x.size > _PUSH_LIMIT:
        return plain
    pushed = _pushed(x)
    return pushed if pushed.tcount <= plain.tcount else plain


def _is_own_transpose(x: M) -> bool:
    """Scalars, index-notation tensors, identities, symmetric and diagonal matrices."""
    return x.orient in ("s", "t") or x.kind == "eye" or (x.kind == "sym" and x.data[1]) or _is_diag(x)


def _pushed(x: M) -> M:
    # (AB)' = B'A', (A+B)' = A'+B', (A.*B)' = A'.*B', (A.^B)' = A'.^B' (a scalar exponent is its own transpose)
    if x.kind == "mm":
        return mm(*[transpose(f) for f in reversed(x.args)])
    if x.kind == "add":
        return add(*[transpose(t) for t in x.args])
    if x.kind == "had":
        return mk("had", tuple(transpose(f) for f in x.args), None, _FLIP.get(x.orient, x.orient))
    return power(transpose(x.args[0]), transpose(x.args[1]))


def _product_orient(factors: list[M]) -> str:
    shaped = [f.orient for f in factors if f.orient != "s"]
    if not shaped:
        return "s"
    rows = shaped[0] != "r"
    cols = shaped[-1] != "c"
    return {(False, False): "s", (True, False): "c", (False, True): "r", (True, True): "m"}[(rows, cols)]


def mm(*factors: M) -> M:
    """Matrix product (scalars scale); numeric coefficients gather in front."""
    coefficient, rest = 1.0, []
    kinds = set()       # the passes below run only where their kind of factor is present
    for f in factors:
        for g in f.args if _inlined(f) else (f,):
            if g.kind == "num":
                coefficient *= g.data
            else:
                rest.append(g)
                kinds.add(g.kind)
    if coefficient == 0.0:
        return num(0.0)
    if "eye" in kinds:
        rest = _without_identities(rest)
    if "func" in kinds:
        rest = _merge_diagonals(rest)
    if coefficient != 1.0:
        rest.insert(0, num(coefficient))
    if len(rest) <= 1:
        return rest[0] if rest else num(1.0)
    return mk("mm", tuple(rest), None, _product_orient(rest))


def _inlined(f: M) -> bool:
    # a scalar sub-product such as x'*a stays one factor: it is not part of the matrix chain around it
    return f.kind == "mm" and (f.orient != "s" or all(a.orient == "s" for a in f.args)) and \
        len(f.args) <= _FLATTEN_LIMIT


def _without_identities(factors: list[M]) -> list[M]:
    # I*A = A (among scalars only, I is the matrix itself)
    if any(f.orient != "s" and f.kind != "eye" for f in factors):
        return [f for f in factors if f.kind != "eye"]
    return factors


def _is_diag(f: M) -> bool:
    return f.kind == "func" and f.data == "diag" and f.orient == "m"


def _merge_diagonals(factors: list[M]) -> list[M]:
    # diag(a)*diag(b) = diag(a.*b)
    merged: list[M] = []
    for f in factors:
        if merged and _is_diag(f) and _is_diag(merged[-1]):
            merged[-1] = func("diag", had(merged[-1].args[0], f.args[0]), orient="m")
        else:
            merged.append(f)
    return merged


def neg(x: M) -> M:
    return mm(num(-1.0), x)


def had(*factors: M) -> M:
    """Element-wise product; numeric coefficients move outside: (2x).*y = 2*(x.*y)."""
    flat: list[M] = []
    coefficient = 1.0
    for factor in factors:
        c, f = split_coefficient(factor)
        coefficient *= c
        flat.extend(f.args if f.kind == "had" and len(f.args) <= _FLATTEN_LIMIT else [f])
    flat = [f for f in flat if not is_num(f, 1.0)]
    if len(flat) <= 1:
        return mm(num(coefficient), *flat)
    # a matrix times a row or column repeated over it (X./sum(X, 2), implicit expansion) is a matrix
    orient = "m" if any(f.orient == "m" for f in flat) else next((f.orient for f in flat if f.orient != "s"), "s")
    flat.sort(key=lambda f: f.kind != "sym")     # y.*exp(z) reads better than exp(z).*y
    return mm(num(coefficient), mk("had", tuple(flat), None, orient))


def split_coefficient(x: M) -> tuple[float, M]:
    if x.kind == "mm" and is_num(x.args[0]):
        return x.args[0].data, mm(*x.args[1:])
    if x.kind == "num":
        return x.data, num(1.0)
    return 1.0, x


def add(*terms: M) -> M:
    flat: list[M] = []
    for t in terms:
        flat.extend(t.args if t.kind == "add" else [t])
    flat = _factor_common(_join_diagonals(_collect(flat)))
    if len(flat) == 1:
        return flat[0]
    orient = elementwise_orient(flat)
    flat.sort(key=lambda t: (split_coefficient(t)[0] < 0, t.tcount))
    return mk("add", tuple(flat), None, orient)


def _join_diagonals(terms: list[M]) -> list[M]:
    # c1*diag(a) + c2*diag(b) = diag(c1*a + c2*b)
    diagonals = [t for t in terms if _is_diag(split_coefficient(t)[1])]
    if len(diagonals) < 2:
        return terms
    inner = [mm(num(c), d.args[0]) for c, d in map(split_coefficient, diagonals)]
    joined = set(map(id, diagonals))
    return [t for t in terms if id(t) not in joined] + [func("diag", add(*inner), orient="m")]


def _collect(terms: list[M]) -> list[M]:
    # 2*A + 3*A = 5*A
    total: dict[int, list] = {}
    for t in terms:
        c, rest = split_coefficient(t)
        total.setdefault(id(rest), [rest, 0.0])[1] += c
    # mm(num(1.0), rest) is rest itself (rest was built by mm): not built again
    return [rest if c == 1.0 else mm(num(c), rest) for rest, c in total.values() if c != 0.0] or [num(0.0)]


def _factor_common(terms: list[M]) -> list[M]:
    # B*A + C*A = (B+C)*A and A*B + A*C = A*(B+C), when the shared factor is a matrix or vector; again until no two
    # terms share one
    while True:
        factored = _factor_once(terms)
        if factored is None:
            return terms
        terms = factored


def _factor_once(terms: list[M]) -> list[M] | None:
    split = [split_coefficient(t) for t in terms]
    for side in (-1, 0):
        for members in _sharing(split, side):
            joined = _joined(split, members, side)
            if joined is not None:
                gone = set(members)
                return [t for k, t in enumerate(terms) if k not in gone] + [joined]
    return None


def _sharing(split: list[tuple[float, M]], side: int) -> list[list[int]]:
    """The groups of two or more terms whose last (side -1) or first (side 0) factor is the same matrix or vector."""
    groups: dict[int, list[int]] = {}
    for k, (_, t) in enumerate(split):
        if t.kind == "mm" and t.args[side].orient != "s":
            groups.setdefault(id(t.args[side]), []).append(k)
    return [members for members in groups.values() if len(members) > 1]


def _joined(split: list[tuple[float, M]], members: list[int], side: int) -> M | None:
    """The terms of members with their shared factor taken out, or None where what is left differs in orientation."""
    shared = split[members[0]][1].args[side]
    rests = [mm(num(split[k][0]), *(split[k][1].args[:-1] if side == -1 else split[k][1].args[1:])) for k in members]
    if len({r.orient for r in rests}) != 1:
        return None
    inner = add(*rests)
    return mm(inner, shared) if side == -1 else mm(shared, inner)
