"""Writing a figure: headless (Agg), the parent folder created, one DPI so that PNGs of
different runs and comparisons stay comparable, and the figure closed (many sweeps in one
process must not leak figures). Every plot module of the package writes through :func:`save`."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

DPI = 120


def save(fig, path: Path | None, dpi: int = DPI, tight: bool = True):
    """Write ``fig`` to ``path`` and close it; ``tight=False`` for figures that use another
    layout engine (e.g. ``layout="constrained"``). ``path`` None: the open figure itself
    (the Python API's `Results.plot`). The tight layout counts titles and legends placed
    outside the axes, so neither is clipped."""
    if tight:
        fig.tight_layout()
    if path is None:
        return fig
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
