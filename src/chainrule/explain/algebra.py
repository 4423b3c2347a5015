"""Small IR helpers for derivations: chain two Jacobians, substitute intermediates back, apply a layout.

Everything here builds nodes with the engine's normalising constructors, so a product of local Jacobians simplifies
exactly as the engine's own derivatives do.
"""
from __future__ import annotations

from ..calculus.layout import arrange  # the engine's own layout rules, so a derivation prints as derivative() does
from ..expr import Expr
from ..ir import Node, topological
from ..simplify import build as b


def compose(outer: Node, inner: Node, n_out: int) -> Node:
    """The chain-rule product of d a/d m (shape A+M) and d m/d x (shape M+X): contract the M indices.

    >>> compose(b.const(2.0), b.var("x", ()), 0) is b.mul(b.const(2.0), b.var("x", ()))
    True
    """
    n_mid = outer.rank - n_out
    n_in = inner.rank - n_mid
    a = tuple(range(n_out))
    m = tuple(range(n_out, n_out + n_mid))
    x = tuple(range(n_out + n_mid, n_out + n_mid + n_in))
    return b.contract([(outer, a + m), (inner, m + x)], a + x)


def mentions(node: Node, name: str) -> bool:
    return any(n.op == "var" and n.params.name == name for n in topological([node]))


def in_layout(node: Node, n_f: int, n_x: int, layout: str, variables: dict) -> Expr:
    """A numerator-layout Jacobian (shape F+X) shown in `layout`, oriented as `chainrule.derivative` orients it."""
    node, orient = arrange(node, n_f, n_x, 1, layout)
    return Expr(node, orient, variables)


def dims_text(dims: tuple) -> str:
    return "×".join(str(d) for d in dims) if dims else "1"


def jacobian_shape(f_dims: tuple, x_dims: tuple, layout: str) -> str:
    """The generalized Jacobian's shape, (M1×…×MDy)×(N1×…×NDx), with x's part first in the denominator layout."""
    parts = [f_dims, x_dims] if layout != "denominator" else [x_dims, f_dims]
    return "×".join(f"({dims_text(p)})" if len(p) > 1 else dims_text(p) for p in parts)


def kind_text(dims: tuple, orient: str | None = None) -> str:
    if not dims:
        return "scalar"
    if len(dims) == 1:
        side = f"{orient} " if orient in ("row", "col") else ""
        return f"{side}vector ({dims[0]})".replace("col vector", "column vector")
    if len(dims) == 2:
        return f"matrix ({dims_text(dims)})"
    return f"rank-{len(dims)} tensor ({dims_text(dims)})"
