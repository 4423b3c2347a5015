"""Generated NumPy, PyTorch and JAX code for an expression and its derivatives.

- targets.py: how each library writes each operation (the element-wise functions, linear algebra, pieces of products);
- contract.py: a contract node's code, from the plan of plan/contract.py (pairwise order by flops, matmul / solve /
  tensordot);
- emit.py: EMIT, the code of each primitive, and Program, the straight-line code of a set of roots (large dead
  temporaries deleted in NumPy and plain torch functions);
- module.py: the three module layouts; command.py: `chainrule codegen`.
"""
from __future__ import annotations

import importlib.util
import linecache
import types
from collections.abc import Mapping, Sequence

from ..expr import Expr
from .emit import CodegenError
from .module import generate, request
from .targets import TARGETS

__all__ = ["TARGETS", "CodegenError", "load", "source"]


def source(f: Expr, wrt: Sequence[str], target: str = "numpy", name: str | None = None, hessian: bool = False,
           hvp: bool = False, sizes: Mapping[str, int] | None = None, jvp: bool = False) -> str:
    """The source of the generated module (see chainrule.codegen.module).

    >>> import chainrule as cr
    >>> "def grad(x, A):" in source(cr.parse("x'*A*x"), ["x"])
    True
    """
    return generate(request(f, wrt, target, name, hessian, hvp, sizes, jvp))


def load(text: str, module_name: str = "chainrule_generated") -> types.ModuleType:
    """The module whose source is `text`, loaded as an import would (its source registered for tracebacks)."""
    filename = f"<chainrule codegen {module_name}>"
    spec = importlib.util.spec_from_loader(module_name, loader=None, origin=filename)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    module.__file__ = filename
    linecache.cache[filename] = (len(text), None, text.splitlines(keepends=True), filename)
    code = compile(text, filename, "exec")
    exec(code, module.__dict__)
    return module
