"""Every public function shows how it is used; the examples themselves run as doctests (pyproject.toml: pytest's
--doctest-modules over src/chainrule; the generated cr.<function> examples in tests/test_builder.py)."""
import inspect

import chainrule as cr


def test_every_public_function_has_a_docstring_with_an_example():
    functions = [name for name in cr.__all__ if inspect.isfunction(inspect.unwrap(getattr(cr, name)))]
    assert {"parse", "derivative", "hessian", "call", "scalar_var", "vector_var", "matrix_var", "exp"} <= set(functions)
    missing = [name for name in functions if ">>>" not in (inspect.getdoc(getattr(cr, name)) or "")]
    assert not missing, f"public functions without an example in their docstring: {missing}"
