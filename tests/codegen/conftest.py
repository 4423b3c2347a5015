import importlib.util
import itertools
from pathlib import Path

import pytest

import chainrule as cr

_counter = itertools.count()


@pytest.fixture(scope="session")
def generated(tmp_path_factory):
    """generated(text, wrt, decls, target, **options) -> the module, written to a file and imported as a user would
    (chainrule is not involved in running it); cached for the session."""
    folder: Path = tmp_path_factory.mktemp("generated")
    cache: dict = {}

    def make(text, wrt, decls, target, **options):
        key = (text, tuple(wrt), tuple(sorted(decls.items())), target, tuple(sorted(options.items())))
        if key not in cache:
            source = cr.codegen(cr.parse(text, **decls), list(wrt), target, **options)
            name = f"generated_{target}_{next(_counter)}"
            path = folder / f"{name}.py"
            path.write_text(source, encoding="utf-8")
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            module.SOURCE, module.PATH = source, path
            cache[key] = module
        return cache[key]
    return make
