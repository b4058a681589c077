"""The Markdown sections of the run report, in a fixed order (:func:`render_report`).

Every number printed comes from the analysis dict (:func:`.report.build_analysis`) and goes
through :func:`.markdown.fmt`, so the report's base loss is the L(0) entry itself. The
wording says what was measured and claims nothing more.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..outdir import OutDir
from .accuracy_report import accuracy_section
from .markdown import fmt, interval, table
from .report_config import configuration

NO_CROSSING = "no sign change of L(α) − L(0) in the sampled range"
_LAYOUT = OutDir(".")                       # file names, as OutDir lays OUT out


def _pt(xy: list, label: str = "L") -> str:
    return f"(α = {fmt(xy[0])}, {label} = {fmt(xy[1])})"


def _coords(c: list) -> str:
    return "(" + ", ".join(fmt(v) for v in c) + ")"


# ----------------------------------------------------------------------------- sections
def _summary(an: dict) -> list[str]:
    rows = []
    for name, a in an["sweeps"].items():
        if a["kind"] == "line":
            g, t = a["general_min"], a.get("task_min") or {}
            rows.append([name, "line", a["base_loss"], g["y"], g["x"], t.get("y"), t.get("x"),
                         len(a["crossings"])])
        else:
            m = a.get("min") or {}
            rows.append([name, "grid", a["base_loss"], m.get("loss"),
                         _coords(m["coefficients"]) if m else "n/a", None, None, "—"])
    lines = ["## Summary", ""]
    if not rows:
        return lines + [f"No {_LAYOUT.results_dir.name}/*.json found.", ""]
    lines += table(["sweep", "kind", "base loss L(0)", "min general loss", "α at min",
                    "min task loss", "α at task min", "crossings"], rows)
    lines.append("Crossings are sign changes of L(α) − L(0) between neighbouring samples, located "
                 "by linear interpolation; the base point α = 0 is excluded. Non-finite losses "
                 "are shown as n/a.")
    for name, a in an["sweeps"].items():
        bad = {k: v for k, v in a.get("nonfinite", {}).items() if v}
        if bad:
            lines.append(f"- `{name}`: non-finite losses: " + ", ".join(f"{k} {v}" for k, v in bad.items()))
    return lines + [""]


def _timing(an: dict) -> list[str]:
    t = an["timing"]
    lines = ["## Timing breakdown", ""]
    if t["stages"]:
        rows = [[k, v, 100.0 * v / t["total_s"] if t["total_s"] else None] for k, v in t["stages"].items()]
        lines += table(["stage", "seconds", "% of total"], rows + [["total", t["total_s"], None]])
    else:
        lines += [f"No {_LAYOUT.timings.name} found.", ""]
    lines.append(f"Evaluation time per point: mean {fmt(t['point_time_mean_s'])} s over "
                 f"{t['points_timed']} unique points (sum {fmt(t['point_time_total_s'])} s).")
    return lines + [""]


def _training(an: dict) -> list[str]:
    lines = ["## Training history", ""]
    if not an["training"]:
        return lines + ["No fine-tuning histories found.", ""]
    rows = [[task, h["epochs_run"], h["best_epoch"], h["stopped_early"], h["final_train_loss"],
             h["final_val_loss"], h["time_s"]] for task, h in an["training"].items()]
    return lines + table(["task", "epochs run", "best epoch", "stopped early", "final train loss",
                          "final val loss", "time (s)"], rows)


def _results(an: dict) -> list[str]:
    lines = ["## Results", ""]
    for name, a in an["sweeps"].items():
        if a["kind"] != "line":
            continue
        c = a["curves"]
        n = len(c["alpha"])
        col = lambda k: c[k] if c.get(k) is not None else [None] * n  # noqa: E731
        rows = [list(r) for r in zip(c["alpha"], c["general"], col("task"), col("squaring"),
                                     col("compositional"))]
        lines += [f"### {name} (direction `{a['direction']}`, task `{a['task']}`)", ""]
        lines += table(["α", "L(α)", "task loss", "L(2α)", "L(α+α²)"], rows)
    return lines


def _crossing_rows(crossings: list[dict], mapped: bool, label: str) -> list[list[Any]]:
    rows = []
    for k, x in enumerate(crossings, 1):
        row = [k, x["x"]] + ([x["coefficient"]] if mapped else [])
        rows.append(row + [x["direction"] + (" (sample at L(0))" if x.get("exact") else ""),
                           _pt(x["left"], label), _pt(x["right"], label)])
    return rows


def _curve_section(an: dict, title: str, key: str | None, label: str, mlabel: str = "") -> list[str]:
    lines = [f"## {title}", ""]
    for name, a in an["sweeps"].items():
        if a["kind"] != "line":
            continue
        part = a if key is None else a.get(key)
        lines += [f"### {name}", ""]
        if part is None:
            lines += ["Not evaluated in this sweep.", ""]
            continue
        if key is not None:
            m = part["min"]
            lines += [part["note"], "", f"Minimum of {label}: {fmt(m['y'])} at α = {fmt(m['x'])}.", ""]
        if not part["crossings"]:
            lines += [NO_CROSSING if key is None else
                      f"no sign change of {label} − L(0) in the sampled range", ""]
            continue
        head = ["#", "α (interpolated)"] + ([f"{mlabel} (coefficient on the line)"] if mlabel else [])
        lines += table(head + ["direction", "left sample", "right sample"],
                       _crossing_rows(part["crossings"], bool(mlabel), label))
    return lines


def _uncertainty(an: dict) -> list[str]:
    """Bootstrap intervals (only when the run's per-point files were there to resample)."""
    unc = an.get("uncertainty")
    if not unc:
        return []
    first = next((u for u in unc.values() if u.get("available")), None)
    lines = ["## Uncertainty (bootstrap over eval texts)", ""]
    if first is not None:
        pct = f"{100 * first['level']:g}%"
        lines += [f"{first['replicates']} paired bootstrap replicates (seed {first['seed']}): the texts of each "
                  f"eval set are drawn again with replacement{' within each category' if first['stratified'] else ''}, "
                  f"with the same draw at every α, and every loss, crossing and arg-min is recomputed "
                  f"({pct} percentile intervals; a crossing's interval is over the replicates in which it is "
                  f"present). Only eval-set sampling is covered, not interpolation between samples or "
                  f"fine-tuning randomness.", ""]
    for name, u in unc.items():
        lines += [f"### {name}", ""]
        if not u.get("available"):
            lines += [f"Not computed: {u.get('reason')}.", ""]
            continue
        pct = f"{100 * u['level']:g}%"
        line = u["general"]["line"]
        am = line["argmin"]
        rows = [["L(0)", line["ref"], interval(line["ref_ci"]), "—"],
                ["α at min L", am["x"], interval(am["ci"]),
                 None if am["at_observed"] is None else 100 * am["at_observed"]],
                ["min L", am["y"], interval(am["min_loss_ci"]), "—"]]
        t = u.get("task")
        if t:
            tm = t["argmin"]
            rows += [["task loss at α = 0", t["ref"], interval(t["ref_ci"]), "—"],
                     ["α at min task loss", tm["x"], interval(tm["ci"]),
                      None if tm["at_observed"] is None else 100 * tm["at_observed"]]]
        lines += table(["quantity", "measured", f"{pct} interval", "replicates with the same α (%)"], rows)
        crows = []
        for key, label in (("line", "L(α)"), ("squaring", "L(2α)"), ("compositional", "L(α+α²)")):
            for k, c in enumerate((u["general"].get(key) or {}).get("crossings") or [], 1):
                verdict = (u["general"][key]["returns_to_base"]["crossings"][k - 1] or {}).get("resolved")
                crows.append([label, k, c["x"], interval(c["ci"]), 100 * c["exists"], verdict])
        if crows:
            lines += table(["curve", "#", "α (interpolated)", f"{pct} interval", "present in replicates (%)",
                            "sign change resolved"], crows)
        lines += [line["returns_to_base"]["statement"], ""]
    return lines


def _preference(an: dict) -> list[str]:
    prefs = {n: a["preference"] for n, a in an["sweeps"].items() if a.get("preference")}
    if not prefs:
        return []
    rows = [[n, p["task"], p["opposite"], p["at_base"], p["general_min_alpha"], p["at_general_min"]]
            for n, p in prefs.items()]
    return ["## Preference score", "",
            "Loss on the opposite sentiment's eval set minus loss on the task's own eval set.", ""] + \
        table(["sweep", "task", "opposite", "at α = 0", "α at general min", "at general min"], rows)


def _categories(an: dict) -> list[str]:
    lines = ["## Per-category losses", ""]
    for name, a in an["sweeps"].items():
        if a["kind"] == "line" and a["categories"]:
            rows = [[c, v["base_loss"], v["min"]["y"], v["min"]["x"], v["min"]["interior"]]
                    for c, v in a["categories"].items()]
            lines += [f"### {name}", ""] + table(
                ["category", "L(0)", "min loss", "α at min", "interior min"], rows)
    return lines


def _grids(an: dict) -> list[str]:
    lines = ["## Grid sweeps", ""]
    for name, a in an["sweeps"].items():
        if a["kind"] != "grid":
            continue
        rows = [["base loss L(0, 0)", a["base_loss"], "origin"]]
        for label, key in (("minimum", "min"), ("maximum", "max"), ("closest to base (origin excluded)",
                                                                   "closest_to_base")):
            c = a.get(key)
            rows.append([label, c["loss"] if c else None, _coords(c["coefficients"]) if c else "n/a"])
        lines += [f"### {name} (directions: {', '.join(a['directions'])})", ""]
        lines += table(["quantity", "general loss", "coefficients"], rows)
        add = a.get("additivity")
        if add is None:
            lines += ["Additivity not computed (needs exactly 2 directions with 0 on both axes).", ""]
        else:
            mx = add["max_abs_interaction"] or {}
            lines += [f"Additive model L(α,0) + L(0,β) − L(0,0) vs observed over {add['cells']} "
                      f"off-axis cells: interaction RMS {fmt(add['interaction_rms'])}, max |interaction| "
                      f"{fmt(mx.get('abs'))} at {_coords(mx['coefficients']) if mx else 'n/a'}, "
                      f"R² of the additive model {fmt(add['r2'])}.", ""]
        for p in an.get("plots", {}).get(name, []):
            lines += [f"![{name} heatmap]({p})", ""]
    return lines


def _plots(an: dict) -> list[str]:
    lines = ["## Plots", ""]
    for name, paths in an.get("plots", {}).items():
        lines += [f"![{name}: {Path(p).stem}]({p})" for p in paths] + [""]
    return lines


def _dedupe(an: dict) -> list[str]:
    d = an["dedupe"]
    if d is None:
        return ["## Dedupe", "", f"No {_LAYOUT.plan.name} found.", ""]
    return ["## Dedupe", "", f"The planner evaluated {d['unique_points']} unique points for "
            f"{d['requested_evaluations']} requested evaluations, saving {d['saved']} "
            f"({fmt(None if d['saved_fraction'] is None else 100 * d['saved_fraction'])} %).", ""]


def _refined(an: dict) -> list[str]:
    """Crossings and minima over every point on each line, refinement points included."""
    lines = ["## Refined crossings and minima", ""]
    for name, r in sorted((an.get("refined") or {}).items()):
        lines += [f"### {name}", "", f"{r['samples']} points on the line, {r['refined']} of them added by "
                  "refinement rounds. Each location is bracketed by the two points around it.", ""]
        if r["crossings"]:
            lines += ["| crossing of L(c) − L(0) at c | bracket | width | direction |", "|---|---|---|---|"]
            lines += [f"| {fmt(c['x'])} | [{fmt(c['bracket'][0])}, {fmt(c['bracket'][1])}] | {fmt(c['width'])} | "
                      f"{c['direction']} |" for c in r["crossings"]]
        else:
            lines.append("no sign change of L(c) − L(0) over the sampled coefficients")
        lines.append("")
        for label, key in (("general", "minima"), ("task", "task_minima")):
            for m in r.get(key) or []:
                lines.append(f"- local minimum of the {label} loss {fmt(m['loss'])} at c = {fmt(m['x'])}, "
                             f"bracket [{fmt(m['bracket'][0])}, {fmt(m['bracket'][1])}]")
        lines.append("")
    return lines


def render_report(run: dict, an: dict) -> str:
    """Markdown text of the report, sections in a fixed order."""
    parts = [["# sitv-dist report", ""], _summary(an), configuration(run), _timing(an), _training(an),
             _results(an), _curve_section(an, "Crossings", None, "L(α)"),
             _curve_section(an, "Squaring test", "squaring", "L(2α)", "2α"),
             _curve_section(an, "Compositional test", "compositional", "L(α+α²)", "α+α²"),
             _refined(an), _uncertainty(an), accuracy_section(an),
             _preference(an), _categories(an), _grids(an), _plots(an), _dedupe(an)]
    parts = parts[:1] + [p + ["No sweeps of this kind in this run.", ""] if len(p) == 2 else p
                         for p in parts[1:]]
    return "\n".join(line for part in parts for line in part).rstrip() + "\n"
