"""Figures of one run: L(α) with its derived curves, per-category curves, 2D heatmaps, and more
views of grid sweeps (a 3-D surface and 1-D slices of a 2-D grid; plane slices of a 3-D grid:
heatmaps of the first two directions at several values of the third).

Each plotting function takes a results dict (docs/layout.md), its analysis
(:mod:`..analysis.landscape`) and an output path, and returns the path(s) it wrote. Every plot of
the package is written by :func:`save`: headless (Agg), the parent folder created, one DPI so
that PNGs of different runs and comparisons stay comparable, and the figure closed (many sweeps
in one process must not leak figures).
"""
from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ...sweep.crossings import as_array  # noqa: E402
from ..analysis.landscape import category_loss  # noqa: E402
from .figure_files import DPI, save  # noqa: E402,F401  (re-exported: the other plot modules import them here)
from .line_figure import plot_line  # noqa: E402,F401


def plot_categories(results: dict, analysis: dict, path: Path) -> Path | None:
    """One curve per general-set category (None when the results carry no categories)."""
    cats = list(analysis.get("categories") or {})
    if not cats:
        return None
    alpha = np.asarray(analysis["curves"]["alpha"], dtype=float)
    points = results["points"]
    fig, ax = plt.subplots(figsize=(8, 4.8))
    for k, c in enumerate(cats):
        ys = as_array(category_loss(points[int(i)], c) for i in results["index"]["line"])
        ax.plot(alpha, ys, "-", marker=".", color=f"C{k % 10}", label=c)
        m = analysis["categories"][c]["min"]
        if m["x"] is not None:
            ax.plot([m["x"]], [m["y"]], marker="*", markersize=10, color=f"C{k % 10}", linestyle="none")
    ax.axvline(0.0, color="grey", linewidth=1)
    ax.set_xlabel("α (coefficient of the task vector)")
    ax.set_ylabel("category loss (nats/token)")
    ax.set_title(f"{analysis.get('sweep') or ''}: general loss per category (★ = minimum)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save(fig, path)


def plot_grid(results: dict, analysis: dict, path: Path) -> Path | None:
    """Heatmap of L(α, β) with contours, the base-loss contour, origin and minimum (2 axes only)."""
    axes = analysis["axes"]
    if len(axes) != 2:
        return None
    a, b = np.asarray(axes[0], dtype=float), np.asarray(axes[1], dtype=float)
    z = np.ma.masked_invalid(as_array(np.asarray(analysis["general"], dtype=object).ravel())
                             .reshape(len(a), len(b)))
    dirs = analysis["directions"]
    fig, ax = plt.subplots(figsize=(7.2, 6))
    mesh = ax.pcolormesh(a, b, z.T, shading="nearest", cmap="viridis")
    fig.colorbar(mesh, ax=ax, label="general loss (nats/token)")
    if len(a) > 1 and len(b) > 1 and z.count() > 3:
        cs = ax.contour(a, b, z.T, levels=10, colors="white", linewidths=0.6, alpha=0.7)
        ax.clabel(cs, fontsize=6, fmt="%.2f")
        base = analysis["base_loss"]
        if z.min() < base < z.max():
            ax.contour(a, b, z.T, levels=[base], colors="red", linewidths=1.4, linestyles="--")
    if 0.0 in axes[0] and 0.0 in axes[1]:
        ax.plot([0.0], [0.0], marker="P", markersize=11, color="red", linestyle="none",
                label=f"base (0, 0): {analysis['base_loss']:.4f}")
    m = analysis.get("min")
    if m:
        ax.plot([m["coefficients"][0]], [m["coefficients"][1]], marker="*", markersize=14,
                color="orange", linestyle="none", label=f"min {m['loss']:.4f}")
    c = analysis.get("closest_to_base")
    if c:
        ax.plot([c["coefficients"][0]], [c["coefficients"][1]], marker="o", markersize=8,
                markerfacecolor="none", markeredgecolor="red", linestyle="none",
                label=f"closest to base {c['loss']:.4f}")
    ax.set_xlabel(f"α ({dirs[0]})")
    ax.set_ylabel(f"β ({dirs[1]})")
    title = f"{analysis.get('sweep') or ''}: L(α, β) (red dashed: base-loss contour)"
    ax.set_title("\n".join(textwrap.wrap(title, 60)), fontsize=10)
    if ax.get_legend_handles_labels()[0]:          # below the axes: no cell hidden behind it
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2)
    return save(fig, path)


def plot_sweep(results: dict, analysis: dict, plots_dir: Path,
               uncertainty: dict | None = None) -> tuple[list[Path], dict | None]:
    """All figures of one sweep, named ``<sweep>_<figure>.png``; returns what was written and,
    for a line, what its figure marks (crossings, minima, lowest loss, the zoomed window).
    ``uncertainty``: the sweep's bootstrap (the line figure's bands)."""
    plots_dir = Path(plots_dir)
    name = analysis.get("sweep") or results.get("sweep") or "sweep"
    if analysis["kind"] == "line":
        line, marks = plot_line(results, analysis, plots_dir / f"{name}_line.png", uncertainty)
        written = [line, plot_categories(results, analysis, plots_dir / f"{name}_categories.png")]
        return [p for p in written if p is not None], marks
    else:
        written = [plot_grid(results, analysis, plots_dir / f"{name}_heatmap.png"),
                   plot_surface(analysis, plots_dir / f"{name}_surface.png"),
                   plot_slices(analysis, plots_dir / f"{name}_slices.png"),
                   plot_plane_slices(analysis, plots_dir / f"{name}_planes.png")]
    return [p for p in written if p is not None], None


# ----------------------------------------------------------------------------- more views of grids
def loss_array(analysis: dict) -> np.ndarray:
    """The general-loss grid as a float array (NaN where non-finite)."""
    return np.array(analysis["general"], dtype=float)


def _picks(axis: list[float], k: int = 5) -> list[int]:
    """Up to k indices spread over an axis, always including the one nearest 0."""
    idx = set(np.linspace(0, len(axis) - 1, min(k, len(axis))).round().astype(int).tolist())
    idx.add(int(np.argmin(np.abs(np.asarray(axis)))))
    return sorted(idx)


def plot_surface(analysis: dict, path: Path) -> Path | None:
    """L(α, β) as a surface, with the base loss as a flat reference plane."""
    if len(analysis["axes"]) != 2:
        return None
    a, b = (np.asarray(x, dtype=float) for x in analysis["axes"])
    z = loss_array(analysis)
    A, B = np.meshgrid(a, b, indexing="ij")
    fig = plt.figure(figsize=(7.5, 6))
    ax = fig.add_subplot(projection="3d")
    ax.plot_surface(A, B, np.ma.masked_invalid(z), cmap="viridis", linewidth=0, antialiased=True, alpha=0.9)
    ax.plot_surface(A, B, np.full_like(z, analysis["base_loss"]), color="red", alpha=0.15)
    d = analysis["directions"]
    ax.set_xlabel(f"α ({d[0]})")
    ax.set_ylabel(f"β ({d[1]})")
    ax.set_zlabel("general loss")
    ax.set_title(f"{analysis.get('sweep', '')}: L(α, β) (red plane: base loss {analysis['base_loss']:.4f})")
    return save(fig, path)


def plot_slices(analysis: dict, path: Path) -> Path | None:
    """1-D slices of a 2-D grid: L(α, β_k) for a few β_k (β = 0 included), and L(α_k, β)."""
    if len(analysis["axes"]) != 2:
        return None
    a, b = analysis["axes"]
    z = loss_array(analysis)
    d = analysis["directions"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for k in _picks(b):
        left.plot(a, z[:, k], marker=".", label=f"β = {b[k]:.3g}")
    for k in _picks(a):
        right.plot(b, z[k, :], marker=".", label=f"α = {a[k]:.3g}")
    for ax, label in ((left, f"α ({d[0]})"), (right, f"β ({d[1]})")):
        ax.axhline(analysis["base_loss"], color="grey", linewidth=1, label="base loss L(0, 0)")
        ax.set_xlabel(label)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    left.set_ylabel("general loss (nats/token)")
    fig.suptitle(f"{analysis.get('sweep', '')}: slices of L(α, β)")
    return save(fig, path)


def plot_plane_slices(analysis: dict, path: Path) -> Path | None:
    """A 3-D grid as heatmaps over its first two directions at a few values of the third."""
    if len(analysis["axes"]) != 3:
        return None
    a, b, c = analysis["axes"]
    z = loss_array(analysis)
    picks = _picks(c, 3)
    fig, axes = plt.subplots(1, len(picks), figsize=(4.6 * len(picks), 4.2), squeeze=False, layout="constrained")
    vmin, vmax = np.nanmin(z), np.nanmax(z)
    d = analysis["directions"]
    for ax, k in zip(axes[0], picks):
        mesh = ax.pcolormesh(a, b, np.ma.masked_invalid(z[:, :, k]).T, shading="nearest", cmap="viridis",
                             vmin=vmin, vmax=vmax)
        ax.set_title(f"{d[2]} = {c[k]:.3g}")
        ax.set_xlabel(d[0])
        ax.set_ylabel(d[1])
    fig.colorbar(mesh, ax=axes[0].tolist(), label="general loss (nats/token)")
    fig.suptitle(f"{analysis.get('sweep', '')}: plane slices")
    return save(fig, path, tight=False)            # constrained layout: no tight_layout
