"""What a trace holds: plain records of numbers, one per row of the tables it prints (trace/render.py, trace/schema.py).

Array conventions (numerator layout, as `derivative`): a local Jacobian du/da has shape u.shape + a.shape; an upstream
gradient df/du has shape f.shape + u.shape (for a scalar f it is shaped like u); a downstream gradient df/da has shape
f.shape + a.shape.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..numeric.check import CheckResult


@dataclass(frozen=True)
class Step:
    """One intermediate of the forward pass: u_k = op(operands), with its value."""
    name: str                    # "u3"
    op: str                      # "add", "max", "sum", ...
    formula: str                 # the operation on the operands' names: "u2+b"
    source: str                  # the subexpression as typed: "w'*x+b"
    operands: tuple[str, ...]    # "u2", a variable "x", or a constant's text "0"
    dims: tuple                  # the symbolic shape: ("n",), ("m", "n"), ()
    value: np.ndarray


@dataclass(frozen=True)
class Local:
    """The local Jacobian du/da of one node by one operand, as an expression in the operands and as numbers."""
    node: str
    operand: str
    jacobian: Any                # the same expression `derivative` builds for u.local (an Expr, or its text)
    value: np.ndarray            # shape u.shape + a.shape
    count: int = 1               # how often the operand occurs in the node (x.*x: 2); the local covers every occurrence

    @property
    def expression(self) -> str:
        """The Jacobian printed; only when asked (a summarised trace prints few of them)."""
        return self.jacobian if isinstance(self.jacobian, str) else self.jacobian.text()


@dataclass(frozen=True)
class Edge:
    """One arrow of the backward pass: downstream = upstream · local (a tensordot over u's indices)."""
    local: Local
    downstream: np.ndarray


@dataclass(frozen=True)
class BackwardStep:
    name: str
    upstream: np.ndarray         # df/du, the sum of what every consumer of u passed down
    edges: tuple[Edge, ...]


@dataclass(frozen=True)
class Sum:
    """Where gradients add up: one contribution per path into `name` (a consumer node, or "output"), and the total."""
    name: str
    parts: tuple[tuple[str, np.ndarray], ...]
    total: np.ndarray


@dataclass(frozen=True)
class TangentStep:
    """Forward mode: du = Σ_a (du/da) · da, one term per operand that carries a tangent."""
    name: str
    terms: tuple[tuple[str, np.ndarray], ...]
    locals: tuple[Local, ...]
    tangent: np.ndarray


@dataclass(frozen=True)
class Gradient:
    """The derivative of the output by one variable.

    It is given three ways: from the trace, from `derivative`, and the finite-difference check."""
    wrt: str
    expression: str              # derivative(f, wrt) printed
    symbolic: np.ndarray         # derivative(f, wrt).evaluate(values)
    backprop: np.ndarray | None  # accumulated by the backward pass (None in forward mode)
    difference: float | None     # max |backprop - symbolic|
    check: CheckResult


@dataclass(frozen=True)
class Directional:
    """Forward mode's result: the output's tangent J·v against `derivative` and a central difference along v."""
    tangent: np.ndarray
    symbolic: np.ndarray
    finite_difference: np.ndarray
    difference: float            # max |tangent - symbolic|
    fd_error: float              # max |tangent - finite difference|

    @property
    def ok(self) -> bool:
        scale = max(1.0, float(np.max(np.abs(self.symbolic))) if self.symbolic.size else 1.0)
        return bool(self.difference <= 1e-8 * scale and self.fd_error <= 1e-5 * scale)


@dataclass(frozen=True)
class TraceData:
    """Every number of one chain-rule computation. trace() returns it as a `Trace` (trace/compute.py), which prints
    itself; the printers (trace/render.py, trace/schema.py) read these fields."""
    expression: str
    mode: str                                  # "reverse" | "forward"
    wrt: tuple[str, ...]
    variables: dict                            # name -> symbolic dims
    values: dict                               # name -> array
    output: str                                # "u4", or the variable the expression is
    value: np.ndarray                          # the output's value
    forward: tuple[Step, ...]
    gradients: tuple[Gradient, ...]
    backward: tuple[BackwardStep, ...] = ()    # reverse mode, in reverse topological order
    sums: tuple[Sum, ...] = ()                 # reverse mode
    direction: dict = field(default_factory=dict)   # forward mode: name -> tangent of each wrt variable
    tangents: tuple[TangentStep, ...] = ()     # forward mode, in topological order
    directional: Directional | None = None     # forward mode
    name: str = "f"                            # what the tables call the output (another if a variable is f)
    limit: int | None = None                   # explain_steps when traced: longer traces print a summary
    not_finite: str | None = None              # where NaN or infinity first appears, and why (None: all finite)

    @property
    def summarised(self) -> bool:
        """Whether the printed tables keep only the first and last steps (more intermediates than the limit)."""
        return self.limit is not None and len(self.forward) > self.limit

    @property
    def ok(self) -> bool:
        """True when backprop agrees with `derivative` and every finite-difference check passes."""
        agree = all(g.difference is None or g.difference <= 1e-8 * _scale(g.symbolic) for g in self.gradients)
        checks = all(g.check.ok for g in self.gradients)
        return agree and checks and (self.directional is None or self.directional.ok)


def _scale(array: np.ndarray) -> float:
    return max(1.0, float(np.max(np.abs(array)))) if array.size else 1.0
