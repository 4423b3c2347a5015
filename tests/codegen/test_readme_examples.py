"""The README's code-generation examples, run as written there (extracted from README.md, so they cannot drift):
NumPy Newton-CG with the generated HVP, a PyTorch layer trained through the generated backward, a JAX network under
jit through the generated JVP."""
import re
from pathlib import Path

import numpy as np
import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def examples() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Code generation\n"):]
    section = section[:section.index("\n## ", 1)]
    return re.findall(r"```python\n(.*?)```", section, re.DOTALL)


def run(code: str) -> dict:
    namespace: dict = {"__name__": "readme_example"}
    exec(compile(code, str(README), "exec"), namespace)
    return namespace


def example(word: str) -> str:
    found = [code for code in examples() if word in code]
    assert len(found) == 1, f"one README example uses {word}"
    return found[0]


def test_numpy_newton_cg_converges_with_the_generated_hvp():
    pytest.importorskip("scipy")
    ns = run(example("Newton-CG"))
    result, m = ns["result"], ns["m"]
    assert result.success and result.nit <= 20
    _, g = m.value_and_grad(ns["y"], ns["X"], result.x)
    assert np.linalg.norm(g) < 1e-6


def test_torch_layer_trains_through_the_generated_backward(capsys):
    pytest.importorskip("torch")
    ns = run(example("SoftmaxRegression"))
    losses = ns["losses"]
    assert losses[0] == pytest.approx(np.log(3)) and losses[-1] < 0.75 * losses[0]
    value = ns["model"](ns["X"], ns["Y"])
    assert type(value.grad_fn).__name__ == "ExpressionBackward"          # the generated autograd.Function
    assert_printed_as_commented(capsys, example("SoftmaxRegression"))


def test_jax_model_trains_under_jit(capsys):
    pytest.importorskip("jax")
    ns = run(example("jax.jit"))
    losses = ns["losses"]
    assert losses[-1] < 0.2 * losses[0]
    assert_printed_as_commented(capsys, example("jax.jit"))


def assert_printed_as_commented(capsys, code: str):
    """The README's comment after the print shows what the example prints."""
    printed = capsys.readouterr().out.strip()
    comment = re.search(r"print\(.*\)\s+# (.*)", code).group(1).strip()
    assert printed == comment
