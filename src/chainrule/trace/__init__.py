"""Backpropagation you can watch: every value, upstream gradient, local Jacobian and downstream gradient of the chain
rule for one expression at one point, in reverse or forward mode, checked against `derivative` and finite differences.

>>> from chainrule.trace import trace
>>> print(trace("sum(exp(x))", "x", at={"x": [0.0, 1.0]}).gradients[0].backprop)
[1.         2.71828183]
"""
from .compute import MODES, Trace, trace
from .model import BackwardStep, Directional, Edge, Gradient, Local, Step, Sum, TangentStep
from .schema import SCHEMA_VERSION

__all__ = ["MODES", "SCHEMA_VERSION", "BackwardStep", "Directional", "Edge", "Gradient", "Local", "Step", "Sum",
           "TangentStep", "Trace", "trace"]
