"""Figures of a merge sweep: every density's curve L(α) (general and each task loss, one panel
each, colour = density) and the general loss as a heatmap over (α, density)."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ...sweep.crossings import as_array  # noqa: E402
from .run_plots import save  # noqa: E402


def plot_curves(an: dict, path: Path) -> Path:
    """One panel per loss, one curve per density."""
    losses = [("general", an["general"])] + [(f"task {t}", m) for t, m in an["tasks"].items()]
    fig, axes = plt.subplots(1, len(losses), figsize=(4.6 * len(losses), 3.8), squeeze=False)
    cmap = plt.get_cmap("viridis")
    dens = an["densities"]
    lo, hi = min(dens), max(dens)
    for ax, (label, matrix) in zip(axes[0], losses):
        for d, row in zip(dens, matrix):
            ax.plot(an["alpha"], as_array(row), marker=".", color=cmap((d - lo) / (hi - lo) if hi > lo else 0.5),
                    label=f"density {d:g}")
        ax.set_xlabel("α")
        ax.set_ylabel(f"{label} loss")
        ax.set_title(label, fontsize=9)
        ax.grid(alpha=0.3)
    axes[0][0].axhline(an["base_loss"], color="grey", ls="--", lw=0.8, label="base loss")
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"{an['sweep']}: L(α) at every density ({an['op']} of {', '.join(an['of'])})", fontsize=10)
    return save(fig, path)


def plot_heatmap(an: dict, path: Path) -> Path:
    """General loss over (α, density), the base-loss contour dashed."""
    values = np.array([as_array(row) for row in an["general"]], dtype=float)
    fig, ax = plt.subplots(figsize=(6, 4.2))
    mesh = ax.pcolormesh(an["alpha"], an["densities"], np.ma.masked_invalid(values), shading="nearest",
                         cmap="viridis")
    fig.colorbar(mesh, ax=ax, label="general loss")
    if len(an["alpha"]) > 1 and len(an["densities"]) > 1 and np.isfinite(values).sum() > 3:
        finite = values[np.isfinite(values)]
        if finite.min() < an["base_loss"] < finite.max():
            ax.contour(an["alpha"], an["densities"], np.where(np.isfinite(values), values, np.nan),
                       levels=[an["base_loss"]], colors="red", linestyles="--", linewidths=1)
    if an.get("min"):
        ax.plot([an["min"]["alpha"]], [an["min"]["density"]], "w*", ms=12, label="minimum")
        ax.legend(fontsize=8, loc="upper right")
    ax.set_xlabel("α")
    ax.set_ylabel("density")
    ax.set_title(f"{an['sweep']}: L(α, density) (red dashed: base loss)", fontsize=10)
    return save(fig, path)


def plot_merge(an: dict, plots_dir: Path) -> list[Path]:
    plots_dir = Path(plots_dir)
    return [plot_curves(an, plots_dir / f"{an['sweep']}_curves.png"),
            plot_heatmap(an, plots_dir / f"{an['sweep']}_heatmap.png")]
