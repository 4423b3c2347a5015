"""`demo classifier`: row-wise softmax cross-entropy trained on chainrule's gradients equals PyTorch's training at
every step (float64); accuracy rises far above chance; the command runs and refuses bad options clearly.

The torch models are written by hand with autograd and torch's own cross-entropy, independently of chainrule's
derivation: only the data, the initial weights, the learning rate and the number of steps are shared.
"""
import io
import subprocess
import sys

import numpy as np
import pytest
from training_helpers import run_cli, torch_descent

import chainrule as cr
import chainrule.training as tr

RTOL = 1e-9


def classes(Y):
    """The class of each one-hot row of Y."""
    return np.argmax(Y, axis=1)


def test_each_loss_is_the_cross_entropy_of_its_logits():
    # accuracy() evaluates CLASSIFIER_LOGITS: it must be the model the loss trains.
    for model, logits in tr.CLASSIFIER_LOGITS.items():
        assert tr.CLASSIFIER_LOSSES[model] == f"-sum(Y.*logsoftmax({logits}, 2))/size(X, 1)"


def torch_logits(model, p, X):
    torch = pytest.importorskip("torch")
    if model == "softmax":
        return X @ p["W"] + p["b"]
    return torch.tanh(X @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"]


def torch_sgd(model, init, data, lr, steps):
    """Losses before the first and after every step of p <- p - lr * p.grad, and the final parameters."""
    torch = pytest.importorskip("torch")
    F = pytest.importorskip("torch.nn.functional")
    params = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in init.items()}
    X = torch.tensor(data["X"], dtype=torch.float64)
    labels = torch.tensor(classes(data["Y"]))
    # F.cross_entropy is the mean over the rows
    return torch_descent(lambda p: F.cross_entropy(torch_logits(model, p, X), labels), params, lr, steps)


def random_init(model, seed, hidden=5):
    # Every weight random (the demo's start has zero scores), so the first steps already move every parameter.
    rng = np.random.default_rng(seed)
    if model == "softmax":
        return {"W": rng.standard_normal((2, 3)), "b": rng.standard_normal(3)}
    return {"W1": rng.standard_normal((2, hidden)), "b1": 0.5 * rng.standard_normal(hidden),
            "W2": rng.standard_normal((hidden, 3)), "b2": 0.5 * rng.standard_normal(3)}


def check_same_run(model, init, data, lr, steps):
    ours = tr.train(tr.CLASSIFIER_LOSSES[model], init, data, lr=lr, steps=steps)
    theirs, final = torch_sgd(model, init, data, lr, steps)
    np.testing.assert_allclose(ours.losses, theirs, rtol=RTOL, atol=0)
    for name, value in final.items():
        np.testing.assert_allclose(ours.params[name], value, rtol=RTOL, atol=1e-12)
    return ours


@pytest.mark.parametrize("model", ["softmax", "mlp"])
def test_demo_start_matches_torch_every_step(model):
    data = tr.blobs_data(90, seed=3)
    ours = check_same_run(model, tr.classifier_init(model, hidden=6, seed=4), data, lr=0.5, steps=100)
    assert ours.losses[0] == pytest.approx(np.log(3), rel=1e-15)   # zero scores: the uniform guess
    assert ours.losses[-1] < 0.3


@pytest.mark.parametrize("model, lr", [("softmax", 0.3), ("softmax", 1.5), ("mlp", 0.2), ("mlp", 1.0)])
def test_random_start_matches_torch_every_step(model, lr):
    check_same_run(model, random_init(model, seed=5), tr.blobs_data(60, seed=6, spread=1.5), lr=lr, steps=60)


@pytest.mark.parametrize("b", [[400.0, -300.0, 0.0], [500.1, 499.8, 500.3]], ids=["large gaps", "shared offset"])
def test_large_logits_stay_finite_and_match_torch(b):
    # Scores in the hundreds: exp overflows unless log-softmax shifts each row by its largest score.
    init = {"W": np.random.default_rng(7).standard_normal((2, 3)), "b": np.array(b)}
    ours = check_same_run("softmax", init, tr.blobs_data(45, seed=8), lr=0.5, steps=30)
    assert all(np.isfinite(ours.losses))


def test_gradients_at_a_point_equal_torch_autograd():
    torch = pytest.importorskip("torch")
    F = pytest.importorskip("torch.nn.functional")
    data = tr.blobs_data(30, seed=9)
    for model in ("softmax", "mlp"):
        init = random_init(model, seed=10)
        _, gradients = tr.derive(tr.CLASSIFIER_LOSSES[model], init, data)
        params = {k: torch.tensor(v, requires_grad=True) for k, v in init.items()}
        logits = torch_logits(model, params, torch.tensor(data["X"]))
        F.cross_entropy(logits, torch.tensor(classes(data["Y"]))).backward()
        for name, grad in gradients.items():
            np.testing.assert_allclose(grad.evaluate({**init, **data}), params[name].grad.numpy(),
                                       rtol=1e-10, atol=1e-14)


def numpy_accuracy(model, p, X, labels):
    hidden = X if model == "softmax" else np.tanh(X @ p["W1"] + p["b1"])
    scores = hidden @ p["W"] + p["b"] if model == "softmax" else hidden @ p["W2"] + p["b2"]
    return np.mean(np.argmax(scores, axis=1) == labels)


@pytest.mark.parametrize("model", ["softmax", "mlp"])
def test_accuracy_is_the_fraction_of_largest_scores_at_the_right_class(model):
    data = tr.blobs_data(50, seed=11)
    params = random_init(model, seed=12)
    expected = numpy_accuracy(model, params, data["X"], classes(data["Y"]))
    assert tr.accuracy(model, params, data) == expected


@pytest.mark.parametrize("model", ["softmax", "mlp"])
def test_accuracy_rises_far_above_chance(model):
    out = io.StringIO()
    demo = tr.classifier_demo(steps=60, model=model, n=150, seed=2, plot=False, out=out)
    labels = classes(demo.data["Y"])
    assert np.bincount(labels).tolist() == [50, 50, 50]
    final = tr.accuracy(model, demo.training.params, demo.data)
    assert final > 0.85 and demo.training.losses[-1] < demo.training.losses[0] / 4
    text = out.getvalue()
    assert "step  0  loss 1.098612289e+00  accuracy 33.3%" in text   # argmax of equal scores: class 0, a third
    assert f"final accuracy {final:.1%} ({round(final * 150)} of 150 points); a constant guess gets 33.3%" in text


@pytest.mark.parametrize("model", ["softmax", "mlp"])
def test_printed_loss_and_gradients_read_back_as_the_same_functions(model):
    out = io.StringIO()
    demo = tr.classifier_demo(steps=2, model=model, hidden=4 if model == "mlp" else None, n=30, plot=False, out=out)
    lines = dict(line.split(" = ", 1) for line in out.getvalue().splitlines() if " = " in line)
    values = {**random_init(model, seed=13, hidden=4), **demo.data}
    shapes = {name: value.shape for name, value in values.items()}
    printed = {"loss  C": demo.training.loss, **{f"dC/d{p}": g for p, g in demo.training.gradients.items()}}
    for label, expr in printed.items():
        np.testing.assert_allclose(cr.parse(lines[label], shapes).evaluate(values), expr.evaluate(values),
                                   rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("options, message", [
    ({"model": "svm"}, "unknown classifier model 'svm'"),
    ({"hidden": 5}, "softmax regression has no hidden layer"),
    ({"model": "mlp", "hidden": 0}, "hidden units must be a whole number >= 1"),
    ({"lr": -1.0}, "learning rate must be a finite number > 0"),
])
def test_bad_arguments_are_explained(options, message):
    with pytest.raises(tr.TrainingError, match=message):
        tr.classifier_demo(steps=2, plot=False, out=io.StringIO(), **options)


def test_cli_classifier_mlp_with_plot(tmp_path, capsys):
    plot = tmp_path / "classifier.png"
    assert run_cli(["demo", "classifier", "--model", "mlp", "--hidden", "4", "--steps", "20", "--lr", "0.3",
                    "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    assert "4 hidden (tanh)" in out and "learning rate 0.3, 20 steps" in out
    assert "step 20  loss" in out and "final accuracy" in out
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return
    assert plot.read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize("argv, message", [
    (["--model", "svm"], "invalid choice: 'svm'"),
    (["--hidden", "0"], "a number of hidden units is a whole number >= 1, not '0'"),
    (["--steps", "0"], "a number of steps is a whole number >= 1"),
    (["--plot", "x.png", "--no-plot"], "not allowed with argument"),
])
def test_cli_refuses_bad_options(argv, message, capsys):
    with pytest.raises(SystemExit) as stop:
        run_cli(["demo", "classifier", *argv])
    assert stop.value.code == 2 and message in capsys.readouterr().err


def test_cli_hidden_needs_the_mlp(capsys):
    assert run_cli(["demo", "classifier", "--hidden", "5", "--steps", "2", "--no-plot"]) == 2
    err = capsys.readouterr().err
    assert "--hidden sizes the hidden layer of --model mlp; --model softmax has none" in err
    assert "Add --model mlp" in err


def test_chainrule_demo_classifier_command():
    result = subprocess.run([sys.executable, "-m", "chainrule.cli", "demo", "classifier", "--steps", "10",
                             "--no-plot"], check=False, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "step 10  loss" in result.stdout and "final accuracy" in result.stdout
