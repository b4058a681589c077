"""More views of grid sweeps: a 3-D surface and 1-D slices of a 2-D grid, and plane slices
of a 3-D grid (heatmaps of the first two directions at several values of the third)."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .figures import save  # noqa: E402


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
