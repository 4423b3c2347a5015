"""Every operator and function of the input language: its type rule and its lowering to the IR, side by side."""
from __future__ import annotations

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
from .surface import Syntax
from .types import SCALAR, DimVar, SType, Unifier, from_2d, show_dims

Lowered = tuple[Node, SType]


class TypeFailure(Exception):
    """A shape rule failed at `node`; `blame` are the operands whose undeclared variables could be re-kinded."""

    def __init__(self, message: str, node: Syntax, hint: str | None = None, blame: tuple = ()):
        super().__init__(message)
        self.message, self.node, self.hint, self.blame = message, node, hint, blame
        self.clash: tuple | None = None      # set by inference: two fixed sizes that failed to unify


@dataclass
class Ctx:
    unifier: Unifier
    text: str = ""

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
    def check(ctx: Ctx, node: Syntax, args: list[SType]) -> SType:
        x, y = args
        if x.rank == 0 or y.rank == 0:
            return y if x.rank == 0 else x
        if ctx.unifier.same(x, y):
            return x
        raise TypeFailure(
            f"'{symbol}' needs operands of the same shape, or a scalar: "
            f"'{ctx.source(node.args[0])}' is a {ctx.show(x)}, '{ctx.source(node.args[1])}' a {ctx.show(y)}",
            node, "Transpose one side with ' or declare the shapes, e.g. parse(text, x=('n',)).", node.args)
    return check


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


def _scalar_args(ctx: Ctx, node: Syntax, args: list[SType]) -> SType:
    for arg, t in zip(node.args, args, strict=True):
        if t.rank != 0:
            raise TypeFailure(f"the entries of [f1; f2; ...] must be scalars, but '{ctx.source(arg)}' is a "
                              f"{ctx.show(t)}", arg, "Stacking vectors is not supported yet.", (arg,))
    return SType((len(args),), "col")


def _einsum(ctx: Ctx, node: Syntax, args: list[SType]) -> SType:
    spec, operands = _einsum_spec(node)
    if len(operands) != len(args) - 1:
        raise TypeFailure(f"einsum spec '{spec}' names {len(operands)} operands but {len(args) - 1} are given", node)
    sizes: dict[str, object] = {}
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
        if kind == "scalar" or t.rank == 0:
            labels = tuple(next(fresh) for _ in range(t.rank))
            ops.append((node, labels))
            out, kind = (labels, _kind(t)) if kind == "scalar" else (out, kind)
            continue
        r = out[0] if kind in ("col", "matrix") else None
        k = {"row": out[0], "matrix": out[-1]}.get(kind, next(fresh))
        c = next(fresh) if t.rank == 2 or t.orient == "row" else None
        ops.append((node, (k, c) if t.rank == 2 else (k,) if t.orient == "col" else (c,)))
        out = tuple(label for label in (r, c) if label is not None)
        kind = {2: "matrix", 0: "scalar"}.get(len(out), "col" if r is not None else "row")
    return b.contract(ops, out)


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
    n = len(args)
    return b.add(*(b.mul(x, b.basis(k, n)) for k, (x, _) in enumerate(args)))


def _lower_einsum(args: list[Lowered], result: SType) -> Node:
    spec = args[0][0]
    inputs, out = spec.split("->")
    operands = [(x, tuple(letters)) for (x, _), letters in zip(args[1:], inputs.split(",") if inputs else [],
                                                               strict=True)]
    return b.contract(operands, tuple(out), dict(zip(out, result.dims, strict=True)))


def _unary(f: Callable[[Node], Node]) -> Lower:
    return lambda args, result: f(args[0][0])


def _binary(f: Callable[[Node, Node], Node]) -> Lower:
    return lambda args, result: f(args[0][0], args[1][0])


def _softmax(x: Node) -> Node:
    return b.apply("exp", b.sub(x, b.logsumexp(x)))


OPERATORS: dict[str, Rule] = {
    "add": Rule(2, _same_shape("+"), _binary(b.add)),
    "sub": Rule(2, _same_shape("-"), _binary(b.sub)),
    "emul": Rule(2, _same_shape(".*"), _binary(b.mul)),
    "ediv": Rule(2, _same_shape("./"), _binary(b.div)),
    "epow": Rule(2, _same_shape(".^"), _binary(b.power)),
    "mul": Rule(2, _product, _lower_product),
    "div": Rule(2, _scalar_divisor, _binary(b.div)),
    "pow": Rule(2, _power, _lower_power),
    "neg": Rule(1, _same, _unary(b.neg)),
    "transpose": Rule(1, _transpose, _lower_transpose),
    "stack": Rule(None, _scalar_args, _lower_stack),
}

FUNCTIONS: dict[str, Rule] = {
    **{name: Rule(1, _same, _unary(lambda x, name=name: b.apply(name, x))) for name in ELEMENTWISE},
    "ln": Rule(1, _same, _unary(lambda x: b.apply("log", x))),
    "max": Rule(2, _same_shape("max"), _binary(b.maximum)),
    "min": Rule(2, _same_shape("min"), _binary(b.minimum)),
    "sum": Rule(1, _to_scalar, _unary(b.sum_all)),
    "norm1": Rule(1, _to_scalar, _unary(lambda x: b.sum_all(b.apply("abs", x)))),
    "norm2": Rule(1, _to_scalar, _unary(b.norm2)),
    "unit": Rule(1, _same, _unary(b.unit)),
    "tr": Rule(1, _square(lambda t: SCALAR), _unary(lambda x: b.contract([(x, ("i", "i"))], ()))),
    "det": Rule(1, _square(lambda t: SCALAR), _unary(b.det)),
    "cofactor": Rule(None, _cofactor, _lower_cofactor),
    "logdet": Rule(1, _square(lambda t: SCALAR), _unary(b.logdet)),
    "inv": Rule(1, _square(lambda t: t), _unary(b.inv)),
    "diag": Rule(1, _diag, _lower_diag),
    "softmax": Rule(1, _vector_or_matrix, _unary(_softmax)),
    "logsumexp": Rule(1, _to_scalar, _unary(b.logsumexp)),
    "vector": Rule(None, _filled(1), lambda args, result: b.broadcast_to(args[0][0], result.dims)),
    "matrix": Rule(None, _filled(2), lambda args, result: b.broadcast_to(args[0][0], result.dims)),
    "eye": Rule(None, _eye, lambda args, result: b.delta(result.dims[0])),
    "einsum": Rule(None, _einsum, _lower_einsum),
}

# inf and nan let every constant the printer meets be written back as text (-inf is the negation of inf)
CONSTANTS = {"pi": math.pi, "inf": math.inf, "nan": math.nan}
