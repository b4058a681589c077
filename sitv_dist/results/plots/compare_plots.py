"""The comparison's figures: the general loss of every line sweep relative to its run's L(0)
(with bootstrap bands), the task-loss curves, and the cosine similarities of the task vectors."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ...sweep.crossings import as_array  # noqa: E402
from .run_plots import save  # noqa: E402


def plot_general(rows: list[dict], path: Path, level: float) -> Path:
    """L(α) − L(0) of every line sweep on one figure, with the bootstrap band where available."""
    fig, ax = plt.subplots(figsize=(9, 5.5))
    for k, r in enumerate(rows):
        a = np.asarray(r["curves"]["alpha"], dtype=float)
        y = as_array(r["curves"]["general"]) - r["base_loss"]
        color = f"C{k % 10}"
        ax.plot(a, y, "-", marker=".", color=color, label=f"{r['experiment']}: {r['sweep']}")
        ci = r["curves"].get("general_diff_ci")
        if ci:
            lo = np.array([np.nan if c is None else c[0] for c in ci])
            hi = np.array([np.nan if c is None else c[1] for c in ci])
            ax.fill_between(a, lo, hi, color=color, alpha=0.18, linewidth=0)
        xs = [c["x"] for c in r["crossings"]]
        if xs:
            ax.plot(xs, [0.0] * len(xs), linestyle="none", marker="o", markerfacecolor="none",
                    markeredgecolor=color, markersize=7)
    ax.axhline(0.0, color="grey", linewidth=1)
    ax.set_xlabel("α (coefficient of the task vector)")
    ax.set_ylabel("L(α) − L(0), general loss (nats/token)")
    band = f"; bands: {100 * level:g}% bootstrap intervals over eval texts" if any(
        r["curves"].get("general_diff_ci") for r in rows) else ""
    ax.set_title(f"General loss relative to each run's L(0); circles: crossings{band}", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return save(fig, path)


def plot_task(rows: list[dict], path: Path) -> Path:
    """Task-loss curves: as measured (left) and relative to the task loss at α = 0 (right)."""
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 5))
    for k, r in enumerate(rows):
        t = r["curves"].get("task")
        if t is None:
            continue
        a = np.asarray(r["curves"]["task_alpha"], dtype=float)
        y = as_array(t)
        label = f"{r['experiment']}: {r['task']}"
        ax.plot(a, y, "-", marker=".", color=f"C{k % 10}", label=label)
        if r["task_base_loss"] is not None:
            bx.plot(a, y - r["task_base_loss"], "-", marker=".", color=f"C{k % 10}", label=label)
    for axis, ylab in ((ax, "task loss (nats/token)"), (bx, "task loss − task loss at α = 0")):
        axis.set_xlabel("α")
        axis.set_ylabel(ylab)
        axis.grid(alpha=0.3)
        if axis.get_legend_handles_labels()[0]:
            axis.legend(fontsize=7)
    bx.axhline(0.0, color="grey", linewidth=1)
    return save(fig, path)


def plot_cosine(cos: dict, path: Path) -> Path:
    """Heatmap of the cosine similarities (blank where not comparable)."""
    labels = cos["labels"]
    m = np.array([[np.nan if v is None else v for v in row] for row in cos["matrix"]], dtype=float)
    size = max(4.5, 0.7 * len(labels) + 2.5)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    im = ax.imshow(m, vmin=-1, vmax=1, cmap="RdBu_r")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    for i in range(len(labels)):
        for j in range(len(labels)):
            if np.isfinite(m[i, j]):
                ax.text(j, i, f"{m[i, j]:.3f}", ha="center", va="center", fontsize=7,
                        color="white" if abs(m[i, j]) > 0.6 else "black")
    fig.colorbar(im, ax=ax, label="cosine similarity")
    ax.set_title("Cosine similarity of task vectors")
    return save(fig, path)
