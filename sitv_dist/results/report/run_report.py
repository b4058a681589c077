"""The run report of one output directory: the analysis, the plots and the Markdown report.

This module loads the run (every file through :class:`sitv_dist.outdir.OutDir`), builds the
analysis (:func:`build_analysis`) and writes the files (:func:`write_report`); the Markdown
sections are put together in :mod:`..report_sections` from :mod:`.line_sections` and
:mod:`.other_sections` (the configuration table among them).
"""
from __future__ import annotations

import json
from pathlib import Path

from ...io import atomic_write_text
from ...outdir import OutDir
from ..accuracy import accuracy_analysis, accuracy_uncertainty, add_chance_levels
from ..accuracy_report import plot_accuracy
from ..analysis.landscape import analyse, to_jsonable
from ..analysis.merge_sweeps import analyse_merges
from ..analysis.search_analysis import analyse_search
from ..plots.merge_plots import plot_merge
from ..plots.run_plots import plot_sweep
from ..plots.search_figure import plot_search
from ..report_sections import NO_CROSSING, render_report
from ..run_config import RunConfig
from ..uncertainty.derivative_intervals import add_derivatives
from ..uncertainty.run_bootstrap import add_barrier_intervals, run_uncertainty
from .findings import line_findings

__all__ = ["NO_CROSSING", "build_analysis", "dedupe_summary", "history_summary", "load_run", "render_report",
           "timing_summary", "write_report"]


# ----------------------------------------------------------------------------- loading
def load_run(out_dir: Path, skip=()) -> dict:
    """Everything the report reads (the results of sweeps in `skip` not); optional files come
    back as None (or empty)."""
    out = OutDir(out_dir)
    cfg = RunConfig.read(out)
    return {
        "results": out.read_results(skip),
        "plan": out.read_optional(out.plan),
        "timings": out.read_optional(out.timings),
        "config_text": cfg.text,
        "config": cfg.raw if cfg.text else None,
        "resolved": cfg.resolved,
        "histories": out.read_histories(),
    }


# ----------------------------------------------------------------------------- summaries
def dedupe_summary(plan: dict | None) -> dict | None:
    """How many evaluations the planner saved by evaluating each unique point once."""
    if not plan or "requested_evaluations" not in plan or "unique_points" not in plan:
        return None
    req, uniq = int(plan["requested_evaluations"]), int(plan["unique_points"])
    return {"requested_evaluations": req, "unique_points": uniq, "saved": req - uniq,
            "saved_fraction": (req - uniq) / req if req else None}


def timing_summary(timings: dict | None, results: dict) -> dict:
    """Stage times plus the mean evaluation time per unique point (ids shared by sweeps once)."""
    times = {}
    for res in results.values():
        for p in res.get("points", []):
            if p.get("time_s") is not None:
                times[p.get("id") or json.dumps(p.get("coefficients"))] = float(p["time_s"])
    vals = list(times.values())
    stages = {k: float(v) for k, v in (timings or {}).items() if isinstance(v, (int, float))}
    return {"stages": stages, "total_s": sum(stages.values()) if stages else None,
            "points_timed": len(vals), "point_time_mean_s": sum(vals) / len(vals) if vals else None,
            "point_time_total_s": sum(vals) if vals else None}


def history_summary(hist: dict) -> dict:
    """Epochs, best epoch, early stop and the last epoch's train/val loss of one fine-tune."""
    epochs = hist.get("epochs") or []
    last = epochs[-1] if epochs else {}
    return {"epochs_run": hist.get("epochs_run", len(epochs)), "best_epoch": hist.get("best_epoch"),
            "stopped_early": hist.get("stopped_early"), "final_train_loss": last.get("train_loss"),
            "final_val_loss": last.get("val_loss"), "time_s": hist.get("time_s")}


def build_analysis(run: dict) -> dict:
    """The contents of the analysis file (without the plot list, added once plots exist)."""
    return to_jsonable({
        "schema": "sitv-dist/analysis/1",
        "sweeps": {name: analyse(res) for name, res in run["results"].items()},
        "merge_sweeps": analyse_merges(run["results"]),
        "dedupe": dedupe_summary(run["plan"]),
        "timing": timing_summary(run["timings"], run["results"]),
        "training": {task: history_summary(h) for task, h in run["histories"].items()},
        "accuracy": {name: acc for name, res in run["results"].items() if (acc := accuracy_analysis(res))},
    })


def write_report(out_dir: Path, bootstrap: int = 1000, level: float = 0.95, seed: int = 0,
                 pending: dict[str, str] | None = None) -> dict:
    """Analyse every reduced sweep of ``out_dir``, write the analysis (JSON), the plots and the
    Markdown report where :class:`OutDir` puts them; return the analysis.

    ``pending`` (sweep name, or "derivatives" → how far it is) makes a report of a run still in
    progress: those sweeps' results files are not read (one left by an earlier run may be stale),
    slope and curvature are not read when "derivatives" is pending, and the report says in one
    line for each what is still to come (``analysis["pending"]``).

    When the per-point files with per-text losses are on disk, line sweeps are also
    bootstrapped over eval texts (``bootstrap`` replicates, 0: off) and the analysis gets an
    ``uncertainty`` entry and the report an "Uncertainty" section.
    """
    out = OutDir(out_dir)
    pending = dict(pending or {})
    run = load_run(out, skip=pending)
    an = build_analysis(run)
    if pending:
        an["pending"] = pending
    for name, acc in an["accuracy"].items():
        add_chance_levels(out, run["results"][name], acc)
    if bootstrap > 0:
        unc = run_uncertainty(out, run["results"], replicates=bootstrap, level=level, seed=seed)
        if unc:
            an["uncertainty"] = unc
        add_barrier_intervals(out, run["results"], an, bootstrap, level, seed)
        accuracy_unc = {name: u for name in an["accuracy"]
                        if (u := accuracy_uncertainty(out, run["results"][name], bootstrap, level, seed))}
        if accuracy_unc:
            an["accuracy_uncertainty"] = accuracy_unc
    if "derivatives" not in pending:
        add_derivatives(out, an, bootstrap, level, seed)
    for name, a in an["sweeps"].items():
        if a["kind"] == "line":
            a["findings"] = to_jsonable(line_findings(a, (an.get("uncertainty") or {}).get(name)))
    an["plots"], an["figure_marks"] = {}, {}
    for name, res in run["results"].items():
        paths, marks = plot_sweep(res, an["sweeps"][name], out.plots_dir, (an.get("uncertainty") or {}).get(name))
        if name in an["accuracy"]:
            paths += plot_accuracy(an["accuracy"][name], (an.get("accuracy_uncertainty") or {}).get(name),
                                   out.plots_dir)
        an["plots"][name] = [p.relative_to(out.root).as_posix() for p in paths]
        if marks is not None:
            an["figure_marks"][name] = marks
    for name, merge in an["merge_sweeps"].items():
        an["plots"][name] = [p.relative_to(out.root).as_posix() for p in plot_merge(merge, out.plots_dir)]
    search = analyse_search(out, bootstrap, level, seed)
    if search is not None:
        an["search"] = to_jsonable(search)
        an["plots"]["search"] = [p.relative_to(out.root).as_posix() for p in plot_search(search, out.plots_dir)]
    atomic_write_text(out.analysis, json.dumps(an, indent=1, allow_nan=False) + "\n")
    atomic_write_text(out.report, render_report(run, an))
    return an
