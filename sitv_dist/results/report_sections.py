"""The Markdown sections of the run report, in a fixed order (:func:`render_report`).

Every number printed comes from the analysis dict (:func:`.report.run_report.build_analysis`) and goes
through :func:`.markdown.fmt`, so the report's base loss is the L(0) entry itself. The
wording says what was measured and claims nothing more.
"""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Callable

from ..outdir import OutDir
from ..sweep.scores.scores_registry import SCORES
from .markdown import fmt, percent, seconds, table
from .report.line_sections import appendix_values, figure, line_sections, summary
from .report.search_section import search_section
from .report.other_sections import barrier_section, configuration, derivatives_section, merge_section

NO_CROSSING = "no sign change of L(α) − L(0) in the sampled range"
_LAYOUT = OutDir(".")                       # file names, as OutDir lays OUT out
GRID_CAPTIONS = {"heatmap": "general loss L(α, β) with contours; red dashed: the L(0, 0) contour; the origin "
                            "and the lowest cell marked",
                 "surface": "the same loss as a surface",
                 "slices": "L along each axis with the other coefficient fixed at a few values",
                 "planes": "slices through the grid's planes"}


def _coords(c: list) -> str:
    return "(" + ", ".join(fmt(v) for v in c) + ")"


# ----------------------------------------------------------------------------- sections
def section_function(path: str) -> Callable[[dict], list[str]]:
    """The report section a score names ("module:function"; `sweep` cannot import `results`)."""
    module, _, function = path.partition(":")
    return getattr(importlib.import_module(module), function)


def score_sections(an: dict) -> list[str]:
    """The sections of the registered scores (sweep.scores.scores_registry) in registry order, each
    function once: the multiple-choice and lm-eval scores share '## Accuracy'."""
    paths = list(dict.fromkeys(cls.report_section for cls in SCORES.values() if cls.report_section))
    return [line for path in paths for line in section_function(path)(an)]


def _timing(an: dict) -> list[str]:
    t = an["timing"]
    lines = ["## Timing breakdown", ""]
    if t["stages"]:
        rows = [[k, seconds(v), percent(v / t["total_s"]) if t["total_s"] else "n/a"] for k, v in t["stages"].items()]
        lines += table(["stage", "seconds", "share of total"], rows + [["total", seconds(t["total_s"]), "100%"]])
    else:
        lines += [f"No {_LAYOUT.timings.name} found.", ""]
    lines.append(f"Evaluation time per point: mean {fmt(t['point_time_mean_s'], 3)} s over "
                 f"{t['points_timed']} unique points (sum {seconds(t['point_time_total_s'])} s).")
    return lines + [""]


def _training(an: dict) -> list[str]:
    lines = ["## Training history", ""]
    if not an["training"]:
        return lines + ["No fine-tuning histories found.", ""]
    rows = [[task, h["epochs_run"], h["best_epoch"], h["stopped_early"], h["final_train_loss"],
             h["final_val_loss"], seconds(h["time_s"])] for task, h in an["training"].items()]
    return lines + table(["task", "epochs run", "best epoch", "stopped early", "final train loss",
                          "final val loss", "time (s)"], rows)


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


def pending_note(an: dict) -> list[str]:
    """The report of a run still in progress says so at the top, once, with what is to come."""
    pending = an.get("pending") or {}
    if not pending:
        return []
    items = "; ".join(f"{'slope and curvature' if k == 'derivatives' else k}: {v}" for k, v in pending.items())
    return [f"**Run in progress**: this report is rewritten as each phase finishes. Pending: {items}.", ""]


def _derivatives(an: dict) -> list[str]:
    if "derivatives" in (an.get("pending") or {}):
        return ["## Slope and curvature at α = 0", "",
                f"Pending ({an['pending']['derivatives']}): this section fills in when they are done.", ""]
    return derivatives_section(an)


def _grids(an: dict) -> list[str]:
    lines = ["## Grid sweeps", ""]
    for name, how in (an.get("pending") or {}).items():
        if name not in ("derivatives", "search"):
            lines += [f"### {name}", "", f"Pending ({how}): this section fills in when the sweep is done.", ""]
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
            kind = Path(p).stem[len(name) + 1:]
            lines += figure(p, f"{name}: {GRID_CAPTIONS.get(kind, kind)}")
    return lines


def _dedupe(an: dict) -> list[str]:
    d = an["dedupe"]
    if d is None:
        return ["## Dedupe", "", f"No {_LAYOUT.plan.name} found.", ""]
    return ["## Dedupe", "", f"The planner evaluated {d['unique_points']} unique points for "
            f"{d['requested_evaluations']} requested evaluations, saving {d['saved']} "
            f"({percent(d['saved_fraction'])}).", ""]


def render_report(run: dict, an: dict) -> str:
    """Markdown text of the report: the one-page summary first, then the details."""
    name = (run.get("resolved").name if run.get("resolved") is not None else None) or "experiment"
    parts = [["# sitv-dist report", "", f"Experiment `{name}`.", ""] + pending_note(an), summary(an),
             line_sections(an), score_sections(an), _derivatives(an), _grids(an),
             search_section(an, an.get("plots", {}).get("search", [])), barrier_section(an), merge_section(an),
             _preference(an), _categories(an), _training(an), _timing(an), _dedupe(an), configuration(run),
             appendix_values(an)]
    parts = parts[:1] + [p + ["No sweeps of this kind in this run.", ""] if len(p) == 2 else p
                         for p in parts[1:]]
    return "\n".join(line for part in parts for line in part).rstrip() + "\n"
