"""`Expr`: an IR node together with what the user sees of it (orientation, the variables of its source)."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .boundary import mapping
from .ir import Node, VarInfo
from .ir import variables as ir_variables
from .language.types import SType
from .numeric.bind import bind
from .numeric.evaluate import Plan


class Expr:
    """A matrix expression or a derivative: print it, evaluate it, differentiate it again.

    >>> import chainrule as cr
    >>> f = cr.parse("x'*A*x")
    >>> str(cr.derivative(f, "x"))
    "x'*(A+A')"
    """

    __slots__ = ("_needed", "_plans", "node", "orient", "variables")

    def __init__(self, node: Node, orient: str | None = None, variables: Mapping[str, tuple] | None = None):
        self.node = node
        self.orient = orient if node.rank == 1 else None
        used = ir_variables(node)
        own = {name: VarInfo(v.shape, v.params[1]) for name, v in used.items()}
        self.variables = {n: VarInfo(*info) for n, info in (variables if variables is not None else own).items()}
        self._plans: dict = {}
        self._needed = frozenset(used)

    @property
    def shape(self) -> tuple:
        return self.node.shape

    @property
    def stype(self) -> SType:
        return SType(self.node.shape, self.orient or ("col" if self.node.rank == 1 else None))

    # ---- numbers ----
    def evaluate(self, values: Mapping[str, object] | None = None, /, **kwargs: object) -> np.ndarray:
        """The value as a NumPy array (0-d for a scalar), shape self.shape with the sizes of the given values, given
        as a mapping, as keywords, or both (the mapping serves a variable called `values` or `self`)."""
        given = {**mapping(values, "the values", "f.evaluate({'x': [1, 2]}) or f.evaluate(x=[1, 2])"), **kwargs}
        sizes, arrays = bind(self.variables, given, self._needed)
        key = tuple(sorted(sizes.items()))
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = Plan(self.node, sizes)
        return np.asarray(plan.run(arrays))

    # ---- printing ----
    def text(self, cse: bool = False) -> str:
        from .notation import render
        return render(self, "text", cse)

    def unicode(self, cse: bool = False) -> str:
        from .notation import render
        return render(self, "unicode", cse)

    def latex(self, cse: bool = False) -> str:
        from .notation import render
        return render(self, "latex", cse)

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:
        return f"<chainrule.Expr {self.text()} : {self.stype.kind} {self.shape}>"

    def _repr_latex_(self) -> str:
        return f"$${self.latex()}$$"

    # ---- building ----
    def _apply(self, op: str, *others: object) -> Expr:
        from .builder import apply
        return apply(op, self, *others)

    @property
    def T(self) -> Expr:
        return self._apply("transpose")

    def __matmul__(self, other): return self._apply("mul", other)
    def __rmatmul__(self, other): return self._apply("rmul", other)
    def __add__(self, other): return self._apply("add", other)
    def __radd__(self, other): return self._apply("radd", other)
    def __sub__(self, other): return self._apply("sub", other)
    def __rsub__(self, other): return self._apply("rsub", other)
    def __mul__(self, other): return self._apply("emul", other)
    def __rmul__(self, other): return self._apply("remul", other)
    def __truediv__(self, other): return self._apply("ediv", other)
    def __rtruediv__(self, other): return self._apply("rediv", other)
    def __pow__(self, other): return self._apply("epow", other)
    def __neg__(self): return self._apply("neg")
