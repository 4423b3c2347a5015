"""examples/tensor_chain_rule.py runs and every route to the gradient agrees."""
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tensor_chain_rule.py"


def test_example_runs_and_agrees():
    result = subprocess.run([sys.executable, str(EXAMPLE)], capture_output=True, text=True, check=False, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
    out = result.stdout
    assert out.count("∇_X Y_j =") == 4                      # one matrix per index tuple of the 2×2 Y
    assert "Σ_j (∇_X Y_j) ∂z/∂Y_j" in out and "(∂y/∂x)' ∇_y z" in out and "sum of the copies" in out
    assert "MISMATCH" not in out and out.rstrip().endswith("Every route gives the same gradient.")
