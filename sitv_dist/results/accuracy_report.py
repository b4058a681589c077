"""Figures and the report section of the accuracy analysis (`results.accuracy`): accuracy
against α with bootstrap bands for lines, an accuracy heatmap per task for 2-D grids, and a
Markdown table of base and best accuracy with their intervals, and of lm-eval metrics."""
from __future__ import annotations

from pathlib import Path

from .plots.accuracy_plots import accuracy_grid_figure, accuracy_line_figure
from .plots.figure_files import save
from .markdown import fmt, interval, table


def plot_accuracy(acc: dict, unc: dict | None, plots_dir: Path) -> list[Path]:
    """`<sweep>_accuracy.png` (line) or `<sweep>_accuracy_<task>.png` maps (2-D grid)."""
    name = acc.get("sweep") or "sweep"
    if acc["kind"] == "line":
        return [save(accuracy_line_figure(acc, unc), plots_dir / f"{name}_accuracy.png")]
    if len(acc["axes"]) != 2:
        return []
    return [save(accuracy_grid_figure(acc, key), plots_dir / f"{name}_accuracy_{key.replace(':', '_')}.png")
            for key in acc["series"]]


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
        for p in (an.get("plots") or {}).get(sweep, []):
            if a["kind"] == "line" and p.endswith("_accuracy.png"):
                caption = (f"{sweep}: accuracy along α with bootstrap bands over items; dotted: the value at "
                           "α = 0; dashed: chance (1 / choices per item)")
                lines += [f"![{caption}]({p})", "", f"*{caption}*", ""]
        chances = [f"{key} {_score(s['chance'])}" for key, s in a["series"].items() if s.get("chance") is not None]
        if chances:
            lines += ["Chance level (the accuracy of guessing: the mean over items of 1 / number of choices; the "
                      "same for acc and acc_norm): " + ", ".join(chances) + ".", ""]
        if a["kind"] == "line":
            lines += table(["set", "metric", "at α = 0", "interval", "best α", "best", "interval",
                            "best α interval"], rows)
        else:
            lines += table(["set", "metric", "at the origin", "highest cell (unresolved: grids have no interval)",
                            "highest"], rows)
    return lines
