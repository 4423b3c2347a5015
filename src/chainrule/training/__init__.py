"""Training from derived gradients: gradient descent that evaluates the symbolic gradients chainrule derives.

>>> import chainrule.training as tr
>>> r = tr.train("(a - 3)^2", params={"a": 0.0}, data={}, lr=0.25, steps=30)
>>> round(float(r.params["a"]), 6), r.losses[:3]
(3.0, [9.0, 2.25, 0.5625])
"""
from .demos import (
    CLASSIFIER_LOGITS,
    CLASSIFIER_LOSSES,
    MLP_LOSS,
    NEURON_LOSS,
    DemoResult,
    accuracy,
    blobs_data,
    classifier_demo,
    classifier_init,
    mlp_demo,
    mlp_init,
    neuron_demo,
    neuron_init,
    relu_neuron_data,
    wave_data,
)
from .loop import TrainingError, TrainingResult, derive, descend, descent, progress_printer, train
from .plot import save_loss_curve

__all__ = [
    "CLASSIFIER_LOGITS", "CLASSIFIER_LOSSES", "MLP_LOSS", "NEURON_LOSS", "DemoResult", "TrainingError",
    "TrainingResult", "accuracy", "blobs_data", "classifier_demo", "classifier_init", "derive", "descend", "descent",
    "mlp_demo", "mlp_init", "neuron_demo", "neuron_init",
    "progress_printer", "relu_neuron_data", "save_loss_curve", "train", "wave_data",
]
