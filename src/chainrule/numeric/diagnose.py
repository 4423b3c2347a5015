"""Where NaN and infinity come from: the first intermediate of an evaluation whose value is not finite, and why.

>>> import chainrule as cr
>>> print(cr.diagnose("sum(log(x-1))", {"x": [2.0, 0.5]}))
log(x-1) is the first intermediate to become NaN, at entry [1]: log of a negative number, log(-0.5)
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from ..ir import Node, Op, VarInfo, variables
from ..ir.ops import ELEMENTWISE_OPS
from .bind import bind
from .evaluate import Plan, node_text


@dataclass(frozen=True)
class NonFinite:
    """The first intermediate (in evaluation order) whose value has a NaN or an infinite entry.

    `text` is the intermediate as chainrule prints it, `value` the first bad entry ("NaN", "inf" or "-inf"), `index`
    that entry's position, `reason` what went wrong there ("log of a negative number", "overflow in exp", ...),
    `operands` the operands' values at that entry (element-wise operations) and `node` the IR node.
    """
    text: str
    value: str
    index: tuple[int, ...]
    reason: str
    operands: tuple[float, ...] = ()
    node: Node | None = field(default=None, compare=False, repr=False)

    def __str__(self) -> str:
        where = f", at entry {list(self.index)}" if self.index else ""
        return f"{self.text} is the first intermediate to become {self.value}{where}: {self.reason}"


def nonfinite_origin(node: Node, declared: Mapping[str, VarInfo], values: Mapping[str, object]) -> NonFinite | None:
    """Evaluate node at `values` (its variables `declared` name -> (shape, symmetric), as Expr.variables); when its
    value has NaN or infinite entries, the intermediate where they start (its operands all finite) and why; None when
    the value is finite. `chainrule.diagnose` is this for an Expr or text.

    An intermediate that is not finite only where a structural zero discards it (a Kronecker delta, a unit vector)
    does not make the value non-finite, and is not reported.
    """
    sizes, arrays = bind(declared, values, set(variables(node)))
    # id(node) -> (evaluation order, the report of where its non-finite entries start), for non-finite nodes only
    origins: dict[int, tuple[int, NonFinite]] = {}

    def visit(step: Node, value: np.ndarray, operands: list) -> None:
        value = np.asarray(value)
        if np.all(np.isfinite(value)):
            return
        inherited = [origins[id(a)] for a in step.args if id(a) in origins]
        origin = min(inherited, key=lambda entry: entry[0])[1] if inherited else \
            _report(step, value, operands, node_text(step))
        origins[id(step)] = (len(origins), origin)
    Plan(node, sizes).run(arrays, visit)
    root = origins.get(id(node))
    return None if root is None else root[1]


def first_nonfinite(exprs: Iterable, values: Mapping[str, object]) -> NonFinite | None:
    """The diagnosis of the first of exprs (Exprs: say a function, then its derivative) that has a non-finite value."""
    for expr in exprs:
        report = nonfinite_origin(expr.node, expr.variables, values)
        if report is not None:
            return report
    return None


def _report(node: Node, value: np.ndarray, operands: list, text: str) -> NonFinite:
    index = tuple(int(i) for i in np.argwhere(~np.isfinite(value))[0]) if value.ndim else ()
    bad = float(value[index])
    shown = "NaN" if np.isnan(bad) else ("inf" if bad > 0 else "-inf")
    at = _operands_at(node, operands, value.shape, index)
    return NonFinite(text, shown, index, _reason(node, at, bad), at, node)


def _operands_at(node: Node, operands: list, shape: tuple, index: tuple) -> tuple[float, ...]:
    # element-wise operations read their operands at the same entry (a scalar operand broadcasts)
    if node.op not in ELEMENTWISE_OPS:
        return ()
    return tuple(float(np.broadcast_to(x, shape)[index]) for x in operands)


def _number(x: float) -> str:
    return f"{x:.6g}"


def _log(x: float) -> str:
    return "log of zero" if x == 0 else "log of a negative number"


_MAP_REASONS: dict[str, Callable[[float], str]] = {
    "log": _log,
    "sqrt": lambda x: "square root of a negative number",
    "arcsin": lambda x: "arcsin of a number outside [-1, 1]",
    "arccos": lambda x: "arccos of a number outside [-1, 1]",
    "exp": lambda x: "overflow in exp",
    "tan": lambda x: "tan at a pole",
    "log1p": lambda x: "log1p of a number below -1" if x < -1 else "log1p of -1 (log of zero)",
    "expm1": lambda x: "overflow in expm1",
}


def _map_reason(node: Node, at: tuple, bad: float) -> str:
    fn = node.params.fn
    reason = _MAP_REASONS.get(fn, lambda x: "overflow" if not np.isnan(bad) else "undefined value")(at[0])
    return f"{reason}, {fn}({_number(at[0])})"


def _pow_reason(node: Node, at: tuple, bad: float) -> str:
    base, exponent = at
    if base == 0 and exponent < 0:
        reason = "division by zero"
    elif base < 0 and exponent == 0.5:
        reason = "square root of a negative number"
    elif base < 0 and not float(exponent).is_integer():
        reason = "a negative number to a non-integer power"
    else:
        reason = "overflow in a power"
    return f"{reason}, ({_number(base)})^({_number(exponent)})"


# Why a primitive's value is not finite where its operands are; the others say "<op> gave NaN" (REASONLESS).
_REASONS: dict[Op, Callable[[Node, tuple, float], str]] = {
    Op.VAR: lambda node, at, bad: f"the given value of {node.params.name} is {_word(bad)}",
    Op.CONST: lambda node, at, bad: "the constant is not a finite number",
    Op.MAP: _map_reason,
    Op.ADD: lambda node, at, bad: "overflow in a sum" if not np.isnan(bad) else "infinities of opposite signs added",
    Op.POW: _pow_reason,
    Op.CONTRACT: lambda node, at, bad: "overflow in a product or sum" if not np.isnan(bad)
    else "an overflow multiplied by zero",
    Op.LOGSUMEXP: lambda node, at, bad: "overflow in logsumexp",
    Op.INV: lambda node, at, bad: "inverse of a (nearly) singular matrix",
    Op.DET: lambda node, at, bad: "overflow in det",
    Op.LOGDET: lambda node, at, bad: "logdet of a matrix whose determinant is not positive",
}
# No reason of their own: delta and basis are always finite, max, min and amax wherever their operands are, ismax
# always (0 or 1); norm2, unit and cofactor scale or factorise their operand first, so they overflow only near the
# float range ("norm2 gave inf").
REASONLESS = frozenset({Op.DELTA, Op.BASIS, Op.MAX, Op.MIN, Op.AMAX, Op.ISMAX, Op.NORM2, Op.UNIT, Op.COFACTOR,
                        Op.STACK, Op.INDEX})   # stack and index move entries, finite where their operands are


def _word(x: float) -> str:
    return "NaN" if np.isnan(x) else "infinite"


def _reason(node: Node, at: tuple, bad: float) -> str:
    rule = _REASONS.get(node.op)
    return rule(node, at, bad) if rule is not None else f"{node.op} gave {_word(bad)}"
