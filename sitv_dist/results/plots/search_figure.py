"""The coefficient search's figure: the objective of every point evaluated and the best so far,
against points evaluated (the sweeps' best point as a reference line), and the best point's
coefficients — per layer or group for a split search (its coefficient profile), else per
direction — beside the sweeps' best. Artists carry gids, so tests read the figure back."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .figure_files import plt, save
from .line_figure import LEGEND


def search_figure(entry: dict):
    profile = entry.get("profile")
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(13, 4.6), gridspec_kw={"width_ratios": [1, 1.4 if profile else 1]})
    history = [h["objective"] for h in entry["history"]]
    n = np.arange(1, len(history) + 1)
    ax.plot(n, [np.nan if v is None else v for v in history], ".", color="0.6", label="each point", gid="points")
    ax.step(n, [np.nan if v is None else v for v in entry["best_so_far"]], where="post", color="C0",
            label="best so far", gid="best_so_far")
    sweep = ((entry.get("halves") or {}).get("objective") or {}).get("search")
    if sweep and len(sweep["values"]) == 2 and sweep["values"][1] is not None:
        ax.axhline(sweep["values"][1], color="C3", ls="--", label="best line/grid point", gid="sweep_best")
    ax.set_xlabel("points evaluated")
    ax.set_ylabel("objective (search half)")
    ax.set_title("Search progress")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=3, fontsize=8)     # below: outside the data
    best = entry.get("best") or {}
    if profile:
        for k, (direction, parts) in enumerate(profile.items()):
            x = np.arange(len(parts)) + 0.8 * k / max(1, len(profile))
            bx.bar(x, [p["coefficient"] for p in parts], width=0.8 / len(profile), color=f"C{k}", label=direction,
                   gid=f"profile:{direction}")
            bx.set_xticks(np.arange(len(parts)), [p["part"] for p in parts], rotation=60, fontsize=8)
        uniform = (entry.get("sweep_best") or {}).get("coefficients") or {}
        for k, (direction, c) in enumerate(uniform.items()):
            bx.axhline(c, color=f"C{k}", ls="--", label=f"{direction}: best line/grid point", gid=f"uniform:{direction}")
        bx.set_title("Coefficient profile of the best point")
    else:
        names = list(best.get("coefficients") or {})
        bx.bar(np.arange(len(names)) - 0.2, [best["coefficients"][d] for d in names], width=0.4, label="search best",
               gid="best")
        uniform = (entry.get("sweep_best") or {}).get("coefficients") or {}
        bx.bar(np.arange(len(names)) + 0.2, [uniform.get(d, 0.0) for d in names], width=0.4,
               label="best line/grid point", gid="sweep_best_bars")
        bx.set_xticks(np.arange(len(names)), names, rotation=20, fontsize=8)
        bx.set_title("Coefficients of the best point")
    bx.axhline(0.0, color="k", lw=0.6)
    bx.set_ylabel("coefficient")
    bx.legend(**LEGEND)
    return fig


def plot_search(entry: dict, plots_dir: Path) -> list[Path]:
    if not entry.get("best"):
        return []
    return [save(search_figure(entry), Path(plots_dir) / "search.png")]
