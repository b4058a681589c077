"""Figures of the accuracy analysis (:mod:`..accuracy`): accuracy along a line with its bootstrap
band over items and the chance level (1/number of choices, averaged over items: the same for
acc and acc_norm, which choose among the same choices), and per-task maps of a 2-D grid.

A grid map is coloured by the change from the origin on a diverging scale centred at 0, whose
half-range is at least twice the binomial standard error of the origin's accuracy over its
items: differences within sampling noise stay pale instead of spanning the whole colour
scale. Grids have no interval over items, so the highest cell is drawn open and labelled
unresolved, never starred as a "best"; a highest cell that only ties the origin is not drawn."""
from __future__ import annotations

import math
import textwrap

import numpy as np

from ...sweep.crossings import as_array
from .figure_files import plt
from .line_figure import LEGEND

NOISE_SE = 2.0        # the grid map's colour half-range is at least this many standard errors


def accuracy_line_figure(acc: dict, unc: dict | None):
    """Accuracy against α, one panel per series: each metric, its band, its value at α = 0
    (dotted) and the chance level (dashed, gid "chance")."""
    name = acc.get("sweep") or "sweep"
    alpha = np.asarray(acc["alpha"], dtype=float)
    keys = list(acc["series"])
    fig, axes = plt.subplots(len(keys), 1, figsize=(10, 3.2 * len(keys) + 0.8), sharex=True, squeeze=False)
    for ax, key in zip(axes[:, 0], keys):
        s = acc["series"][key]
        ax.set_label(key)
        for k, (metric, m) in enumerate(s["metrics"].items()):
            ax.plot(alpha, as_array(m["curve"]), "-", marker=".", color=f"C{k}", label=metric, gid=metric)
            ci = ((unc or {}).get(s["task"]) or {}).get(metric) if key.startswith("mc:") else None
            if ci:
                lo, hi = (as_array(c) for c in zip(*ci["ci"]))
                ax.fill_between(alpha, lo, hi, color=f"C{k}", alpha=0.2, label=f"{metric}: bootstrap band",
                                gid=f"band:{metric}")
            if m["base"] is not None:
                ax.axhline(m["base"], color=f"C{k}", linewidth=0.8, linestyle=":", label=f"{metric} at α = 0")
        if s.get("chance") is not None:
            ax.axhline(s["chance"], color="black", linewidth=1.1, linestyle="--", gid="chance",
                       label=f"chance = {s['chance']:.3f} (1 / choices per item)")
        elif key.startswith("mc:"):
            ax.plot([], [], " ", label="chance level unknown (no per-item data on disk)")
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        ax.legend(**LEGEND)
    axes[-1, 0].set_xlabel("α")
    fig.suptitle("\n".join(textwrap.wrap(f"{name}: accuracy along α (bands: bootstrap over items, 95 %)", 90)),
                 fontsize=11)
    return fig


def colour_half_range(z: np.ndarray, base: float | None, items: int | None) -> float:
    """The diverging scale's half-range: the largest change from the origin, but at least
    NOISE_SE binomial standard errors of the origin's accuracy (so noise is not spread over
    the whole scale)."""
    dev = float(np.nanmax(np.abs(z - base))) if base is not None and np.isfinite(z).any() else 0.0
    noise = (NOISE_SE * math.sqrt(max(base * (1 - base), 1e-12) / items)
             if base is not None and items else 0.0)
    return max(dev, noise, 1e-6)


def accuracy_grid_figure(acc: dict, key: str):
    """One series of a 2-D grid: the change of its metric (acc where present) from the origin."""
    name = acc.get("sweep") or "sweep"
    a, b = (np.asarray(x, dtype=float) for x in acc["axes"])
    s = acc["series"][key]
    metric = "acc" if "acc" in s["metrics"] else next(iter(s["metrics"]))
    m = s["metrics"][metric]
    z = as_array(np.asarray(m["grid"], dtype=object).ravel()).reshape(len(a), len(b))
    base = m["base"]
    half = colour_half_range(z, base, s.get("items"))
    fig, ax = plt.subplots(figsize=(8.4, 6))
    shown = np.ma.masked_invalid(z - (base if base is not None else 0.0))
    mesh = ax.pcolormesh(a, b, shown.T, shading="nearest", cmap="RdBu", vmin=-half, vmax=half)
    fig.colorbar(mesh, ax=ax, label=f"{metric} − {metric} at the origin" + (f" ({base:.3f})" if base is not None else ""))
    best = m["best"]
    if best["coefficients"] is not None and (base is None or best["y"] > base):
        ax.plot(*best["coefficients"][:2], marker="o", markersize=12, markerfacecolor="none", markeredgecolor="black",
                markeredgewidth=1.5, linestyle="none", gid="highest",
                label=f"highest cell {best['y']:.3f}: unresolved (no interval over items on grids)")
    if s.get("chance") is not None:
        ax.plot([], [], " ", label=f"chance = {s['chance']:.3f}")
    ax.set_xlabel(f"α ({acc['directions'][0]})")
    ax.set_ylabel(f"β ({acc['directions'][1]})")
    ax.set_title("\n".join(textwrap.wrap(f"{name}: {key} {metric}, change from the origin (colour range at least "
                                         f"±{NOISE_SE:g} s.e. of {s.get('items') or '?'} items)", 70)), fontsize=10)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), fontsize=8, ncol=1)
    return fig
