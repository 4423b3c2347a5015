"""Every public function shows how it is used, and every docstring example of the package runs.

The examples run here, one test per module, rather than through pytest's --doctest-modules: that option would also
import every conftest.py of tests/ as a module named `conftest`, and two of them clash. The generated cr.<function>
examples are checked in tests/test_builder.py.
"""
import doctest
import importlib
import inspect
import io
import pkgutil

import pytest

import chainrule as cr

MODULES = sorted(m.name for m in pkgutil.walk_packages(cr.__path__, "chainrule."))


def test_every_public_function_has_a_docstring_with_an_example():
    functions = [name for name in cr.__all__ if inspect.isfunction(inspect.unwrap(getattr(cr, name)))]
    assert {"parse", "derivative", "hessian", "call", "scalar_var", "vector_var", "matrix_var", "exp"} <= set(functions)
    missing = [name for name in functions if ">>>" not in (inspect.getdoc(getattr(cr, name)) or "")]
    assert not missing, f"public functions without an example in their docstring: {missing}"


def test_the_package_has_examples_to_run():
    examples = sum(len(t.examples) for name in MODULES
                   for t in doctest.DocTestFinder().find(importlib.import_module(name), name))
    assert examples > 50


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    report = io.StringIO()
    for test in doctest.DocTestFinder().find(module, name):
        runner.run(test, out=report.write)
    assert runner.failures == 0, report.getvalue()
