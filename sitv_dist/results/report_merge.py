"""Report sections for interpolation and merging: loss barriers of lines on which 0 and 1 are
sampled (:mod:`.barrier`), and merge sweeps L(α, density) (:mod:`.merge_sweeps`). Numbers come
from the analysis dict and go through :func:`.markdown.fmt`."""
from __future__ import annotations

from pathlib import Path

from .analysis.barrier import each
from .markdown import fmt, interval, table


def barrier_section(an: dict) -> list[str]:
    lines = ["## Loss barriers", ""]
    rows, others = [], 0
    for name, a in an["sweeps"].items():
        for loss, b in each(a.get("barrier") if a.get("kind") == "line" else None):
            if loss not in ("general", a.get("task")):       # every task's barrier is in analysis.json
                others += 1
                continue
            rows.append([name, loss, b.get("loss_0"), b.get("loss_1"), b.get("value"), b.get("alpha"),
                         interval(b.get("interval"))])
    if not rows:
        return lines + ["No line sweep samples both α = 0 and α = 1.", ""]
    lines += table(["sweep", "loss", "L(0)", "L(1)", "barrier", "at α", "bootstrap interval"], rows)
    if others:
        lines += [f"The barriers of the other {others} task losses along these lines are in analysis.json.", ""]
    return lines + ["The barrier is max over the sampled α in [0, 1] of L(α) − ((1 − α)L(0) + αL(1)) (ends "
                    "included, so it is ≥ 0): with T = ft2 − ft1 it is the barrier of linear interpolation "
                    "between two fine-tunes. The interval is a paired bootstrap over eval texts; n/a when the "
                    "per-text data are not on disk.", ""]


def merge_section(an: dict) -> list[str]:
    lines = ["## Merge sweeps: L(α, density)", ""]
    merges = an.get("merge_sweeps") or {}
    if not merges:
        return lines
    for name, m in merges.items():
        lines += [f"### {name}: {m['op']} of {', '.join(m['of'])}", ""]
        best = m.get("min") or {}
        lines.append(f"Base loss L(0) = {fmt(m['base_loss'])}; lowest general loss {fmt(best.get('loss'))} at "
                     f"density {fmt(best.get('density'))}, α = {fmt(best.get('alpha'))} "
                     f"({len(m['densities'])} densities × {len(m['alpha'])} α).")
        lines.append("")
        tasks = list(m["tasks"])
        rows = []
        for d in m["per_density"]:
            g = d["general_min"] or {}
            rows.append([d["density"], g.get("loss"), g.get("alpha"), d["barrier"]]
                        + [(d["task_min"].get(t) or {}).get("loss") for t in tasks]
                        + [f"`{d['direction']}`"])
        lines += table(["density", "min general loss", "α at min", "barrier"] + [f"min {t} loss" for t in tasks]
                       + ["direction"], rows)
        lines += [f"![{name}: {Path(p).stem}]({p})" for p in an.get("plots", {}).get(name, [])] + [""]
    lines.append("Each density's merged direction is an ordinary line sweep (its crossings, bootstrap and "
                 "refinement are in the sections above); barrier: general loss, n/a unless α = 0 and 1 are sampled.")
    return lines + [""]
