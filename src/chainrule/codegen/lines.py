"""A generated module's text within the project's linter: no line longer than LINE_WIDTH, and a waiver of the
complexity limit where a function is long only because it is guarded statement by statement.

The writers emit one statement, condition, comment or docstring line at a time, some of which grow with the
expression (an 8-layer network's backward tests 17 of `ctx.needs_input_grad`'s flags in one `if`, unpacks 30 saved
tensors, and its formulas run to hundreds of characters). `fit_module` breaks each such line where Python, or the
reader, allows:

    code         after a comma inside brackets (a bare tuple is bracketed first: `a, b = f(x)` is `(a, b) = f(x)`)
    conditions   `if a or b or ...:` as `if (a or b` continued by `or c ...):`
    comments     cut, with "..." (the comment states a formula that the statement above computes anyway)
    docstrings   after a space, or in a formula after an operator or a comma
"""
from __future__ import annotations

import ast

from .emit import LINE_WIDTH, fit

COMPLEXITY = 10        # the project's mccabe limit (pyproject.toml); ruff counts if, for, while and except
BREAK_AFTER = "+-*,)"  # where a formula in a docstring may continue on the next line


def fit_module(source: str) -> str:
    """The module with every line fitted to LINE_WIDTH and the complexity limit waived where guards exceed it."""
    out: list[str] = []
    in_docstring = False
    for line in source.split("\n"):
        quotes = line.count('"""')
        if in_docstring or line.lstrip().startswith('"""'):
            out += _docstring_line(line)
            in_docstring ^= quotes % 2 == 1
        else:
            out += _code_line(line)
    return _waive_complexity("\n".join(out))


def _code_line(line: str) -> list[str]:
    if len(line) <= LINE_WIDTH:
        return [line]
    indent = line[:len(line) - len(line.lstrip())]
    text = line.strip()
    if text.startswith("#"):
        return [line[:LINE_WIDTH - 3] + "..."]
    if text.startswith("if ") and text.endswith(":") and " or " in _top_level(text[3:-1]):
        return _condition(_top_level_split(text[3:-1], " or "), indent)
    if text.startswith("return ") and "," in _top_level(text[7:]):
        return fit(f"{indent}return ({text[7:]})", indent + "    ")
    target, equals, value = text.partition(" = ")
    if equals and "," in _top_level(target):
        return fit(f"{indent}({target}) = {value}", indent + "    ")
    return fit(line, indent + "    ")


def _top_level(text: str) -> str:
    """The characters of text outside brackets: a comma among them makes a bare tuple, which Python does not
    continue on the next line until it is bracketed."""
    depth, kept = 0, []
    for c in text:
        depth += (c in "([{") - (c in ")]}")
        if depth == 0 and c not in ")]}":
            kept.append(c)
    return "".join(kept)


def _top_level_split(text: str, separator: str) -> list[str]:
    """text split at each `separator` outside brackets."""
    parts, depth, start, k = [], 0, 0, 0
    while k < len(text):
        depth += (text[k] in "([{") - (text[k] in ")]}")
        if depth == 0 and text.startswith(separator, k):
            parts.append(text[start:k])
            start = k = k + len(separator)
            continue
        k += 1
    return [*parts, text[start:]]


def _condition(tests: list[str], indent: str) -> list[str]:
    """`if (a or b` then `or c or d` ... `):`, each line filled up to LINE_WIDTH."""
    lines = [f"{indent}if ({tests[0]}"]
    for test in tests[1:]:
        if len(lines[-1]) + len(test) + 6 <= LINE_WIDTH:
            lines[-1] += f" or {test}"
        else:
            lines.append(f"{indent}        or {test}")
    lines[-1] += "):"
    return lines


def _docstring_line(line: str) -> list[str]:
    """A docstring line broken after a space or, inside a formula, after an operator or a comma; continued one
    level deeper."""
    indent = line[:len(line) - len(line.lstrip())]
    continued = indent + "    "
    out, rest = [], line
    while len(rest) > LINE_WIDTH:
        start = len(continued) + 8         # a break leaves something on each line
        spaces = [k for k in range(start, LINE_WIDTH + 1) if rest[k] == " "]
        operators = [k + 1 for k in range(start, LINE_WIDTH) if rest[k] in BREAK_AFTER]
        cut = max(spaces or operators or [LINE_WIDTH])
        out.append(rest[:cut].rstrip())
        rest = continued + rest[cut:].lstrip()
    return [*out, rest]


def _waive_complexity(source: str) -> str:
    """`# noqa: C901` on each function whose branches (each an `if` of needs_input_grad or an argument's check)
    exceed COMPLEXITY: straight-line code, guarded; counted as ruff's mccabe counts, so no waiver goes unused."""
    lines = source.split("\n")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef) and _complexity(node) > COMPLEXITY:
            lines[node.lineno - 1] += "  # noqa: C901"
    return "\n".join(lines)


def _complexity(function: ast.FunctionDef) -> int:
    count, stack = 1, list[ast.AST](function.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.FunctionDef):      # a nested function's branches count as its parent's
            count += _complexity(node) - 1
            continue
        count += isinstance(node, (ast.If, ast.For, ast.While, ast.ExceptHandler))
        stack.extend(ast.iter_child_nodes(node))
    return count
