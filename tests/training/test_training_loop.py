"""train / derive / descend: the loop's contract, its errors, and the paper's closed-form neuron gradient."""
import numpy as np
import pytest

import chainrule.training as tr


def test_losses_before_and_after_every_step():
    seen = []
    result = tr.train("(a - 3)^2", params={"a": 0.0}, data={}, lr=0.25, steps=4,
                      callback=lambda step, loss: seen.append((step, loss)))
    # a_k = 3 - 3/2^k, so the loss is 9/4^k
    assert result.losses == pytest.approx([9 / 4**k for k in range(5)], rel=1e-15)
    assert seen == list(enumerate(result.losses))


def test_initial_values_are_not_modified():
    w0 = np.array([1.0, 2.0])
    tr.train("sum((y - X*w).^2)", params={"w": w0}, data={"X": np.eye(2), "y": np.zeros(2)}, lr=0.1, steps=3)
    assert w0.tolist() == [1.0, 2.0]


def test_gradients_are_the_symbolic_derivatives():
    result = tr.train(tr.NEURON_LOSS, tr.neuron_init(), tr.relu_neuron_data(10), steps=1)
    assert set(result.gradients) == {"w", "b"}
    assert result.gradients["b"].text() == "-2*(y-max(0, X*w+b))'*step(X*w+b)/N"


def test_neuron_gradient_is_the_papers_closed_form():
    # Parr & Howard, section 6: dC/dw = 2/N sum_{z_i > 0} (z_i - y_i) x_i', dC/db = 2/N sum_{z_i > 0} (z_i - y_i)
    data = tr.relu_neuron_data(40, seed=4)
    init = {"w": np.array([0.4, -0.3, 0.2]), "b": 0.1}
    _, grads = tr.derive(tr.NEURON_LOSS, init, data)
    X, y, n = data["X"], data["y"], data["N"]
    z = X @ init["w"] + init["b"]
    active = (z > 0) * (z - y)
    values = {**data, **init}
    np.testing.assert_allclose(grads["w"].evaluate(values), 2 / n * active @ X, rtol=1e-12)
    np.testing.assert_allclose(grads["b"].evaluate(values), 2 / n * active.sum(), rtol=1e-12)


def test_declarations_override_the_kinds_of_values():
    result = tr.train("sum((y - X*w).^2)", {"w": np.zeros(2)}, {"X": np.eye(2), "y": np.ones(2)},
                      declarations={"w": (2,)}, steps=1)
    assert result.gradients["w"].shape == (2,)  # a vector kind would give the named dimension ('m',)


@pytest.mark.parametrize("params, data, message", [
    ({"a": 1.0}, {"a": 2.0}, "both as a parameter and as data"),
    ({"a": 1.0}, {"q": 2.0}, "q not used by the loss"),
    ({"a": 1.0}, {}, "no value for c"),
    ({}, {"a": 1.0, "c": 1.0}, "nothing to train"),
])
def test_bad_names_are_explained(params, data, message):
    with pytest.raises(tr.TrainingError, match=message):
        tr.train("(a - c)^2", params, data)


def test_a_loss_must_be_a_scalar():
    with pytest.raises(tr.TrainingError, match="must be a scalar"):
        tr.train("x.^2", {"x": np.ones(3)}, {})


def test_divergence_stops_with_advice():
    with pytest.raises(tr.TrainingError, match="smaller learning rate"):
        tr.train("a^4", {"a": 3.0}, {}, lr=10.0, steps=50)
