"""The loss curve as a PNG, when matplotlib is installed (it is optional: training never needs it)."""
from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from ..errors import UsageError


def save_loss_curve(losses: Sequence[float], path: str | os.PathLike | None = None, title: str = "loss") -> Path | None:
    """Write the loss against the step (log scale) to `path`; returns the path, or None without matplotlib.

    Without a path, to a new private temporary file: `tempfile.mkstemp` picks an unused name and creates the file
    itself (readable by its owner only), so a file or link planted in the shared temporary folder is never written.
    """
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
    return _private(figure) if path is None else _save(figure, Path(path))


def _private(figure) -> Path:
    descriptor, name = tempfile.mkstemp(prefix="chainrule-loss-", suffix=".png")
    with os.fdopen(descriptor, "wb") as out:
        figure.savefig(out, format="png")
    return Path(name)


def _save(figure, path: Path) -> Path:
    try:
        figure.savefig(path)
    except OSError as error:
        raise UsageError(f"cannot write the loss curve to {str(path)!r}: {error.strerror or error}",
                         hint="Give a file in an existing folder that you may write, e.g. --plot loss.png.") from None
    except ValueError as error:   # matplotlib: an extension it cannot write
        raise UsageError(f"cannot write the loss curve to {str(path)!r}: {error}",
                         hint="Give a file name ending in .png (or .pdf, .svg).") from None
    return path
