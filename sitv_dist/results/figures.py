"""Saving a figure, one way for every plot of the package: headless (Agg), the parent folder
created, one DPI so that PNGs of different runs and comparisons stay comparable, and the
figure closed (many sweeps in one process must not leak figures)."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

DPI = 120


def save(fig, path: Path, dpi: int = DPI, tight: bool = True) -> Path:
    """Write ``fig`` to ``path`` and close it; ``tight=False`` for figures that use another
    layout engine (e.g. ``layout="constrained"``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if tight:
        fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
