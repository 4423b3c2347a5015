"""The plan is shared, not borrowed: code generation and evaluation both import plan/, plan/ imports neither, and
evaluation never imports code generation (docs/architecture.md)."""
from test_imports import PACKAGE, _graph, _reachable

FORBIDDEN = {
    "plan": ("numeric", "codegen"),
    "numeric": ("codegen",),
}


def test_plan_and_numeric_do_not_import_upwards():
    graph = _graph()
    offenders = []
    for layer, above in FORBIDDEN.items():
        for module in (m for m in graph if m.startswith(f"{PACKAGE}.{layer}")):
            reached = _reachable(graph, module)
            offenders += [f"{module} imports {r}" for r in sorted(reached)
                          if any(r.startswith(f"{PACKAGE}.{up}") for up in above)]
    assert not offenders, "\n".join(offenders)


def test_both_users_of_the_plan_import_it():
    graph = _graph()
    assert f"{PACKAGE}.plan.contract" in graph[f"{PACKAGE}.numeric.evaluate"]
    assert f"{PACKAGE}.plan.contract" in graph[f"{PACKAGE}.codegen.contract"]
    assert f"{PACKAGE}.plan.rewrite" in graph[f"{PACKAGE}.codegen.emit"]
