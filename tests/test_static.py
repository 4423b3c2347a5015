"""The type checker and the linter, as part of the test suite (so the README's test command runs them, and .ci/run).

Their settings are in pyproject.toml ([tool.mypy], [tool.ruff]); their versions are pinned in the `test` extra, so a
new release cannot change the verdict on unchanged code.
"""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *command], cwd=ROOT, capture_output=True, text=True, timeout=600,
                          check=False)


def test_mypy_finds_no_error_in_the_package():
    result = _run("mypy", "--no-error-summary")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_finds_nothing_in_the_package_tests_and_benchmarks():
    result = _run("ruff", "check", "--no-cache", "src", "tests", "benchmarks")
    assert result.returncode == 0, result.stdout + result.stderr
