"""The closed set of primitives of the IR, and the parameters of those that have any.

Everything about one primitive is found by searching for its `Op` member: its parameters (PARAMS, here), its shape
rule (ir/shapes.py SHAPE_RULES, applied by ir/intern.py's make), its constructor (simplify/build.py), its evaluation
step (numeric/evaluate.py STEPS), its derivative rule (calculus/rules.py VJP), how it is rebuilt from new operands
(simplify/substitute.py REBUILD), how it prints (notation/from_ir.py _CONVERT) and why it can become NaN
(numeric/diagnose.py _REASONS). tests/ir/test_ops.py checks that every table has every member.

>>> Op("det") is Op.DET and Op.DET == "det"
True
>>> ContractParams(specs=((0, 1), (1,)), out=(0,)).specs
((0, 1), (1,))
"""
from __future__ import annotations

from enum import Enum
from typing import Any, NamedTuple


class Op(str, Enum):
    """A primitive. A str subclass that hashes as its value, so `node.op == "add"` and a table lookup by "add" still
    work; `f"{op}"` and `str(op)` give the value ("add"), as the printed messages expect."""

    # ---- leaves (no operands) ----
    VAR = "var"              # a variable (VarParams); its shape is the declared one
    CONST = "const"          # a tensor filled with one number (ConstParams), any shape
    DELTA = "delta"          # the identity matrix / Kronecker delta, shape (n, n)
    BASIS = "basis"          # the unit vector e_k (BasisParams), shape (n,)

    # ---- element-wise (a scalar operand broadcasts to the others' shape) ----
    MAP = "map"              # f(x) entry by entry, f one of ir/elementwise.py's ELEMENTWISE (MapParams)
    ADD = "add"              # n-ary sum
    POW = "pow"              # x.^p
    MAX = "max"              # max(x, y)
    MIN = "min"              # min(x, y)

    # ---- products ----
    CONTRACT = "contract"    # the generalized product: one einsum (ContractParams)

    # ---- building and taking apart (sizes along the stacked or restricted axes are numbers) ----
    STACK = "stack"          # operands of one rank side by side along an axis (StackParams): [x; y], [X, Y]
    INDEX = "index"          # entries picked or ranges kept, per axis (IndexParams): x(2), X(2, :), x(2:4)

    # ---- reductions ----
    LOGSUMEXP = "logsumexp"  # log(sum(exp(x))) over the axes of ReduceParams (all: a scalar), without overflow
    AMAX = "amax"            # the largest entry over the axes of ReduceParams (all: a scalar); min(x) is -amax(-x)
    ISMAX = "ismax"          # 1 where an entry is the largest over the axes of ReduceParams, else 0; shaped like x
    NORM2 = "norm2"          # the 2-norm (Frobenius for a matrix), scaled by the largest entry: a scalar
    UNIT = "unit"            # x/norm2(x), 0 at x = 0: the gradient of norm2, shaped like x

    # ---- linear algebra (square matrices) ----
    INV = "inv"              # the inverse
    DET = "det"              # the determinant
    LOGDET = "logdet"        # log(det(A)), NaN where det(A) <= 0
    COFACTOR = "cofactor"    # the k-th derivative tensor of det (CofactorParams), shape (n, n) * k

    __hash__ = str.__hash__  # hash as the value: a table keyed by Op answers a lookup by the plain string

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


class VarParams(NamedTuple):
    name: str
    symmetric: bool          # a symmetric matrix: A' = A (its indices may be listed in either order)


class ConstParams(NamedTuple):
    value: float             # every entry has this value


class BasisParams(NamedTuple):
    k: int                   # e_k: the position of its 1 (from 0)


class MapParams(NamedTuple):
    fn: str                  # a key of ir/elementwise.py's ELEMENTWISE


class StackParams(NamedTuple):
    axis: int                # the axis along which the operands follow one another (0: [x; y], 1: [X, Y])


class IndexParams(NamedTuple):
    """Per axis of the operand: an int k keeps entry k alone and drops the axis (x(2) is k = 1); a pair (start, stop)
    keeps entries start..stop-1, and (0, None) the whole axis (':'). Positions count from 0."""
    select: tuple[int | tuple[int, int | None], ...]


class ContractParams(NamedTuple):
    """sum over the labels not in `out` of prod_k args[k][specs[k]], with out's labels in order (einsum).

    Labels are small integers; an output label that no operand carries broadcasts (its size is the node's)."""
    specs: tuple[tuple[int, ...], ...]    # the labels of each operand's indices, one tuple per operand
    out: tuple[int, ...]                  # the labels of the result's indices


class ReduceParams(NamedTuple):
    """The operand's axes a reduction runs over (sorted, from 0); the result keeps the other axes, in order."""
    axes: tuple[int, ...]


class CofactorParams(NamedTuple):
    order: int               # k >= 1: D^k det (k = 1: the cofactor matrix, the transposed adjugate)


# The parameters of each primitive: a NamedTuple type, or None for a primitive without parameters (its params are ()).
PARAMS: dict[Op, type[Any] | None] = {
    Op.VAR: VarParams,
    Op.CONST: ConstParams,
    Op.DELTA: None,
    Op.BASIS: BasisParams,
    Op.MAP: MapParams,
    Op.ADD: None,
    Op.POW: None,
    Op.MAX: None,
    Op.MIN: None,
    Op.CONTRACT: ContractParams,
    Op.STACK: StackParams,
    Op.INDEX: IndexParams,
    Op.LOGSUMEXP: ReduceParams,
    Op.AMAX: ReduceParams,
    Op.ISMAX: ReduceParams,
    Op.NORM2: None,
    Op.UNIT: None,
    Op.INV: None,
    Op.DET: None,
    Op.LOGDET: None,
    Op.COFACTOR: CofactorParams,
}

LEAVES = frozenset({Op.VAR, Op.CONST, Op.DELTA, Op.BASIS})
# entry [i] of the result reads entry [i] of every operand (a scalar operand broadcasts)
ELEMENTWISE_OPS = frozenset({Op.MAP, Op.ADD, Op.POW, Op.MAX, Op.MIN})
# the leaves whose value is fixed by the node alone: a number, the identity, a unit vector
CONSTANT_LEAVES = frozenset({Op.CONST, Op.DELTA, Op.BASIS})
