"""The end of the pipeline: reduce the point files into results per sweep, then analyse and
write the report (each timed in OUT/timings.json)."""
from __future__ import annotations

from ..config import read_resolved
from ..outdir import OutDir
from ..results.report.run_report import write_report
from ..sweep.reduce import reduce
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
