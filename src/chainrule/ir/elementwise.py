"""The element-wise functions: one row each, holding everything about the function.

`derivative(b, x, y)` returns f'(x) given the argument x and the value y = f(x), built with the normalising
constructors in `b` (chainrule.simplify.build), so the derivative rule is itself an expression of the IR.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import erf as _erf


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # 1/(1+exp(-x)) for x >= 0 and exp(x)/(1+exp(x)) below: one exp of a non-positive number, never overflows
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0, e) / (1.0 + e)


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x)


def _step(x: np.ndarray) -> np.ndarray:
    return (np.asarray(x) > 0).astype(float)


@dataclass(frozen=True)
class Elementwise:
    name: str
    numpy: Callable[[np.ndarray], np.ndarray]
    derivative: Callable  # (b, x, y) -> node, the element-wise derivative f'(x)
    latex: str


def _row(name, numpy, derivative, latex=None) -> Elementwise:
    return Elementwise(name, numpy, derivative, latex or rf"\{name}")


ELEMENTWISE: dict[str, Elementwise] = {e.name: e for e in [
    _row("exp", np.exp, lambda b, x, y: y),                                          # (e^x)' = e^x
    _row("log", np.log, lambda b, x, y: b.power(x, b.const(-1.0))),                  # (ln x)' = 1/x
    _row("sin", np.sin, lambda b, x, y: b.apply("cos", x)),
    _row("cos", np.cos, lambda b, x, y: b.neg(b.apply("sin", x))),
    _row("tan", np.tan, lambda b, x, y: b.add(b.const(1.0), b.power(y, b.const(2.0)))),  # 1 + tan^2
    _row("arcsin", np.arcsin,
         lambda b, x, y: b.power(b.sub(b.const(1.0), b.power(x, b.const(2.0))), b.const(-0.5))),
    _row("arccos", np.arccos,
         lambda b, x, y: b.neg(b.power(b.sub(b.const(1.0), b.power(x, b.const(2.0))), b.const(-0.5)))),
    _row("arctan", np.arctan,
         lambda b, x, y: b.power(b.add(b.const(1.0), b.power(x, b.const(2.0))), b.const(-1.0))),
    _row("tanh", np.tanh, lambda b, x, y: b.sub(b.const(1.0), b.power(y, b.const(2.0)))),  # 1 - tanh^2
    _row("sqrt", np.sqrt, lambda b, x, y: b.mul(b.const(0.5), b.power(y, b.const(-1.0)))),
    # Piecewise functions take the derivative that holds almost everywhere; at the kink, 0 (as PyTorch does).
    _row("abs", np.abs, lambda b, x, y: b.apply("sign", x), r"\operatorname{abs}"),
    _row("sign", np.sign, lambda b, x, y: b.zeros(x.shape), r"\operatorname{sign}"),
    _row("relu", lambda x: np.maximum(x, 0.0), lambda b, x, y: b.apply("step", x), r"\operatorname{relu}"),
    _row("step", _step, lambda b, x, y: b.zeros(x.shape), r"\operatorname{step}"),
    _row("sigmoid", _sigmoid, lambda b, x, y: b.mul(y, b.sub(b.const(1.0), y)), r"\sigma"),  # s(1-s)
    # softplus(x) = log(1 + exp(x)) = max(x, 0) + log(1 + exp(-|x|)): finite for every finite x; (softplus)' = sigmoid
    _row("softplus", _softplus, lambda b, x, y: b.apply("sigmoid", x), r"\operatorname{softplus}"),
    # log1p(x) = log(1+x) and expm1(x) = exp(x)-1, exact near 0 where 1+x rounds: log1p' = 1/(1+x), expm1' = exp(x)
    _row("log1p", np.log1p, lambda b, x, y: b.power(b.add(b.const(1.0), x), b.const(-1.0)), r"\operatorname{log1p}"),
    _row("expm1", np.expm1, lambda b, x, y: b.apply("exp", x), r"\operatorname{expm1}"),
    # the error function (exact GELU is 0.5*x.*(1+erf(x/sqrt(2)))): erf' = 2/sqrt(pi) * exp(-x^2)
    _row("erf", _erf, lambda b, x, y: b.mul(b.const(2.0 / math.sqrt(math.pi)),
                                           b.apply("exp", b.neg(b.power(x, b.const(2.0))))), r"\operatorname{erf}"),
]}
