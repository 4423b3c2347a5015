"""The README's batched walk-through ends by training its layer: that example runs as written and prints what the
README says it prints (extracted from README.md, so the two cannot drift)."""
import contextlib
import io
import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def _training_example() -> tuple[str, list[str]]:
    section = README.read_text(encoding="utf-8").split("## A batched layer, end to end", 1)[1].split("\n## ", 1)[0]
    (code,) = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    shown = [line[2:] for line in code.splitlines() if line.startswith("# ")]
    return code, shown


def test_the_batched_layer_trains_as_the_readme_shows():
    code, shown = _training_example()
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, str(README), "exec"), {})
    assert printed.getvalue().splitlines() == shown
    assert shown[-1].endswith("True")        # b recovered
