"""The validity pass over a whole graph, and the checking mode the test suite runs in.

`make` checks each node once, when it is first built; `validate` applies every node's rule again (as JAX's
`typecheck_jaxpr` re-checks a program), so a node that reached a graph another way is caught too. In checking mode
(`checking()`, or CHAINRULE_CHECK_SHAPES=1 in the environment, which the test suite sets) every Expr is validated
when it is made, and every evaluation step's value is compared with its node's shape (numeric/evaluate.py).
"""
from __future__ import annotations

import contextlib
import contextvars
import os
from collections.abc import Iterator

from .graph import topological
from .node import Node
from .shapes import check

# read once at import, so that the command-line runs the tests start in subprocesses check too
_checking: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "chainrule_checking", default=os.environ.get("CHAINRULE_CHECK_SHAPES") == "1")


@contextlib.contextmanager
def checking(enabled: bool = True) -> Iterator[None]:
    """Validate every Expr as it is made, and assert after every evaluation step that its value has the node's shape
    and a float dtype.

    >>> import chainrule as cr
    >>> with checking():
    ...     cr.parse("a+1+0*x").evaluate(a=1.0, x=[1.0, 2.0]).tolist()
    [2.0, 2.0]
    """
    token = _checking.set(enabled)
    try:
        yield
    finally:
        _checking.reset(token)


def checking_on() -> bool:
    return _checking.get()


def validate(root: Node) -> None:
    """InternalError at the first node of root's graph (operands first) that breaks its primitive's rule.

    >>> from chainrule.simplify import build as b
    >>> validate(b.det(b.var("A", ("n", "n"))))
    """
    for node in topological([root]):
        check(node)
