"""Figures and the report section of the accuracy analysis (`results.accuracy`): accuracy
against α with bootstrap bands for lines, an accuracy heatmap per task for 2-D grids, and a
Markdown table of base and best accuracy with their intervals, and of lm-eval metrics."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..sweep.crossings import as_array
from .plots.run_plots import plt, save
from .markdown import fmt, interval, table


def plot_accuracy(acc: dict, unc: dict | None, plots_dir: Path) -> list[Path]:
    """`<sweep>_accuracy.png` (line) or `<sweep>_accuracy_<task>.png` heatmaps (2-D grid)."""
    name, written = acc.get("sweep") or "sweep", []
    if acc["kind"] == "line":
        alpha = np.asarray(acc["alpha"], dtype=float)
        keys = list(acc["series"])
        fig, axes = plt.subplots(len(keys), 1, figsize=(8, 3.2 * len(keys)), sharex=True, squeeze=False)
        for ax, key in zip(axes[:, 0], keys):
            s = acc["series"][key]
            for k, (metric, m) in enumerate(s["metrics"].items()):
                ax.plot(alpha, as_array(m["curve"]), "-", marker=".", color=f"C{k}", label=metric)
                ci = ((unc or {}).get(s["task"]) or {}).get(metric) if key.startswith("mc:") else None
                if ci:
                    lo, hi = (as_array(c) for c in zip(*ci["ci"]))
                    ax.fill_between(alpha, lo, hi, color=f"C{k}", alpha=0.2, label=f"{metric} interval")
                if m["base"] is not None:
                    ax.axhline(m["base"], color=f"C{k}", linewidth=0.8, linestyle=":")
            ax.set_ylabel(key)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
        axes[0, 0].set_title(f"{name}: accuracy along α (dotted: at α = 0; bands: bootstrap over items)")
        axes[-1, 0].set_xlabel("α")
        written.append(save(fig, plots_dir / f"{name}_accuracy.png"))
    elif len(acc["axes"]) == 2:
        a, b = (np.asarray(x, dtype=float) for x in acc["axes"])
        for key, s in acc["series"].items():
            metric = "acc" if "acc" in s["metrics"] else next(iter(s["metrics"]))
            m = s["metrics"][metric]
            z = np.ma.masked_invalid(as_array(np.asarray(m["grid"], dtype=object).ravel()).reshape(len(a), len(b)))
            fig, ax = plt.subplots(figsize=(7.2, 6))
            mesh = ax.pcolormesh(a, b, z.T, shading="nearest", cmap="magma")
            fig.colorbar(mesh, ax=ax, label=f"{key} {metric}")
            best = m["best"]
            if best["coefficients"] is not None:
                ax.plot(*best["coefficients"][:2], marker="*", markersize=14, color="cyan", linestyle="none",
                        label=f"best {best['y']:.4f}")
                ax.legend(fontsize=8)
            ax.set_xlabel(f"α ({acc['directions'][0]})")
            ax.set_ylabel(f"β ({acc['directions'][1]})")
            ax.set_title(f"{name}: {key} {metric}")
            written.append(save(fig, plots_dir / f"{name}_accuracy_{key.replace(':', '_')}.png"))
    return written


def _score(v) -> str:
    """Accuracies and other scores to 2 decimals (100 items resolve 0.01 at best)."""
    return fmt(v, 2)


def _alpha(v) -> str:
    return fmt(v, 3)


def accuracy_section(an: dict) -> list[str]:
    """'## Accuracy': per sweep and task, accuracy at α = 0 and its best α, with intervals."""
    acc = an.get("accuracy") or {}
    if not acc:
        return []
    unc_all = an.get("accuracy_uncertainty") or {}
    lines = ["## Accuracy", "",
             ("Multiple-choice accuracy (`acc`: the choice of highest log-likelihood given the context; `acc_norm`: "
             "log-likelihood per character), scored as lm-evaluation-harness scores multiple-choice tasks, and "
             "lm-eval metrics where configured. Best: the highest value (the lowest for perplexities), the first α "
             "where several tie. Intervals: bootstrap over items (the same draw at every α)."), ""]
    for sweep, a in acc.items():
        unc = unc_all.get(sweep) or {}
        rows = []
        for key, s in a["series"].items():
            for metric, m in s["metrics"].items():
                ci = (unc.get(s["task"]) or {}).get(metric) if key.startswith("mc:") else None
                if a["kind"] == "line":
                    k0 = a["alpha"].index(0.0) if 0.0 in a["alpha"] else None
                    base_ci = interval(ci["ci"][k0], _score) if ci and k0 is not None else "n/a"
                    best_ci = interval(ci["ci"][a["alpha"].index(m["best"]["x"])], _score) \
                        if ci and m["best"]["x"] is not None else "n/a"
                    rows.append([key, metric, _score(m["base"]), base_ci, "no change" if m["best"].get("no_change") else fmt(m["best"]["x"], 3), _score(m["best"]["y"]),
                                 best_ci, interval(ci["best_alpha_ci"], _alpha) if ci else "n/a"])
                else:
                    best = m["best"]
                    rows.append([key, metric, _score(m["base"]), ", ".join(f"{c:.4g}" for c in best["coefficients"] or []),
                                 _score(best["y"])])
        lines += [f"### {sweep}", ""]
        if a["kind"] == "line":
            lines += table(["set", "metric", "at α = 0", "interval", "best α", "best", "interval",
                            "best α interval"], rows)
        else:
            lines += table(["set", "metric", "at the origin", "best cell", "best"], rows)
    return lines
