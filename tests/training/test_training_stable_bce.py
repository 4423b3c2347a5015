"""The training loop on binary cross-entropy in the textbook spelling, with logits of several hundred (issue 9,
item 5): every loss and step is finite and equals PyTorch's binary_cross_entropy_with_logits run, step by step."""
import numpy as np
import pytest

import chainrule.training as tr

TEXTBOOK_BCE = "-sum(y.*log(sigmoid(X*w+b)) + (1-y).*log(1-sigmoid(X*w+b)))"


def _data(n: int = 12, seed: int = 3) -> dict:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 2)) * 300.0          # logits up to about ±1000 at the start
    return {"X": X, "y": (rng.uniform(size=n) < 0.5).astype(float)}   # labels unrelated to X: many are wrong


def _torch_run(init: dict, data: dict, lr: float, steps: int) -> list[float]:
    torch = pytest.importorskip("torch")
    p = {k: torch.tensor(np.asarray(v, dtype=float), dtype=torch.float64, requires_grad=True) for k, v in init.items()}
    X, y = torch.tensor(data["X"]), torch.tensor(data["y"])
    losses = []
    for _ in range(steps + 1):
        loss = torch.nn.functional.binary_cross_entropy_with_logits(X @ p["w"] + p["b"], y, reduction="sum")
        losses.append(float(loss.detach()))
        loss.backward()
        with torch.no_grad():
            for v in p.values():
                v.sub_(lr * v.grad)
                v.grad = None
    return losses


def test_textbook_bce_with_large_logits_stays_finite_and_matches_torch():
    init, data = {"w": np.array([2.0, -1.5]), "b": 0.5}, _data()
    logits = data["X"] @ init["w"] + init["b"]
    assert np.max(np.abs(logits)) > 500
    result = tr.train(TEXTBOOK_BCE, init, data, lr=1e-4, steps=25)
    assert all(np.isfinite(result.losses)) and all(np.all(np.isfinite(v)) for v in result.params.values())
    assert result.losses[0] > 1000 and result.losses[-1] < result.losses[0]
    np.testing.assert_allclose(result.losses, _torch_run(init, data, 1e-4, 25), rtol=1e-9)
