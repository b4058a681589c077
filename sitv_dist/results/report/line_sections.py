"""The report's first page and its line sections, both written from one set of findings per
line (:mod:`.findings`: every point on the line, with bootstrap intervals), so the summary,
the per-line tables, `analysis.json` and the figures cannot disagree.

The explanations that apply to every line are said once, in the summary's notes."""
from __future__ import annotations

from typing import Any

from ..markdown import delta, fmt, interval, percent, table

NOTES = [
    "c is the coefficient of the direction T: every evaluated point on a line counts (the α grid, the "
    "squaring points 2α, the compositional points α + α² and refinement points), since all of them "
    "sample the same function L(c) = loss(M_base + cT). So L(2α) and L(α + α²) are this line read at 2α "
    "and α + α², and their crossings of L(0) are crossings of the line listed here.",
    "A crossing is a sign change of L(c) − L(0) between neighbouring points, located by linear "
    "interpolation (c = 0 itself excluded); its depth is the most extreme L(c) − L(0) sampled between the "
    "base (or the previous crossing) and it. A minimum's depth is L(c) − L(0) there.",
    "Intervals are paired bootstrap percentile intervals over the eval texts (the same draw at every c); "
    "'present' is the share of replicates with the finding. A crossing is resolved when L(c) − L(0) is "
    "measurably on one side before it and on the other after it; a dip below L(0) when its depth interval "
    "excludes 0; a local minimum above L(0) when it is present in at least the interval's level of "
    "replicates. What is not resolved is within the eval set's sampling noise and is not a finding.",
]


def _where(items: list[dict], depth: bool = False) -> str:
    if not items:
        return "none"
    parts = []
    for x in items:
        mark = "" if x["resolved"] is None else (" ✓" if x["resolved"] else " (not resolved)")
        size = f" (ΔL {delta(x['depth'])})" if depth else ""
        parts.append(f"{fmt(x['x'], 3)}{size}{mark}")
    return "; ".join(parts)


def _lines(an: dict) -> list[tuple[str, dict]]:
    return [(n, a) for n, a in an["sweeps"].items() if a["kind"] == "line" and a.get("findings")]


def summary(an: dict) -> list[str]:
    """The first page: one row of findings per line, then one per grid, then the notes."""
    lines = ["## Summary", ""]
    rows = []
    for name, a in _lines(an):
        f = a["findings"]
        g = f["global_min"]
        t = a.get("task_min") or {}
        rows.append([name, fmt(a["base_loss"]), f"{fmt(g['x'], 3)} ({delta(g['depth'])})",
                     _where(f["crossings"]), _where(f["minima"], depth=True),
                     "n/a" if t.get("x") is None else f"{fmt(t['x'], 3)} ({fmt(t['y'])})"])
    if rows:
        lines += table(["line", "L(0)", "lowest L at c (ΔL)", "crossings of L(0) at c", "interior minima at c (ΔL)",
                        "lowest task loss at α (loss)"], rows)
        for name, a in _lines(an):
            if a["findings"]["statement"]:
                lines.append(f"- `{name}`: {a['findings']['statement']}")
        lines.append("")
    grids = [(n, a) for n, a in an["sweeps"].items() if a["kind"] == "grid"]
    if grids:
        rows = []
        for name, a in grids:
            m, add = a.get("min") or {}, a.get("additivity") or {}
            rows.append([name, " × ".join(a["directions"]), fmt(a["base_loss"]), fmt(m.get("loss")),
                         "(" + ", ".join(fmt(v, 3) for v in m["coefficients"]) + ")" if m else "n/a",
                         fmt(add.get("r2"), 3)])
        lines += table(["grid", "directions", "L(0, 0)", "lowest L", "at", "R² of the additive model"], rows)
    if not rows and not grids:
        return lines + ["No results/*.json found.", ""]
    return lines + ["Notes:", ""] + [f"{k}. {text}" for k, text in enumerate(NOTES, 1)] + [""]


def figure(path: str, caption: str) -> list[str]:
    """A figure with its caption (each figure appears once in the report)."""
    return [f"![{caption}]({path})", "", f"*{caption}*", ""]


def _crossing_table(f: dict) -> list[str]:
    if not f["crossings"]:
        return ["No crossing of L(0) over the evaluated points.", ""]
    rows = [[k, fmt(c["x"], 4), f"{fmt(c['bracket'][0], 4)} .. {fmt(c['bracket'][1], 4)}", c["direction"],
             delta(c["depth"]), interval(c["interval"]), percent(c["exists"]), fmt(c["resolved"])]
            for k, c in enumerate(f["crossings"], 1)]
    return table(["#", "c", "between points", "direction", "depth ΔL", "interval of c", "present", "resolved"],
                 rows)


def _minima_table(f: dict) -> list[str]:
    if not f["minima"]:
        return ["No interior local minimum of the general loss over the evaluated points.", ""]
    rows = [[k, fmt(m["x"], 4), m["kind"], fmt(m["loss"]), delta(m["depth"]),
             interval(m["depth_interval"], delta), percent(m["exists"]), fmt(m["resolved"])]
            for k, m in enumerate(f["minima"], 1)]
    return table(["#", "c", "kind", "L(c)", "depth ΔL", "interval of ΔL", "present", "resolved"], rows)


def line_sections(an: dict) -> list[str]:
    """Per line: its figure, its findings (the same as the summary's), its task loss."""
    lines = ["## Lines", ""]
    for name, a in _lines(an):
        f = a["findings"]
        lines += [f"### {name} (direction `{a['direction']}`)", ""]
        paths = an.get("plots", {}).get(name, [])
        line_fig = [p for p in paths if p.endswith("_line.png")]
        if line_fig:
            lines += figure(line_fig[0], f"{name}: ΔL(c) = L(c) − L(0) at the {f['samples']} evaluated points "
                            "with its bootstrap band (95 %, over eval texts), zoomed to the findings: crossings "
                            "(filled: resolved), interior minima (triangles), the lowest loss (star); the full "
                            "range below it, then the task loss's change on the α grid")
        g = f["global_min"]
        lines += [f"{f['samples']} evaluated points ({f['refined']} added by refinement rounds); L(0) = {fmt(a['base_loss'])}; lowest general loss "
                  f"{fmt(g['loss'])} at c = {fmt(g['x'], 4)} (ΔL {delta(g['depth'])}"
                  f"{', at an end of the range' if not g['interior'] else ''})"
                  + (f"; in the bootstrap replicates the lowest point lies in c = {interval(g['interval'])} "
                     f"({percent(g['at_same_c'])} of the replicates have their lowest point at the same c as this "
                     f"run)" if g.get("interval") else "") + ".", ""]
        lines += ["Crossings of L(0):", ""] + _crossing_table(f)
        lines += ["Interior minima:", ""] + _minima_table(f)
        if f["statement"]:
            lines += [f["statement"], ""]
        t = a.get("task_min") or {}
        if a.get("task"):
            lines += [f"Task loss ({a['task']}): {fmt(a.get('task_base_loss'))} at α = 0, lowest {fmt(t.get('y'))} "
                      f"at α = {fmt(t.get('x'), 3)}.", ""]
        cats = [p for p in paths if p.endswith("_categories.png")]
        if cats:
            lines += figure(cats[0], f"{name}: general loss per category on the α grid (★ = each category's minimum)")
    return lines


def appendix_values(an: dict) -> list[str]:
    """Every sampled value of each line, for reading off numbers (collapsed)."""
    lines = ["## Appendix: sampled values", ""]
    for name, a in _lines(an):
        c = a["curves"]
        n = len(c["alpha"])
        col = lambda k: c[k] if c.get(k) is not None else [None] * n  # noqa: E731
        rows: list[list[Any]] = [list(r) for r in zip(c["alpha"], c["general"], col("task"), col("squaring"),
                                                      col("compositional"))]
        lines += [f"<details><summary>{name}: the α grid</summary>", ""]
        lines += table(["α", "L(α)", "task loss", "L(2α)", "L(α+α²)"], rows) + ["</details>", ""]
    return lines
