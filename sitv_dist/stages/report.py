"""The end of the pipeline: reduce the point files into results per sweep, then analyse and
write the report (each timed in OUT/timings.json)."""
from __future__ import annotations

from ..outdir import OutDir
from ..results.report.run_report import write_report
from ..sweep.reduce import reduce


def reduce_and_report(out: OutDir) -> dict:
    out = OutDir(out)
    with out.timed("reduce"):
        reduce(out)
    with out.timed("report"):
        return write_report(out.root)
