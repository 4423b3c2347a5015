"""Training from derived gradients: gradient descent that evaluates the symbolic gradients chainrule derives.

>>> import chainrule.training as tr
>>> r = tr.train("(a - 3)^2", params={"a": 0.0}, data={}, lr=0.25, steps=30)
>>> round(float(r.params["a"]), 6), r.losses[:3]
(3.0, [9.0, 2.25, 0.5625])
"""
from .demos import (
    MLP_LOSS,
    NEURON_LOSS,
    DemoResult,
    mlp_demo,
    mlp_init,
    neuron_demo,
    neuron_init,
    relu_neuron_data,
    wave_data,
)
from .loop import TrainingError, TrainingResult, derive, descend, progress_printer, train
from .plot import save_loss_curve

__all__ = [
    "MLP_LOSS", "NEURON_LOSS", "DemoResult", "TrainingError", "TrainingResult",
    "derive", "descend", "mlp_demo", "mlp_init", "neuron_demo", "neuron_init",
    "progress_printer", "relu_neuron_data", "save_loss_curve", "train", "wave_data",
]
