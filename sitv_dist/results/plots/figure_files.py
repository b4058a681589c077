"""Writing a figure: headless (Agg), the parent folder created, one DPI so that PNGs of
different runs and comparisons stay comparable, and the figure closed (many sweeps in one
process must not leak figures), written atomically (sitv_dist.io). Every plot module of the package writes through :func:`save`."""
from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ...io import atomic_write_bytes  # noqa: E402

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
    buffer = io.BytesIO()       # then one atomic write: a killed or full-disk report leaves no half image
    try:
        fig.savefig(buffer, dpi=dpi, format=path.suffix.lstrip(".") or "png")
    finally:
        plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())
    return path
