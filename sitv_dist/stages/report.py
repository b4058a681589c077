"""The end of the pipeline: reduce the point files into results per sweep, then analyse and
write the report (each timed in OUT/timings.json); and the report so far, while `sitv run` is
still evaluating the grids or the derivatives."""
from __future__ import annotations

from ..config import read_resolved
from ..outdir import OutDir
from ..results.report.run_report import write_report
from ..sweep.plan import load_plan
from ..sweep.reduce import MissingPoints, reduce
from ..tracking.curves import log_figures
from ..tracking.tracking_registry import open_tracking


def reduce_and_report(out: OutDir) -> dict:
    out = OutDir(out)
    with out.timed("reduce"):
        reduce(out)
    with out.timed("report"):
        analysis = write_report(out.root)
    cfg = read_resolved(out.config) if out.config.is_file() else None
    if cfg is not None and cfg.tracking.enabled():
        with open_tracking(cfg.tracking, cfg.name, out.root) as tracking:
            log_figures(tracking, out.root, analysis.get("plots", {}))
    return analysis


def report_so_far(out: OutDir, derivatives_pending: bool, search_pending: bool = False) -> dict:
    """The report of the sweeps that are complete; every other sweep (and slope and curvature,
    when `derivatives_pending`) is named as pending with its count of points on disk, and a
    results file left by an earlier run for a pending sweep is not read."""
    out = OutDir(out)
    with out.timed("report (while running)"):
        try:
            reduce(out)
            missing = {}
        except MissingPoints as exc:
            missing = exc.missing
        plan = load_plan(out)
        pending = {}
        for name, lost in missing.items():
            total = sum(name in p.sweeps for p in plan.points)
            pending[name] = f"{total - len(lost)} of {total} points evaluated so far"
        if search_pending:
            pending["search"] = "runs after the grids"
        if derivatives_pending:
            pending["derivatives"] = "computed after the sweep"
        return write_report(out.root, pending=pending)


def report_current(out: OutDir, bootstrap: int = 1000) -> dict:
    """`sitv report`: results files older than their points are reduced again first (a sweep
    that has lost points since is reported as pending, never from its stale file)."""
    out = OutDir(out)
    pending = {}
    if out.stale_results():
        try:
            reduce(out)
        except MissingPoints as exc:
            pending = {name: f"{len(lost)} point(s) missing since its last reduce; rerun `sitv sweep`"
                       for name, lost in exc.missing.items()}
    return write_report(out.root, bootstrap=bootstrap, pending=pending)


def report_after_search(out: OutDir) -> dict:
    """The report after `sitv search`: complete when every sweep is, else with the sweeps still
    missing points named as pending (a search may run before, or beside, the sweeps)."""
    out = OutDir(out)
    try:
        return reduce_and_report(out)
    except MissingPoints:
        return report_so_far(out, derivatives_pending=False)
