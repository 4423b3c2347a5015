"""The loss curve as a PNG, when matplotlib is installed (it is optional: training never needs it)."""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path


def save_loss_curve(losses: Sequence[float], path: str | os.PathLike, title: str = "loss") -> Path | None:
    """Write the loss against the step (log scale) to `path`; returns the path, or None without matplotlib."""
    try:
        # The object-oriented API: no pyplot, so no global figure state and no GUI backend is touched.
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return None
    figure = Figure(figsize=(6, 4), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.plot(range(len(losses)), losses)
    # Gradient descent converges geometrically: on a log scale that is a straight line.
    if min(losses) > 0:
        axes.set_yscale("log")
    axes.set(xlabel="step", ylabel="loss", title=title)
    axes.grid(True, alpha=0.3)
    figure.tight_layout()
    figure.savefig(path)
    return Path(path)
