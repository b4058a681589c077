"""Figures for a sweep: L(α) with its derived curves, per-category curves, 2D heatmaps.

Each function takes a results dict (docs/layout.md), its analysis (sitv_dist.analysis) and an
output path, and returns the path(s) it wrote. Matplotlib runs headless (Agg).
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..sweep.crossings import as_array  # noqa: E402
from .analysis.landscape import category_loss  # noqa: E402
from .figures import save  # noqa: E402
from .grid_plots import plot_plane_slices, plot_slices, plot_surface  # noqa: E402


def plot_line(results: dict, analysis: dict, path: Path) -> tuple[Path, dict]:
    """L(c) over every evaluated point on the line with L(0), the line's findings (crossings:
    circles, filled when resolved; interior minima: triangles; the lowest loss: a star), and
    the task loss below. Returns the path and what it marked, read back from the drawn
    artists (so a test can hold the figure to the report)."""
    samples, findings = analysis["samples"], analysis.get("findings") or {}
    base = analysis["base_loss"]
    curves = analysis["curves"]
    has_task = curves.get("task") is not None and np.isfinite(as_array(curves["task"])).any()
    fig, axes = plt.subplots(2 if has_task else 1, 1, figsize=(8, 7.5 if has_task else 4.8),
                             sharex=True, squeeze=False)
    ax = axes[0][0]
    ax.plot(samples["c"], as_array(samples["general"]), "-", color="C0", marker=".", markersize=4,
            label="L(c), general loss at every evaluated point")
    ax.axhline(base, color="grey", linewidth=1, label=f"L(0) = {base:.4f}")
    marks = {"crossings": [], "minima": [], "global_min": None}
    cross = findings.get("crossings", analysis["crossings"])
    if cross:
        filled = [c.get("resolved") is True for c in cross]
        artist, = ax.plot([c["x"] for c in cross], [base] * len(cross), linestyle="none", marker="o",
                          markersize=8, markerfacecolor="none", markeredgecolor="C3", markeredgewidth=1.6,
                          label="crossings of L(0) (filled: resolved)")
        ax.plot([c["x"] for c, f in zip(cross, filled) if f], [base] * sum(filled), linestyle="none",
                marker="o", markersize=8, color="C3")
        marks["crossings"] = [float(v) for v in artist.get_xdata()]
    minima = findings.get("minima", analysis.get("minima") or [])
    if minima:
        artist, = ax.plot([m["x"] for m in minima], [m["loss"] for m in minima], linestyle="none", marker="^",
                          markersize=8, color="C2", label="interior local minima")
        marks["minima"] = [float(v) for v in artist.get_xdata()]
    gmin = analysis["general_min"]
    if gmin["x"] is not None:
        artist, = ax.plot([gmin["x"]], [gmin["y"]], marker="*", markersize=13, color="C0", linestyle="none",
                          label=f"lowest L = {gmin['y']:.4f} at c = {gmin['x']:.3g}")
        marks["global_min"] = float(artist.get_xdata()[0])
    ax.set_ylabel("general loss (nats/token)")
    ax.set_title(f"{analysis.get('sweep') or ''}: loss along {analysis['direction']}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if has_task:
        tax = axes[1][0]
        tax.plot(np.asarray(curves["alpha"], dtype=float), as_array(curves["task"]), "-", color="C4", marker=".",
                 label=f"task loss ({analysis['task']}) on the α grid")
        if analysis.get("task_base_loss") is not None:
            tax.axhline(analysis["task_base_loss"], color="grey", linewidth=1, label="task loss at c = 0")
        tmin = analysis.get("task_min") or {}
        if tmin.get("x") is not None:
            tax.plot([tmin["x"]], [tmin["y"]], marker="*", markersize=12, color="C4", linestyle="none",
                     label=f"lowest = {tmin['y']:.4f} at α = {tmin['x']:.3g}")
        tax.set_ylabel("task loss (nats/token)")
        tax.grid(alpha=0.3)
        tax.legend(fontsize=8)
    axes[-1][0].set_xlabel("c, the coefficient of the task vector (α, 2α, α+α² and refinement points)")
    return save(fig, path), marks


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
    ax.set_title(f"{analysis.get('sweep') or ''}: L(α, β) (red dashed: base-loss contour)")
    ax.legend(fontsize=8, loc="upper right")
    return save(fig, path)


def plot_sweep(results: dict, analysis: dict, plots_dir: Path) -> tuple[list[Path], dict | None]:
    """All figures of one sweep, named ``<sweep>_<figure>.png``; returns what was written and,
    for a line, what its figure marks (crossings, minima, lowest loss)."""
    plots_dir = Path(plots_dir)
    name = analysis.get("sweep") or results.get("sweep") or "sweep"
    if analysis["kind"] == "line":
        line, marks = plot_line(results, analysis, plots_dir / f"{name}_line.png")
        written = [line, plot_categories(results, analysis, plots_dir / f"{name}_categories.png")]
        return [p for p in written if p is not None], marks
    else:
        written = [plot_grid(results, analysis, plots_dir / f"{name}_heatmap.png"),
                   plot_surface(analysis, plots_dir / f"{name}_surface.png"),
                   plot_slices(analysis, plots_dir / f"{name}_slices.png"),
                   plot_plane_slices(analysis, plots_dir / f"{name}_planes.png")]
    return [p for p in written if p is not None], None
