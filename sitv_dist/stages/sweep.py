"""The sweep stage: plan the unique points (refusing to mix results of another experiment),
then evaluate the missing ones with the launcher chosen here, once: every torchrun rank a
worker, a Slurm array job, N local processes, or this process. Counts come from the disk,
so they mean the same for every launcher. Refinement rounds go through the same path."""
from __future__ import annotations

import functools
import os
import socket
import time
from contextlib import contextmanager

import torch

from ..config import ConfigError, ExperimentConfig, dump
from ..distributed import local, slurm, torchrun
from ..distributed.where import Place, from_env, owned_shards
from ..outdir import RUN_VARIABLE, OutDir
from ..sweep import budget
from ..sweep.fingerprint import changes, experiment_inputs
from ..sweep.hashing import FileHashes
from ..sweep.plan import Plan, load_plan, make_plan
from ..sweep.refine import add_round, propose
from ..sweep.worker import run_from_out_dir, run_in_process, run_shards
from ..texts import eval_texts
from ..vectors import taskvector
from .prepare import derive_directions, preflight, prepare_base
from .report import reduce_and_report


THIS_PROCESS = Place(0, 1, 0, "local")     # a plain process: the configured launcher starts the workers


def choose_launcher(cfg: ExperimentConfig, place: Place) -> str:
    """'torchrun' (this process is one rank of a launch), 'slurm', 'processes' or 'inline'."""
    if place.launcher == "torchrun":
        return "torchrun"
    if cfg.sweep.launcher == "slurm":
        return "slurm"
    return "processes" if cfg.sweep.workers > 1 else "inline"


def plan_sweep(cfg: ExperimentConfig, out: OutDir, min_shards: int = 1) -> Plan:
    """Build the plan and write OUT/plan.json; refuses a config whose changes would alter
    points already on disk (naming what changed; added directions, grids and eval sets are
    fine). There are at least as many shards as workers (`min_shards`, and slurm.tasks for
    Slurm). The check and the write happen under OUT's plan lock, so two sweeps cannot race."""
    out = OutDir(out)
    preflight(cfg)
    location = prepare_base(cfg, out)
    derive_directions(cfg, out)       # before the fingerprint, which digests every direction's file
    budget.check(cfg, location)       # the memory plan (`sitv plan`): refuse before any model loads
    hashes = FileHashes(out.hash_cache)
    inputs = experiment_inputs(cfg, location, taskvector.direction_files(cfg, out), eval_texts(cfg), hashes)
    if cfg.sweep.launcher == "slurm":
        min_shards = max(min_shards, cfg.slurm.tasks)
    with out.plan_lock():
        old = load_plan(out) if out.plan.is_file() else None
        if old is not None and (out.has_points() or out.sweep_in_progress()):
            changed = changes(old.inputs, inputs) if old.inputs else ["plan.json was written by an older version"]
            if changed:
                raise ConfigError(f"out_dir: {out.root} holds results that this config would change: "
                                  f"{'; '.join(changed[:6])}{' …' if len(changed) > 6 else ''}. Use a new out_dir, "
                                  "or delete its points/ folder to recompute everything")
        plan = make_plan(cfg, inputs, min_shards)
        if old is not None:
            plan.keep_refinements(old)
        out.write_config(dump(cfg))
        out.write_plan(plan.to_json())
    return plan


def _announce(out: OutDir, cfg: ExperimentConfig, todo: int, targeted: int, how: str) -> str:
    """What is about to run, and how long it should take by this OUT's own past rate."""
    line = f"sweep: {todo} of {targeted} points to evaluate ({how}"
    line += f", {cfg.sweep.workers} workers)" if how == "processes" else ")"
    seconds = (out.read_optional(out.timings) or {}).get("sweep", 0.0)
    evaluations = sum(out.evaluation_counts().values())
    if todo and evaluations and seconds:
        parallel = cfg.sweep.workers if how == "processes" else 1
        line += f"; about {seconds / evaluations * todo / parallel / 60:.1f} min at this out_dir's past rate"
    return line


def _report_counts(stats: dict, plan: Plan) -> None:
    print(f"sweep: {stats['evaluated']} evaluated, {stats['skipped']} already done, {stats['missing']} missing, "
          f"{stats['failed']} failed ({len(plan.points)} points, {plan.unique_points} planned for "
          f"{plan.requested_evaluations} requested)", flush=True)


def execute(cfg: ExperimentConfig, out: OutDir, plan: Plan, shards: list[int] | None = None, progress: bool = True,
            wait: bool = True, stage: str = "sweep") -> dict:
    """Evaluate the missing points of a plan (of `shards`, default all) with the configured
    launcher (not torchrun: there every rank runs `sweep_rank`)."""
    out = OutDir(out)
    how = choose_launcher(cfg, THIS_PROCESS)
    shards = list(range(plan.num_shards)) if shards is None else shards
    targeted = [p for p in plan.points if p.shard in shards]
    done_before = out.done_ids(plan)
    with _launch_token() as token:
        stats = _launch(cfg, out, plan, shards, targeted, done_before, how, progress, wait, stage, token)
    if stats.get("complete") is False and stats.get("missing") is None:
        return stats                           # submitted to Slurm without waiting
    done_after = out.done_ids(plan)
    stats.update(evaluated=sum(out.evaluation_counts(token).values()),
                 skipped=sum(p.id in done_before for p in targeted),
                 missing=sum(p.id not in done_after for p in targeted),
                 complete=len(done_after) == len(plan.points))
    _report_counts(stats, plan)
    return stats


@contextmanager
def _launch_token():
    """A name for this launch, inherited by its workers (and Slurm tasks), so that the counts
    it prints are its own even while another sweep works on the same OUT."""
    token = f"{socket.gethostname()}:{os.getpid()}:{time.time_ns()}"
    previous = os.environ.get(RUN_VARIABLE)
    os.environ[RUN_VARIABLE] = token
    try:
        yield token
    finally:
        if previous is None:
            os.environ.pop(RUN_VARIABLE, None)
        else:
            os.environ[RUN_VARIABLE] = previous


def _launch(cfg, out, plan, shards, targeted, done_before, how, progress, wait, stage, token) -> dict:
    """Start the workers the launcher `how` calls for; returns what it knows of failures."""
    stats = {"submitted": [], "failed": 0}
    total = len(plan.points)
    print(_announce(out, cfg, sum(p.id not in done_before for p in targeted), len(targeted), how), flush=True)
    with out.timed(stage):
        if how == "slurm":
            jobs = submit_to_slurm(cfg, out, plan, done_before, token)
            stats["submitted"] = [j.job_id for j in jobs]
            print(f"submitted {len(jobs)} Slurm array task(s): {', '.join(stats['submitted']) or 'none needed'}",
                  flush=True)
            if jobs and not wait:
                return stats | {"complete": False, "evaluated": 0, "skipped": len(done_before), "missing": None}
            if jobs:
                ended = slurm.wait(jobs, out.count_point_files, total, cfg.slurm.poll_s, progress)
                stats["failed"] = len(ended["failed"])
                for job_id, error in ended["failed"].items():
                    print(f"Slurm task {job_id} failed: {error}", flush=True)
        elif how == "processes":
            n, threads = cfg.sweep.workers, cfg.sweep.threads_per_worker or 1
            args = [(cfg, str(out.root), plan, owned_shards(plan.num_shards, k, n), threads, device)
                    for k, device in enumerate(local.worker_devices(n))]
            result = local.run_processes(run_in_process, args, out.count_point_files, total, progress)
            stats["failed"] = len(result["failed_workers"])
        else:
            if cfg.sweep.threads_per_worker:
                torch.set_num_threads(cfg.sweep.threads_per_worker)
            stats["failed"] = run_shards(cfg, out, plan, shards, progress=progress)["failed"]
    return stats


def submit_to_slurm(cfg: ExperimentConfig, out: OutDir, plan: Plan, done: set[str], token: str = "") -> list:
    """One array task per shard group that still has points outside `done` (so a rerun after a
    crash, `scancel` or node failure submits just what is left)."""
    tasks = cfg.slurm.tasks or plan.num_shards
    missing_shards = {p.shard for p in plan.points if p.id not in done}
    groups = [g for g in (owned_shards(plan.num_shards, k, tasks) for k in range(tasks))
              if missing_shards.intersection(g)]
    if not groups:
        return []
    folder = out.new_slurm_folder()
    jobs = slurm.submit(cfg.slurm, folder, f"sitv-{cfg.name}", functools.partial(run_from_out_dir, str(out.root), run=token),
                        groups)
    out.record_submission({"time": time.time(), "folder": str(folder), "job_ids": [j.job_id for j in jobs],
                           "shards": groups})
    return jobs


def sweep_rank(cfg: ExperimentConfig, out: OutDir, place: Place, reduce_at_end: bool = True) -> dict:
    """One rank of a torchrun sweep: rank 0 plans, every rank evaluates its shards, rank 0
    reduces and reports. No collectives in the hot loop."""
    out = OutDir(out)
    # A long sweep keeps early finishers waiting at the final barrier: allow for it.
    with torchrun.process_group(place, torch.cuda.is_available(), hours=72) as device:
        if place.rank == 0:
            plan_sweep(cfg, out, place.world)       # builds the embedded base if needed, writes plan.json
        torchrun.barrier()
        plan = load_plan(out)
        shards = owned_shards(plan.num_shards, place.rank, place.world)
        with out.timed(f"sweep:rank{place.rank}"):
            stats = run_shards(cfg, out, plan, shards, device, progress=place.rank == 0)
        counts = torchrun.gather({k: stats[k] for k in ("evaluated", "skipped", "failed")}, place.world)
        if place.rank == 0:
            total = {k: sum(c[k] for c in counts) for k in ("evaluated", "skipped", "failed")}
            print(f"sweep: {total['evaluated']} evaluated, {total['skipped']} already done, {total['failed']} failed "
                  f"over {place.world} ranks", flush=True)
            if reduce_at_end and not total["failed"]:
                reduce_and_report(out)
                print(f"report: {out.report}", flush=True)
    return stats


def sweep(cfg: ExperimentConfig, out: OutDir, shards: list[int] | None = None, progress: bool = True,
          wait: bool = True) -> dict:
    """Plan, then evaluate the missing points of `shards` (default: all)."""
    out = OutDir(out)
    return execute(cfg, out, plan_sweep(cfg, out), shards, progress, wait)


def refine(cfg: ExperimentConfig, out: OutDir, rounds: int, tol: float, progress: bool = True) -> list[int]:
    """Refinement rounds (sitv_dist.sweep.refine) on a complete sweep, up to `rounds` in all;
    returns the points added per new round."""
    out = OutDir(out)
    task_of = {d: d for d in cfg.direction_names() if cfg.task(d)}
    added = []
    while True:                # `rounds` counts every round so far: a rerun adds none
        plan = load_plan(out)
        round_no = max(p.round for p in plan.points) + 1
        proposals = propose(plan, out, tol, task_of) if round_no <= rounds else {}
        if not proposals:
            break
        added.append(add_round(plan, proposals, round_no))
        out.write_plan(plan.to_json())
        stats = execute(cfg, out, plan, progress=progress, stage="refine")
        if not stats["complete"]:
            raise RuntimeError(f"refinement round {round_no}: {stats['missing']} point(s) missing; rerun to finish")
        print(f"refine: round {round_no} added {added[-1]} point(s)", flush=True)
    return added


def sweep_command(cfg: ExperimentConfig, out: OutDir, shard: int | None, wait: bool, reduce: bool) -> int:
    """`sitv sweep`: the launcher decides; exit code 1 when points failed or are missing."""
    place = from_env()
    if choose_launcher(cfg, place) == "torchrun":
        stats = sweep_rank(cfg, out, place, reduce_at_end=reduce)
        return 1 if stats["failed"] else 0
    stats = sweep(cfg, out, None if shard is None else [shard], wait=wait or cfg.sweep.launcher != "slurm")
    if stats["failed"] or (stats["missing"] and shard is None):
        return 1
    if reduce and shard is None and stats["complete"]:
        reduce_and_report(out)
        print(f"report: {out.report}")
    return 0
