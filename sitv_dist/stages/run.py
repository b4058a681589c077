"""The whole pipeline in one process: `sitv run`, in phases so that the report is readable
early. The lines go first (their points, then their refinement), and the report is written as
soon as they are done; it is rewritten when the grids are done and again after slope and
curvature, each section not yet computed saying so in one line. Every phase prints one line as
it starts: its points and an ETA from the rate measured on this out_dir."""
from __future__ import annotations

import time
from pathlib import Path

from ..config import ExperimentConfig, dump
from ..outdir import OutDir
from ..sweep.plan import Plan, load_plan
from .derivatives import compute as derivatives, pending_jobs
from .finetune import finetune_here
from .phase_eta import estimate_seconds, measured_seconds, phase_line
from .prepare import preflight, prepare_base, tasks_to_finetune
from .report import reduce_and_report, report_so_far
from .search import search
from .sweep import THIS_PROCESS, SweepSummary, choose_launcher, execute, plan_sweep, refine, report_counts


def run(cfg: ExperimentConfig, progress: bool = True) -> Path:
    """The whole pipeline on one process (`progress` is kept for callers; the phases print one
    line each instead of progress bars, which fill a log with carriage returns)."""
    preflight(cfg)
    out = OutDir(cfg.out_dir).create()
    out.write_config(dump(cfg))
    prepare_base(cfg, out)
    finetune_here(cfg, out, tasks_to_finetune(cfg), announce=False)
    plan = plan_sweep(cfg, out)
    lines = [s.name for s in plan.sweeps if s.kind == "line"]
    rest = [s.name for s in plan.sweeps if s.kind != "line"]
    announced = False
    searching = bool(cfg.sweep.search.directions)
    if lines:
        _phase(cfg, out, plan, "lines", lines)
        if cfg.sweep.refine_rounds:
            _refine(cfg, out, lines)
        if rest or cfg.sweep.derivatives or searching:
            announced = _report(out, rest, cfg.sweep.derivatives, announced, searching)
    _phase(cfg, out, load_plan(out), "grids", [s.name for s in plan.sweeps])
    if searching:
        if rest:
            announced = _report(out, [], cfg.sweep.derivatives, announced, True)
        start = time.perf_counter()
        print(f"phase search: up to {cfg.sweep.search.budget} point(s) (sweep.search), held-out texts reported",
              flush=True)
        state = search(cfg, out, progress=False, announce=False)
        print(f"phase search: {len(state.history)} point(s) told in {time.perf_counter() - start:.0f} s", flush=True)
    if cfg.sweep.derivatives:
        if rest or searching:
            announced = _report(out, [], True, announced)
        start = time.perf_counter()
        print(f"phase derivatives: {pending_jobs(out)} entr(ies) to compute (each line's direction, its random "
              "controls, each two-direction grid's cross term)", flush=True)
        derivatives(cfg, out, progress=False)
        print(f"phase derivatives: done in {time.perf_counter() - start:.0f} s", flush=True)
    reduce_and_report(out)
    print(f"report: {out.report} (complete)", flush=True)
    return out.report


def _phase(cfg: ExperimentConfig, out: OutDir, plan: Plan, phase: str, sweeps: list[str] | None) -> None:
    """One sweep phase: its line, then its points (stage `sweep:<phase>` in timings.json)."""
    wanted = None if sweeps is None else set(sweeps)
    targeted = [p for p in plan.points if wanted is None or wanted & set(p.sweeps)]
    done = out.done_ids(plan)
    todo = [p for p in targeted if p.id not in done]
    workers = cfg.sweep.workers if choose_launcher(cfg, THIS_PROCESS) == "processes" else 1
    seconds = estimate_seconds(todo, measured_seconds(out, plan, done), workers)
    print(phase_line(f"phase {phase}", len(todo), len(targeted), seconds, workers), flush=True)
    if not todo:            # nothing to launch; the same count line as a launch prints
        report_counts(SweepSummary("none", skipped=len(targeted), missing=0,
                                   complete=len(done) == len(plan.points)), plan)
        return
    start = time.perf_counter()
    summary = execute(cfg, out, plan, stage=f"sweep:{phase}", sweeps=sweeps, announce=False, progress=False)
    if summary.missing:
        raise RuntimeError(f"{summary.missing} point(s) missing ({summary.failed} failures; see "
                           f"{out.failures_dir} and `sitv status {out.root}`); rerun to evaluate only those")
    print(f"phase {phase}: {summary.evaluated} point(s) evaluated in {time.perf_counter() - start:.0f} s", flush=True)


def _refine(cfg: ExperimentConfig, out: OutDir, lines: list[str]) -> None:
    start = time.perf_counter()
    print("phase refine: points inside each crossing's bracket and around each minimum, up to "
          f"{cfg.sweep.refine_rounds} round(s)", flush=True)
    added = refine(cfg, out, cfg.sweep.refine_rounds, cfg.sweep.refine_tol, False, sweeps=lines, announce=False)
    print(f"phase refine: {sum(added)} point(s) in {len(added)} round(s), {time.perf_counter() - start:.0f} s",
          flush=True)


def _report(out: OutDir, pending_sweeps: list[str], pending_derivatives: bool, announced: bool,
            pending_search: bool = False) -> bool:
    """Write the report so far; the first time, say where it is."""
    report_so_far(out, pending_derivatives, pending_search)
    if not announced:
        what = ", ".join((["the grids"] if pending_sweeps else []) + (["the search"] if pending_search else []) +
                         (["slope and curvature"] if pending_derivatives else []))
        print(f"report: {out.report} (the lines' findings; {what} pending, filled in as they finish)", flush=True)
    return True
