"""codegen/lines.py: long generated lines broken where Python (or the reader) allows, every line within the width,
the code unchanged in meaning, and the complexity waiver exactly where the limit is exceeded."""
import ast
import keyword

from hypothesis import given, settings
from hypothesis import strategies as st

from chainrule.codegen.emit import LINE_WIDTH
from chainrule.codegen.lines import COMPLEXITY, fit_module

NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,9}", fullmatch=True).filter(lambda name: not keyword.iskeyword(name))


def _function(statements: list[str]) -> str:
    return "def g(ctx, a, b):\n" + "\n".join(f"    {s}" for s in statements) + "\n    return a\n"


@settings(max_examples=60, deadline=None)
@given(st.lists(NAMES, min_size=2, max_size=40, unique=True), st.integers(0, 2))
def test_long_tuples_calls_and_conditions_fit_and_mean_the_same(names, kind):
    listed = ", ".join(names)
    statement = [f"{listed} = f({listed})", f"return {listed}",
                 f"if {' or '.join(f'ctx[{k}]' for k in range(len(names)))}:\n        pass"][kind]
    source = _function([statement])
    fitted = fit_module(source)
    assert all(len(line) <= LINE_WIDTH for line in fitted.split("\n"))
    assert ast.dump(ast.parse(fitted)) == ast.dump(ast.parse(source.replace(f"{listed} = f(", f"({listed}) = f(")
                                                                  if kind == 0 else source))


def test_comments_are_cut_and_docstrings_broken_keeping_every_word():
    formula = "+".join(f"tanh(W{k}*x)" for k in range(40))
    source = f'"""A module.\n\n    f = {formula}\n"""\n\n\ndef g(x):\n    # {formula}\n    return x\n'
    fitted = fit_module(source)
    assert all(len(line) <= LINE_WIDTH for line in fitted.split("\n"))
    docstring = ast.get_docstring(ast.parse(fitted))
    assert "".join(docstring.split()) == "".join(f"A module. f = {formula}".split())
    assert "    # " + formula[:LINE_WIDTH - 9] + "..." in fitted


def test_the_complexity_waiver_is_given_exactly_above_the_limit():
    for ifs in (COMPLEXITY - 1, COMPLEXITY):
        source = _function([f"if a[{k}]:\n        b = {k}" for k in range(ifs)])
        waived = "# noqa: C901" in fit_module(source)
        assert waived == (1 + ifs > COMPLEXITY)


def test_a_condition_is_broken_only_at_its_own_ors():
    tests = [f"g(ctx[{k}] or a, b)" for k in range(12)]
    source = _function([f"if {' or '.join(tests)}:\n        pass"])
    fitted = fit_module(source)
    assert all(len(line) <= LINE_WIDTH for line in fitted.split("\n"))
    assert ast.dump(ast.parse(fitted)) == ast.dump(ast.parse(source))
