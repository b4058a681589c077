"""The whole pipeline in one process: `sitv run`."""
from __future__ import annotations

from pathlib import Path

from ..config import ExperimentConfig, dump
from ..outdir import OutDir
from .derivatives import compute as derivatives
from .finetune import finetune_here
from .prepare import preflight, prepare_base, tasks_to_finetune
from .report import reduce_and_report
from .sweep import refine, sweep


def run(cfg: ExperimentConfig, progress: bool = True) -> Path:
    """The whole pipeline on one process."""
    preflight(cfg)
    out = OutDir(cfg.out_dir).create()
    out.write_config(dump(cfg))
    prepare_base(cfg, out)
    finetune_here(cfg, out, tasks_to_finetune(cfg), announce=False)
    stats = sweep(cfg, out, progress=progress)
    if not stats["complete"]:
        raise RuntimeError(f"{stats['missing']} point(s) missing ({stats['failed']} failures; see "
                           f"{out.failures_dir} and `sitv status {out.root}`); rerun to evaluate only those")
    if cfg.sweep.refine_rounds:
        refine(cfg, out, cfg.sweep.refine_rounds, cfg.sweep.refine_tol, progress)
    derivatives(cfg, out, progress=progress)
    reduce_and_report(out)
    print(f"report: {out.report}", flush=True)
    return out.report
