"""Imports point one way (docs/architecture.md): no import inside a function body except the optional dependencies,
and no cycle in the graph of the package's module-level imports. Read from the source (AST), nothing is imported."""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = "chainrule"
ROOT = Path(__file__).resolve().parents[1] / "src" / PACKAGE
# Optional dependencies: imported where they are used, so that chainrule works without them.
LAZY_ALLOWED = frozenset({"graphviz", "matplotlib", "latex2mathml"})
FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


def _modules() -> dict[str, Path]:
    """Dotted module name -> file; a package is named by its __init__.py."""
    found = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = (PACKAGE, *path.relative_to(ROOT).with_suffix("").parts)
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = _modules()


def _imports(tree: ast.Module) -> tuple[list[ast.stmt], list[ast.stmt]]:
    """The import statements run when the module is imported, and those inside function bodies. An import under
    `if TYPE_CHECKING:` counts as run: what the type checker needs is a dependency too."""
    top: list[ast.stmt] = []
    inner: list[ast.stmt] = []
    stack: list[tuple[ast.AST, bool]] = [(tree, False)]
    while stack:
        node, in_function = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            (inner if in_function else top).append(node)
        stack.extend((child, in_function or isinstance(node, FUNCTIONS)) for child in ast.iter_child_nodes(node))
    return top, inner


def _base(module: str, path: Path, statement: ast.ImportFrom) -> str:
    """The absolute name `from <base> import ...` refers to."""
    if statement.level == 0:
        return statement.module or ""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    anchor = package[:len(package) - statement.level + 1]
    return ".".join(anchor + ([statement.module] if statement.module else []))


def _targets(module: str, path: Path, statement: ast.stmt) -> list[str]:
    """The package's modules an import statement runs: `from pkg import sub` names the submodule pkg.sub."""
    if isinstance(statement, ast.Import):
        names = [alias.name for alias in statement.names]
    else:
        base = _base(module, path, statement)
        names = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in statement.names]
    return [name for name in dict.fromkeys(names) if name in MODULES]


def _graph() -> dict[str, set[str]]:
    graph = {}
    for module, path in MODULES.items():
        top, _ = _imports(ast.parse(path.read_text(encoding="utf-8")))
        graph[module] = {t for s in top for t in _targets(module, path, s) if t != module}
    return graph


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    """The modules an import of start runs (start itself only if it is on a cycle)."""
    seen: set[str] = set()
    stack = [start]
    while stack:
        for child in graph[stack.pop()]:
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return seen


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """A shortest cycle through each group of modules that import one another (a strongly connected component)."""
    reach = {module: _reachable(graph, module) for module in graph}
    components = {frozenset(m for m in reach[start] if start in reach[m]) for start in graph if start in reach[start]}
    return sorted(_cycle_in(graph, set(component)) for component in components)


def _cycle_in(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """A shortest path from the component's first module back to itself (breadth first)."""
    start = min(component)
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(graph[node] & component):
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return [*reversed(path), start]
                if child not in came_from:
                    came_from[child] = node
                    following.append(child)
        frontier = following
    return sorted(component)


def test_the_graph_sees_the_package():
    graph = _graph()
    assert len(MODULES) > 40 and f"{PACKAGE}.simplify.build" in graph[f"{PACKAGE}.simplify"]    # from . import build
    assert f"{PACKAGE}.simplify.contract" in graph[f"{PACKAGE}.simplify.build"]                 # from .contract import
    assert f"{PACKAGE}.ir" in graph[f"{PACKAGE}.simplify.contract"]                              # from ..ir import Node


def test_imports_in_functions_are_told_from_those_the_module_runs():
    source = ("import a\nif b:\n    import c\ndef f():\n    import d\n"
              "class E:\n    def g(self):\n        from . import h\n")
    top, inner = _imports(ast.parse(source))
    assert sorted(s.names[0].name for s in top) == ["a", "c"]
    assert sorted(s.names[0].name for s in inner) == ["d", "h"]


def test_the_cycle_finder_finds_cycles():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert _cycles(graph) == [["a", "b", "c", "a"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_inside_a_function_but_optional_dependencies():
    offenders = []
    for module, path in MODULES.items():
        _, inner = _imports(ast.parse(path.read_text(encoding="utf-8")))
        for statement in inner:
            names = ([a.name for a in statement.names] if isinstance(statement, ast.Import)
                     else [_base(module, path, statement) if statement.level else statement.module or ""])
            if any(name.split(".")[0] not in LAZY_ALLOWED for name in names):
                offenders.append(f"{path.relative_to(ROOT.parent)}:{statement.lineno} imports {', '.join(names)}")
    assert not offenders, "imports inside functions (move them to the top; only optional dependencies may be " \
                          "imported lazily):\n" + "\n".join(offenders)


def test_module_imports_have_no_cycles():
    cycles = _cycles(_graph())
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)
