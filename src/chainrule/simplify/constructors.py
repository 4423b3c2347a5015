"""The constructors that rewrite rules build their results with, passed in as a record.

The rules (simplify/contract.py, simplify/stable.py) run inside build.py's constructors and build their results with
those same constructors, so that a result is itself in normal form. build.py passes them in as `Constructors`; the
rules never import build.py, and the dependency points one way: build -> contract, stable -> constructors.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from ..ir import Node, Shape


class Constructors(NamedTuple):
    """build.py's constructors of the same names (build.CONSTRUCTORS)."""
    apply: Callable[[str, Node], Node]            # fn(x) element-wise
    broadcast_to: Callable[[Node, Shape], Node]   # a scalar repeated over a shape
    const: Callable[..., Node]                    # const(value, shape=())
    neg: Callable[[Node], Node]                   # -x
    power: Callable[[Node, Node], Node]           # x.^p
