"""Every operator and function of the input language: its type rule and its lowering to the IR, side by side."""
from __future__ import annotations

import dataclasses
import difflib
import functools
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

from ..ir import Node
from ..ir.elementwise import ELEMENTWISE
from ..limits import current_limits
from ..simplify import build as b
from ..simplify.contract import MAX_FUSED
from .parser import check_at
from .surface import Syntax, walk
from .types import ONE, SCALAR, AnyDim, DimVar, SType, Unifier, from_2d, show_dims

Lowered = tuple[Node, SType]


class TypeFailure(Exception):
    """A shape rule failed at `node`; `blame` are the operands whose undeclared variables could be re-kinded."""

    def __init__(self, message: str, node: Syntax, hint: str | None = None, blame: tuple = ()):
        super().__init__(message)
        self.message, self.node, self.hint, self.blame = message, node, hint, blame
        self.clash: tuple | None = None      # set by inference: two fixed sizes that failed to unify
        self.unknown_name = False            # a name that is no function: a ParseError, not a ShapeError


@dataclass
class Ctx:
    unifier: Unifier
    text: str = ""
    # checks that wait until the whole text is typed (an index against a size a later use may still fix)
    deferred: list[Callable[[], None]] = dataclasses.field(default_factory=list)

    def fresh(self) -> DimVar:
        return DimVar()

    def show(self, t: SType) -> str:
        return show_dims(t, self.unifier)

    def source(self, node: Syntax) -> str:
        return self.text[node.start:node.end] if self.text else node.op


Check = Callable[[Ctx, Syntax, list[SType]], SType]
Lower = Callable[[list[Lowered], SType], Node]


@dataclass(frozen=True)
class Rule:
    arity: int | None
    check: Check
    lower: Lower


# ---- type rules ----------------------------------------------------------------------------------------------------

def _same_shape(symbol: str) -> Check:
    """Element-wise: operands of one shape, a scalar expanding to the other's, or (MATLAB's implicit expansion) a row
    repeated over a matrix's rows, a column over its columns, a column and a row to a matrix (x + y')."""
    def check(ctx: Ctx, node: Syntax, args: list[SType]) -> SType:
        x, y = args
        if x.rank == 0 or y.rank == 0:
            return y if x.rank == 0 else x
        if ctx.unifier.same(x, y):
            return x
        expanded = _implicit_expansion(ctx.unifier, x, y) if x.rank <= 2 and y.rank <= 2 else None
        if expanded is not None:
            return expanded
        raise TypeFailure(
            f"'{symbol}' needs operands of the same shape, a scalar, or a row or column that broadcasts over a "
            f"matrix: '{ctx.source(node.args[0])}' is a {ctx.show(x)}, '{ctx.source(node.args[1])}' a {ctx.show(y)}",
            node, "Broadcasting repeats a row (length: the matrix's columns) down a matrix, or a column (length: its "
                  "rows) across it, as in X*W + b'. Transpose one side with ' or declare the shapes, e.g. "
                  "parse(text, x=('n',)).", node.args)
    return check


def _implicit_expansion(unifier: Unifier, x: SType, y: SType) -> SType | None:
    """The shape of x op y when each dimension agrees or is 1 on one side (then repeated), else None."""
    dims = []
    for a, b_ in zip(x.as_2d(), y.as_2d(), strict=True):
        if a is ONE or b_ is ONE:
            dims.append(b_ if a is ONE else a)
        elif unifier.unify(a, b_):
            dims.append(a)
        else:
            return None
    return from_2d(*dims)


def expand(node: Node, t: SType, result: SType) -> Node:
    """node, of surface type t, repeated to the result's shape where broadcasting made it larger: a column over the
    columns of a matrix, a row over its rows (scalars expand inside the constructors)."""
    if t.rank == 0 or t.rank == result.rank:
        return node
    return b.broadcast(node, result.dims, (0,) if t.orient == "col" else (1,))


def _elementwise(f: Callable[[Node, Node], Node]) -> Lower:
    return lambda args, result: f(*(expand(x, t, result) for x, t in args))


def _product(ctx: Ctx, node: Syntax, args: list[SType]) -> SType:
    x, y = args
    if x.rank == 0 or y.rank == 0:
        return y if x.rank == 0 else x
    if x.rank > 2 or y.rank > 2:
        raise TypeFailure("'*' multiplies scalars, vectors and matrices; use einsum for tensors", node, None, node.args)
    (r, k1), (k2, c) = x.as_2d(), y.as_2d()
    if not ctx.unifier.unify(k1, k2):
        raise TypeFailure(
            f"the inner dimensions of '*' do not match: '{ctx.source(node.args[0])}' is a {ctx.show(x)}, "
            f"'{ctx.source(node.args[1])}' a {ctx.show(y)}", node,
            "For an element-wise product write .* ; for an inner product of vectors write x'*y; or declare the "
            "shapes so the columns of the left equal the rows of the right.", node.args)
    return from_2d(r, c)


def _scalar_divisor(ctx: Ctx, node: Syntax, args: list[SType]) -> SType:
    if args[1].rank != 0:
        raise TypeFailure(f"'/' divides by a scalar, but '{ctx.source(node.args[1])}' is a {ctx.show(args[1])}",
                          node, "Use ./ to divide element by element, or inv(A) for a matrix inverse.", node.args[1:])
    return args[0]


def _power(ctx: Ctx, node: Syntax, args: list[SType]) -> SType:
    x, p = args
    if p.rank != 0:
        raise TypeFailure("the exponent of '^' must be a scalar", node, "Use .^ for element-wise powers.", node.args)
    if x.rank == 0:
        return x
    k = integer_literal(node.args[1])
    if x.rank == 2 and k is not None and ctx.unifier.unify(*x.dims):
        check_at("power", abs(k), f"the integer matrix power '{ctx.source(node)}'", ctx.text, node.start, node.end)
        return x
    raise TypeFailure(f"'^' raises a scalar, or a square matrix to an integer power; "
                      f"'{ctx.source(node.args[0])}' is a {ctx.show(x)}", node,
                      "Use .^ for an element-wise power.", node.args[:1])


def integer_literal(node: Syntax) -> int | None:
    """The value of a literal whole number such as 3 or -1, else None."""
    sign = 1
    if node.op == "neg":
        sign, node = -1, node.args[0]
    if node.op == "number" and float(node.value).is_integer():
        return sign * int(node.value)
    return None


def _transpose(ctx: Ctx, node: Syntax, args: list[SType]) -> SType:
    if args[0].rank > 2:
        raise TypeFailure("' transposes vectors and matrices, not tensors", node, "Use einsum to permute indices.")
    return args[0].transposed()


def _same(ctx: Ctx, node: Syntax, args: list[SType]) -> SType:
    return args[0]


def _to_scalar(ctx: Ctx, node: Syntax, args: list[SType]) -> SType:
    return SCALAR


def _square(result: Callable[[SType], SType]) -> Check:
    def check(ctx: Ctx, node: Syntax, args: list[SType]) -> SType:
        x = args[0]
        if x.rank == 2 and ctx.unifier.unify(*x.dims):
            return result(x)
        raise TypeFailure(f"{node.value} needs a square matrix, but '{ctx.source(node.args[0])}' is a {ctx.show(x)}",
                          node, "Declare it square, e.g. A=('n', 'n').", node.args)
    return check


def _vector_or_matrix(ctx: Ctx, node: Syntax, args: list[SType]) -> SType:
    if args[0].rank in (1, 2):
        return args[0]
    raise TypeFailure(f"{node.value} takes a vector or a matrix, but '{ctx.source(node.args[0])}' is a "
                      f"{ctx.show(args[0])}", node, None, node.args)


def _cofactor(ctx: Ctx, node: Syntax, args: list[SType]) -> SType:
    # cofactor(A) is the cofactor matrix (the gradient of det); cofactor(A, k) the k-th derivative of det(A), a
    # tensor of rank 2k: each index pair (i, j) is one entry A_ij differentiated by
    if len(args) not in (1, 2) or (len(args) == 2 and _cofactor_order(node.args[1]) is None):
        raise TypeFailure("cofactor takes a square matrix and optionally an order, a whole number from 1: "
                          "cofactor(A) or cofactor(A, 2)", node)
    square = _square(lambda t: t)(ctx, node, args[:1])
    k = _cofactor_order(node.args[1]) if len(args) == 2 else 1
    assert k is not None       # checked above
    current_limits().check("order", k, "the order of cofactor(A, k)")
    return square if k == 1 else SType(square.dims * k)


def _cofactor_order(node: Syntax) -> int | None:
    k = integer_literal(node)
    return k if k is not None and k >= 1 else None


def _lower_cofactor(args: list[Lowered], result: SType) -> Node:
    return b.cofactor(args[0][0], int(args[1][0].params.value) if len(args) == 2 else 1)


def _diag(ctx: Ctx, node: Syntax, args: list[SType]) -> SType:
    x = args[0]
    if x.rank == 1:
        return SType((x.dims[0], x.dims[0]))
    if x.rank == 2 and ctx.unifier.unify(*x.dims):
        return SType(x.dims[:1], "col")
    raise TypeFailure(f"diag takes a vector (giving a diagonal matrix) or a square matrix (giving its diagonal), "
                      f"but '{ctx.source(node.args[0])}' is a {ctx.show(x)}", node, None, node.args)


def _filled(rank: int) -> Check:
    def check(ctx: Ctx, node: Syntax, args: list[SType]) -> SType:
        if not args or args[0] is None or args[0].rank != 0 or len(args) not in (1, 1 + rank):
            sizes = ", ".join(['"n"', '"m"'][:rank])
            raise TypeFailure(f"{node.value} takes a scalar value, optionally followed by its size: "
                              f"{node.value}(1) or {node.value}(1, {sizes})", node)
        dims = [_size_argument(a) for a in node.args[1:]] or [ctx.fresh() for _ in range(rank)]
        return SType(tuple(dims), "col" if rank == 1 else None)
    return check


def _size_argument(size: Syntax):
    if size.op == "string" and size.value.isidentifier():
        return size.value
    if size.op == "number" and float(size.value).is_integer() and size.value > 0:
        return int(size.value)
    raise TypeFailure('a size is a whole number or a quoted dimension name, as in 3 or "n"', size)


def _eye(ctx: Ctx, node: Syntax, args: list[SType]) -> SType:
    if len(args) > 1:
        raise TypeFailure("eye takes at most one argument: its size, as in eye(3) or eye(\"n\")", node)
    if not args:
        n = ctx.fresh()
        return SType((n, n))
    n = _size_argument(node.args[0])
    return SType((n, n))


def _blocks(axis: int) -> Check:
    """[a; b] (axis 0: one above the other) and [a, b] (axis 1: side by side), MATLAB's: the parts agree across the
    axis, and each has a number of entries along it (declared, or 1 for a scalar or the short side of a vector)."""
    symbol = ";" if axis == 0 else ","

    def check(ctx: Ctx, node: Syntax, args: list[SType]) -> SType:
        if all(t.rank == 0 for t in args):
            return SType((len(args),), "col" if axis == 0 else "row")
        if len(args) == 1:
            return args[0]
        if any(t.rank > 2 for t in args):
            raise TypeFailure(f"[a{symbol} b] joins scalars, vectors and matrices, not tensors", node, None, node.args)
        across = [t.as_2d()[1 - axis] for t in args]
        for arg, t, d in zip(node.args[1:], args[1:], across[1:], strict=True):
            if not _same_dim(ctx.unifier, across[0], d):
                what = "columns" if axis == 0 else "rows"
                raise TypeFailure(f"the parts of [a{symbol} b] need the same number of {what}: "
                                  f"'{ctx.source(node.args[0])}' is a {ctx.show(args[0])}, '{ctx.source(arg)}' a "
                                  f"{ctx.show(t)}", node, "Transpose a part with ', or stack the other way.", node.args)
        total = sum(_entries_along(ctx, arg, t, axis) for arg, t in zip(node.args, args, strict=True))
        return from_2d(total, across[0]) if axis == 0 else from_2d(across[0], total)
    return check


def _same_dim(unifier: Unifier, a: AnyDim, b: AnyDim) -> bool:
    return (a is ONE and b is ONE) or (a is not ONE and b is not ONE and unifier.unify(a, b))


def _entries_along(ctx: Ctx, arg: Syntax, t: SType, axis: int) -> int:
    d = t.as_2d()[axis]
    size = 1 if d is ONE else ctx.unifier.find(d)
    if type(size) is not int:
        raise TypeFailure(f"stacking needs the size of '{ctx.source(arg)}' (a {ctx.show(t)}) as a number", arg,
                          _declare_size_hint(arg, t.rank), (arg,))   # or read as a scalar
    return size


def _declare_size_hint(operand: Syntax, rank: int) -> str:
    name = operand.value if operand.op == "name" else "x"
    declared, on_cli = ("(3,)", "3") if rank == 1 else ("(2, 3)", "2,3")
    return f"Declare it, e.g. parse(text, {name}={declared}) or --var {name}={on_cli}."


def _index(ctx: Ctx, node: Syntax, args: list[SType]) -> SType:
    """x(2), x(2:4), X(2, :), X(:, 1), X(1, 2): whole numbers from 1, ':' for a whole axis, first:last."""
    x, items = args[0], node.args[1:]
    if x.rank not in (1, 2) or len(items) != x.rank:
        wanted = "one index" if x.rank == 1 else "two indices, as in X(2, :)" if x.rank == 2 else "a vector or matrix"
        hint = _scalar_index_hint(node.args[0]) if x.rank == 0 else None
        raise TypeFailure(f"'{ctx.source(node.args[0])}' is a {ctx.show(x)}: indexing takes {wanted}", node, hint,
                          node.args[:1])
    kept = []
    for item, d in zip(items, x.dims, strict=True):
        pick = selection(item)
        if pick is None:
            raise TypeFailure("an index is a whole number from 1, ':' (the whole axis) or a range first:last such as "
                              "2:4", item)
        if pick == b.FULL:
            kept.append(d)
            continue
        within = functools.partial(_index_within, ctx, node, item, x, d, pick + 1 if type(pick) is int else pick[1])
        if isinstance(ctx.unifier.find(d), DimVar):     # a later use may still fix the size (b(2) + y'*b)
            ctx.deferred.append(within)
        else:
            within()
        if type(pick) is not int:
            kept.append(pick[1] - pick[0])
    if x.rank == 1:
        return SType(tuple(kept), x.orient) if kept else SCALAR
    if len(kept) == 2:
        return SType(tuple(kept))
    return SType(tuple(kept), "row" if type(selection(items[0])) is int else "col") if kept else SCALAR


def _scalar_index_hint(operand: Syntax) -> str | None:
    # reached for a declared scalar (a guessed one is re-read as a vector first)
    if operand.op != "name" or operand.value in CONSTANTS:
        return None
    name = operand.value
    return (f"A scalar has no entries to index; declare '{name}' a vector or a matrix with its size, e.g. "
            f"parse(text, {name}=(3,)) or --var {name}=3.")


def _index_within(ctx: Ctx, node: Syntax, item: Syntax, x: SType, d: AnyDim, last: int) -> None:
    """Index `last` (from 1) lies within the axis d of the indexed operand x, whose size must be a number."""
    size = ctx.unifier.find(d)
    if type(size) is not int:
        operand = node.args[0]
        raise TypeFailure(f"indexing needs the size of '{ctx.source(operand)}' (a {ctx.show(x)}) as a number", node,
                          _declare_size_hint(operand, x.rank))
    if last > size:
        raise TypeFailure(f"index {last} is beyond the end of '{ctx.source(node.args[0])}', a {ctx.show(x)}", item)


def selection(item: Syntax):
    """The IR selection of one index: k (from 0) for the literal k+1, b.FULL for ':', (first-1, last) for first:last;
    None for anything else."""
    if item.op == "colon":
        return b.FULL
    if item.op == "range":
        first, last = (integer_literal(a) for a in item.args)
        if first is None or last is None or not 1 <= first <= last:
            return None
        return (first - 1, last)
    k = integer_literal(item) if item.op == "number" else None
    return k - 1 if k is not None and k >= 1 else None


def _index_like(item: Syntax) -> bool:
    # what is written as an index, whether or not it is a valid one (x(0) is told that indices start at 1)
    return item.op in ("number", "colon", "range") or (item.op == "neg" and item.args[0].op == "number")


def _function_like(name: str) -> bool:
    # eyes(3) is a misspelt eye(3), to be reported as an unknown function with the suggestion, not indexing
    return name in FUNCTIONS or bool(difflib.get_close_matches(name, list(FUNCTIONS), n=1, cutoff=0.8))


def index_calls(root: Syntax) -> Syntax:
    """x(2), X(2, :) parse as calls; a call of a name that is no function, with indices only for arguments, is
    indexing that name (an unknown function with other arguments stays a call, to be reported as one)."""
    rebuilt: dict[int, Syntax] = {}
    for node in walk(root):
        args = tuple(rebuilt.get(id(a), a) for a in node.args) if rebuilt else node.args
        if node.op == "call" and args and all(map(_index_like, args)) and not _function_like(node.value):
            name = Syntax("name", (), node.start, node.start + len(node.value), node.value)
            rebuilt[id(node)] = Syntax("index", (name, *args), node.start, node.end)
        elif args is not node.args and any(a is not o for a, o in zip(args, node.args, strict=True)):
            rebuilt[id(node)] = dataclasses.replace(node, args=args)
    return rebuilt.get(id(root), root)


def _einsum(ctx: Ctx, node: Syntax, args: list[SType]) -> SType:
    spec, operands = _einsum_spec(node)
    if len(operands) != len(args) - 1:
        raise TypeFailure(f"einsum spec '{spec}' names {len(operands)} operands but {len(args) - 1} are given", node)
    sizes: dict[str, AnyDim] = {}
    for letters, arg, t in zip(operands, node.args[1:], args[1:], strict=True):
        if len(letters) != t.rank:
            raise TypeFailure(f"einsum: '{letters}' has {len(letters)} indices but '{ctx.source(arg)}' is a "
                              f"{ctx.show(t)}", arg, None, (arg,))
        for letter, d in zip(letters, t.dims, strict=True):
            if letter in sizes and not ctx.unifier.unify(sizes[letter], d):
                raise TypeFailure(f"einsum: index '{letter}' has two different sizes", arg, None, node.args[1:])
            sizes.setdefault(letter, d)
    out = spec.split("->")[1]
    return SType(tuple(sizes[c] if c in sizes else ctx.fresh() for c in out), "col" if len(out) == 1 else None)


def _einsum_spec(node: Syntax) -> tuple[str, list[str]]:
    first = node.args[0] if node.args else None
    if first is None or first.op != "string":
        raise TypeFailure('einsum takes a quoted spec first, as in einsum("ij,j->i", A, x)', node)
    spec = first.value.replace(" ", "")
    if spec.count("->") != 1 or not all(c.isalpha() or c in ",->" for c in spec):
        raise TypeFailure(f"einsum spec '{spec}' is not of the form 'ij,jk->ik'", first)
    inputs, out = spec.split("->")
    if len(set(out)) != len(out):
        raise TypeFailure(f"einsum spec '{spec}': an output index may appear once only", first)
    return spec, inputs.split(",") if inputs else []


# ---- lowering ------------------------------------------------------------------------------------------------------

def _lower_product(args: list[Lowered], result: SType) -> Node:
    return lower_product_chain(args)


def lower_product_chain(factors: list[Lowered]) -> Node:
    """f1*f2*...*fm, left to right, as einsums of at most MAX_FUSED operands each.

    Step by step this is the binary product: the left side's column index meets the right side's row index
    (x'*A*y = sum_ij x_i A_ij y_j); a scalar factor scales. Building the operand list first, instead of one einsum per
    '*', makes a chain of 50,000 factors one constructor call per MAX_FUSED factors.
    """
    fresh = itertools.count()
    ops: list[tuple[Node, tuple]] = []
    out: tuple = ()
    kind = "scalar"        # the orientation of the product so far: scalar, col, row, matrix or tensor
    for node, t in factors:
        if len(ops) == MAX_FUSED:
            ops = [(b.contract(ops, out), out)]
        rank = t.rank
        if kind == "scalar" or rank == 0:
            labels = tuple(itertools.islice(fresh, rank))
            ops.append((node, labels))
            if kind == "scalar":
                out, kind = labels, _kind(t)
            continue
        spare = next(fresh)         # the inner index where the left side has none (a column times a row)
        r = out[0] if kind == "col" or kind == "matrix" else None
        k = out[0] if kind == "row" else out[-1] if kind == "matrix" else spare
        c = next(fresh) if rank == 2 or t.orient == "row" else None
        ops.append((node, (k, c) if rank == 2 else (k,) if t.orient == "col" else (c,)))
        out = tuple([label for label in (r, c) if label is not None])
        kind = "matrix" if len(out) == 2 else "scalar" if not out else "col" if r is not None else "row"
    return b.contract(ops, out)


def lower_elementwise_chain(factors: list[Lowered], partial: list[SType]) -> Node:
    """f1.*f2.*...*fm, left to right; partial[k] is the type of the product of the first k+2 factors.

    Where no factor is broadcast (each a scalar or of the result's rank) the factors are one operand list, as einsums
    of at most MAX_FUSED operands each (as lower_product_chain): one constructor call per MAX_FUSED factors, not one
    per '.*'. Otherwise one product at a time, each factor broadcast to the product so far.
    """
    result = partial[-1]
    if any(t.rank not in (0, result.rank) for _, t in factors):
        product = factors[0]
        for factor, t in zip(factors[1:], partial, strict=True):
            product = (OPERATORS["emul"].lower([product, factor], t), t)
        return product[0]
    labels = tuple(range(result.rank))
    ops: list[tuple[Node, tuple]] = []
    for node, t in factors:
        if len(ops) == MAX_FUSED:
            ops = [(b.contract(ops, _carried(ops, labels)), _carried(ops, labels))]
        ops.append((node, labels if t.rank else ()))
    return b.contract(ops, labels)


def _carried(ops: list[tuple[Node, tuple]], labels: tuple) -> tuple:
    # the labels of a product of these operands: none while they are all scalars
    return labels if any(ix for _, ix in ops) else ()


def _kind(t: SType) -> str:
    return {0: "scalar", 1: t.orient or "col", 2: "matrix"}.get(t.rank, "tensor")


def _lower_power(args: list[Lowered], result: SType) -> Node:
    (x, tx), (p, _) = args
    if tx.rank == 0 or p.op != "const":
        return b.power(x, p)
    k = int(p.params.value)
    return _matrix_power(b.inv(x) if k < 0 else x, abs(k), tx.dims[0])


def _matrix_power(base: Node, k: int, n) -> Node:
    """base^k by repeated squaring (A^13 = A^8 * A^4 * A): about 2*log2(k) products, so A^1000 stays small."""
    result, square = b.delta(n), base
    while k:
        if k & 1:
            result = b.contract([(result, ("i", "k")), (square, ("k", "j"))], ("i", "j"))
        k >>= 1
        if k:
            square = b.contract([(square, ("i", "k")), (square, ("k", "j"))], ("i", "j"))
    return result


def _lower_transpose(args: list[Lowered], result: SType) -> Node:
    x, t = args[0]
    return b.transpose(x, (1, 0)) if t.rank == 2 else x


def _lower_diag(args: list[Lowered], result: SType) -> Node:
    x, t = args[0]
    if t.rank == 1:
        return b.contract([(x, ("i",)), (b.delta(t.dims[0]), ("i", "j"))], ("i", "j"))
    return b.contract([(x, ("i", "i"))], ("i",))


def _lower_stack(args: list[Lowered], result: SType) -> Node:
    if all(t.rank == 0 for _, t in args):      # a column of scalars: sum_k f_k e_k
        n = len(args)
        return b.add(*(b.mul(x, b.basis(k, n)) for k, (x, _) in enumerate(args)))
    if len(args) == 1:
        return args[0][0]
    return b.stack([_with_rank(x, t, result.rank) for x, t in args], 0)


def _lower_row(args: list[Lowered], result: SType) -> Node:
    if result.rank < 2:                        # scalars or rows side by side: a vector (vectors have no orientation)
        return _lower_stack(args, result)
    return b.stack([_with_rank(x, t, 2) for x, t in args], 1)


def _with_rank(x: Node, t: SType, rank: int) -> Node:
    """A part of a stack as a tensor of the stack's rank: a scalar or vector gets axes of size 1 (a column n×1, a
    row 1×n), as MATLAB sees them."""
    if t.rank == rank:
        return x
    if t.rank == 0:
        return b.broadcast_to(x, (1,) * rank)
    labels = (0,) if t.orient == "col" else (1,)
    return b.contract([(x, labels)], (0, 1), {1 - labels[0]: 1})


def _lower_index(args: list[Lowered], result: SType) -> Node:
    select = [item if isinstance(item, tuple) else int(item.params.value) - 1 for item, _ in args[1:]]
    return b.index(args[0][0], select)


def _lower_einsum(args: list[Lowered], result: SType) -> Node:
    spec = args[0][0]
    assert isinstance(spec, str)       # einsum's first argument lowers to its spec text, not to a node
    inputs, out = spec.split("->")
    operands = [(x, tuple(letters)) for (x, _), letters in zip(args[1:], inputs.split(",") if inputs else [],
                                                               strict=True)]
    return b.contract(operands, tuple(out), dict(zip(out, result.dims, strict=True)))


def _apply(name: str, x: Node) -> Node:
    return b.apply(name, x)


def _unary(f: Callable[[Node], Node]) -> Lower:
    return lambda args, result: f(args[0][0])


def _binary(f: Callable[[Node, Node], Node]) -> Lower:
    return lambda args, result: f(args[0][0], args[1][0])


# ---- reductions along a dimension (MATLAB's: 1 down the columns, 2 along the rows) ------------------------------

def _dimension(ctx: Ctx, node: Syntax, position: int) -> int:
    d = integer_literal(node.args[position]) if len(node.args) > position else None
    if d not in (1, 2):
        raise TypeFailure(f"the dimension of {node.value} is 1 (down the columns) or 2 (along the rows), written "
                          f"as a number: {node.value}(X, 2)", node.args[position] if len(node.args) > position
                          else node)
    return d


def _reduced_type(x: SType, d: int | None) -> SType:
    """sum(X): a scalar; sum(X, 1): a row (each column's); sum(X, 2): a column (each row's)."""
    if d is None:
        return SCALAR
    rows, cols = x.as_2d()
    return from_2d(ONE, cols) if d == 1 else from_2d(rows, ONE)


def _reduction(name: str) -> Check:
    def check(ctx: Ctx, node: Syntax, args: list[SType]) -> SType:
        if len(args) not in (1, 2) or args[0] is None:
            raise TypeFailure(f"{name} takes an expression and optionally a dimension: {name}(X) or {name}(X, 2)",
                              node)
        if len(args) == 2 and args[0].rank > 2:
            raise TypeFailure(f"{name} along a dimension takes a vector or a matrix", node, None, node.args[:1])
        return _reduced_type(args[0], _dimension(ctx, node, 1) if len(args) == 2 else None)
    return check


def _along_dimension(name: str) -> Check:
    def check(ctx: Ctx, node: Syntax, args: list[SType]) -> SType:
        _reduction(name)(ctx, node, args)
        if len(args) == 1 and args[0].rank not in (1, 2):
            return _vector_or_matrix(ctx, node, args)
        return args[0]
    return check


def _marked(name: str) -> Check:
    """ismax(X): 1 at the largest entries, 0 elsewhere, shaped like X (any rank); ismax(X, d) along a dimension."""
    def check(ctx: Ctx, node: Syntax, args: list[SType]) -> SType:
        _reduction(name)(ctx, node, args)
        return args[0]
    return check


def _ir_axes(t: SType, d: int | None) -> tuple[int, ...]:
    """The IR axes that dimension d (None: all) of a value of surface type t runs along; () for a dimension of 1."""
    if d is None:
        return tuple(range(t.rank))
    if t.rank == 2:
        return (d - 1,)
    return (0,) if t.rank == 1 and (t.orient == "col") == (d == 1) else ()


def _along(f: Callable[[Node, tuple[int, ...]], Node]) -> Lower:
    """The lowering of f(X) (every entry) and f(X, d), f given the IR axes reduced."""
    def lower(args: list[Lowered], result: SType) -> Node:
        (x, t), d = args[0], int(args[1][0].params.value) if len(args) > 1 else None
        return f(x, _ir_axes(t, d))
    return lower


def _sum_over(x: Node, axes: tuple[int, ...]) -> Node:
    labels = tuple(range(x.rank))
    return b.contract([(x, labels)], tuple(k for k in labels if k not in axes))


def _mean_over(x: Node, axes: tuple[int, ...]) -> Node:
    # mean = sum / the number of entries summed (numel(X), or size(X, d))
    return b.div(_sum_over(x, axes), _numel(tuple(x.shape[k] for k in axes)))


def _numel(shape: tuple) -> Node:
    """The number of entries of a tensor of this shape, a scalar: a number where the sizes are, else sum(ones)."""
    if all(isinstance(d, int) for d in shape):
        return b.const(float(math.prod(shape)))
    return b.sum_all(b.const(1.0, shape)) if len(shape) != 1 else b.size(shape[0])


def _spread(value: Node, x: Node, axes: tuple[int, ...]) -> Node:
    """A reduction's value repeated along the reduced axes, to x's shape (a scalar expands by itself)."""
    return value if value.rank == 0 else b.broadcast(value, x.shape, [k for k in range(x.rank) if k not in axes])


def _softmax(x: Node, axes: tuple[int, ...]) -> Node:
    # softmax = exp(x - logsumexp(x)) along the axes: stable, every exponent <= 0
    return b.apply("exp", _logsoftmax(x, axes))


def _logsoftmax(x: Node, axes: tuple[int, ...]) -> Node:
    return b.sub(x, _spread(b.logsumexp(x, axes), x, axes))


def _extremum(name: str) -> Check:
    """max(a, b) element-wise (with broadcasting), max(x) the largest entry, max(X, [], d) along a dimension."""
    pairwise = _same_shape(name)

    def check(ctx: Ctx, node: Syntax, args: list[SType]) -> SType:
        if len(args) == 2 and None not in args:
            return pairwise(ctx, node, args)
        if len(args) == 1 and args[0] is not None:
            return SCALAR
        if len(args) == 3 and args[0] is not None and node.args[1].op == "empty":
            if args[0].rank > 2:
                raise TypeFailure(f"{name} along a dimension takes a vector or a matrix", node, None, node.args[:1])
            return _reduced_type(args[0], _dimension(ctx, node, 2))
        raise TypeFailure(f"{name} takes two operands {name}(a, b), one {name}(x) (its {_WHICH[name]} entry), or a "
                          f"matrix, [] and a dimension: {name}(X, [], 2) (each row's)", node)
    return check


_WHICH = {"max": "largest", "min": "smallest"}


def _largest(x: Node, axes: tuple[int, ...]) -> Node:
    return b.amax(x, axes)


def _smallest(x: Node, axes: tuple[int, ...]) -> Node:
    return b.neg(b.amax(b.neg(x), axes))     # min(x) = -max(-x)


def _lower_extremum(pairwise: Callable[[Node, Node], Node], reduce: Callable[[Node, tuple[int, ...]], Node]) -> Lower:
    def lower(args: list[Lowered], result: SType) -> Node:
        if len(args) == 2:
            return _elementwise(pairwise)(args, result)
        (x, t), d = args[0], int(args[2][0].params.value) if len(args) == 3 else None
        return reduce(x, _ir_axes(t, d))
    return lower


def _size(ctx: Ctx, node: Syntax, args: list[SType]) -> SType:
    if len(args) == 1 and args[0] is not None:     # MATLAB's size vector [rows, columns]: not one value
        raise TypeFailure(f"size({ctx.source(node.args[0])}) with one argument would be MATLAB's vector of sizes, "
                          "which is not a value of the language: give the dimension", node,
                          "Write size(X, 1) for the rows, size(X, 2) for the columns, or numel(X) for the number of "
                          "entries (a vector's length).")
    if len(args) != 2 or args[0] is None:
        raise TypeFailure("size takes an expression and a dimension: size(X, 1) (its rows), size(X, 2)", node)
    _dimension(ctx, node, 1)
    return SCALAR


def _lower_size(args: list[Lowered], result: SType) -> Node:
    (x, t), d = args[0], int(args[1][0].params.value)
    axes = _ir_axes(t, d)
    return b.size(x.shape[axes[0]]) if axes else b.const(1.0)


OPERATORS: dict[str, Rule] = {
    "add": Rule(2, _same_shape("+"), _elementwise(b.add)),
    "sub": Rule(2, _same_shape("-"), _elementwise(b.sub)),
    "emul": Rule(2, _same_shape(".*"), _elementwise(b.mul)),
    "ediv": Rule(2, _same_shape("./"), _elementwise(b.div)),
    "epow": Rule(2, _same_shape(".^"), _elementwise(b.power)),
    "mul": Rule(2, _product, _lower_product),
    "div": Rule(2, _scalar_divisor, _binary(b.div)),
    "pow": Rule(2, _power, _lower_power),
    "neg": Rule(1, _same, _unary(b.neg)),
    "transpose": Rule(1, _transpose, _lower_transpose),
    "stack": Rule(None, _blocks(0), _lower_stack),
    "row": Rule(None, _blocks(1), _lower_row),
    "index": Rule(None, _index, _lower_index),
}

FUNCTIONS: dict[str, Rule] = {
    **{name: Rule(1, _same, _unary(functools.partial(_apply, name))) for name in ELEMENTWISE},
    "ln": Rule(1, _same, _unary(lambda x: b.apply("log", x))),
    "max": Rule(None, _extremum("max"), _lower_extremum(b.maximum, _largest)),
    "min": Rule(None, _extremum("min"), _lower_extremum(b.minimum, _smallest)),
    "sum": Rule(None, _reduction("sum"), _along(_sum_over)),
    "mean": Rule(None, _reduction("mean"), _along(_mean_over)),
    "logsumexp": Rule(None, _reduction("logsumexp"), _along(b.logsumexp)),
    "ismax": Rule(None, _marked("ismax"), _along(b.ismax)),
    "softmax": Rule(None, _along_dimension("softmax"), _along(_softmax)),
    "logsoftmax": Rule(None, _along_dimension("logsoftmax"), _along(_logsoftmax)),
    "size": Rule(None, _size, _lower_size),
    "numel": Rule(1, _to_scalar, lambda args, result: _numel(args[0][0].shape)),
    "norm1": Rule(1, _to_scalar, _unary(lambda x: b.sum_all(b.apply("abs", x)))),
    "norm2": Rule(1, _to_scalar, _unary(b.norm2)),
    "unit": Rule(1, _same, _unary(b.unit)),
    "tr": Rule(1, _square(lambda t: SCALAR), _unary(lambda x: b.contract([(x, ("i", "i"))], ()))),
    "det": Rule(1, _square(lambda t: SCALAR), _unary(b.det)),
    "cofactor": Rule(None, _cofactor, _lower_cofactor),
    "logdet": Rule(1, _square(lambda t: SCALAR), _unary(b.logdet)),
    "inv": Rule(1, _square(lambda t: t), _unary(b.inv)),
    "diag": Rule(1, _diag, _lower_diag),
    "vector": Rule(None, _filled(1), lambda args, result: b.broadcast_to(args[0][0], result.dims)),
    "matrix": Rule(None, _filled(2), lambda args, result: b.broadcast_to(args[0][0], result.dims)),
    "eye": Rule(None, _eye, lambda args, result: b.delta(result.dims[0])),
    "einsum": Rule(None, _einsum, _lower_einsum),
}

# inf and nan let every constant the printer meets be written back as text (-inf is the negation of inf)
CONSTANTS = {"pi": math.pi, "inf": math.inf, "nan": math.nan}
