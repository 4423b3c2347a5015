"""The demos: a known neuron is recovered, the network's loss decreases, the loss curve is saved, the CLI runs."""
import io
import sys

import numpy as np
import pytest
from training_helpers import run_cli

import chainrule.training as tr


@pytest.mark.parametrize("w, b, seed", [
    ((1.5, -2.0, 0.5), 0.3, 0),
    ((0.7, -0.4, 1.1, -0.9, 0.2), -0.1, 1),
])
def test_training_recovers_a_known_neuron(w, b, seed):
    data = tr.relu_neuron_data(300, w=w, b=b, seed=seed)
    result = tr.train(tr.NEURON_LOSS, tr.neuron_init(len(w), seed=seed + 10), data, lr=0.5, steps=300)
    assert np.max(np.abs(result.params["w"] - np.array(w))) < 1e-4
    assert abs(result.params["b"] - b) < 1e-4


def test_neuron_demo_recovers_its_neuron():
    demo = tr.neuron_demo(plot=False, out=io.StringIO())
    for name, value in demo.truth.items():
        assert np.max(np.abs(demo.training.params[name] - value)) < 1e-4


def test_mlp_demo_loss_decreases():
    out = io.StringIO()
    demo = tr.mlp_demo(steps=300, plot=False, out=out)
    losses = np.array(demo.training.losses)
    assert np.all(np.diff(losses) < 0)
    assert losses[-1] < losses[0] / 20
    assert losses[-1] < np.var(demo.data["y"]) / 10  # far better than predicting the mean
    assert "step 300  loss" in out.getvalue()


def test_demo_prints_the_derived_gradients_and_progress():
    out = io.StringIO()
    tr.neuron_demo(steps=20, plot=False, out=out)
    text = out.getvalue()
    assert "dC/dw = -2*((y-max(0, X*w+b)).*step(X*w+b))'*X/N" in text
    assert "step  0  loss" in text and "step 20  loss" in text


def test_loss_curve_is_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    path = tr.save_loss_curve([1.0, 0.5, 0.25], tmp_path / "loss.png")
    assert path.read_bytes().startswith(b"\x89PNG")


def test_no_matplotlib_no_plot_and_no_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # makes the import fail
    assert tr.save_loss_curve([1.0, 0.5], tmp_path / "loss.png") is None
    out = io.StringIO()
    demo = tr.neuron_demo(steps=5, plot=tmp_path / "n.png", out=out)
    assert demo.plot is None and "no loss curve saved" in out.getvalue()
    assert not (tmp_path / "n.png").exists()


def test_cli_demo_neuron(tmp_path, capsys):
    plot = tmp_path / "neuron.png"
    assert run_cli(["demo", "neuron", "--steps", "30", "--lr", "0.4", "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    assert "learning rate 0.4, 30 steps" in out and "step 30  loss" in out and "learned w" in out
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return
    assert plot.read_bytes().startswith(b"\x89PNG")


def test_cli_demo_mlp_without_plot(capsys):
    assert run_cli(["demo", "mlp", "--steps", "5", "--no-plot"]) == 0
    out = capsys.readouterr().out
    assert "step 5  loss" in out and "loss curve" not in out


def test_cli_demo_needs_a_choice(capsys):
    with pytest.raises(SystemExit):
        run_cli(["demo", "nothing"])
    assert "invalid choice" in capsys.readouterr().err
