"""The sweep stage: plan the unique points (refusing to mix results of another experiment),
then evaluate the missing ones with the launcher chosen here, once: every torchrun rank a
worker, a Slurm array job, N local processes, or this process. Counts come from the disk,
so they mean the same for every launcher. Refinement rounds go through the same path."""
from __future__ import annotations

import functools
import os
import socket
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable

import torch

from ..config import ConfigError, ExperimentConfig, dump
from ..distributed import torchrun
from ..distributed.launcher import Work
from ..distributed.launchers import launcher
from ..distributed.where import Place, from_env, owned_shards
from ..outdir import RUN_VARIABLE, OutDir
from ..sweep import budget
from ..sweep.fingerprint import changes, experiment_inputs
from ..sweep.hashing import FileHashes
from ..sweep.plan import Plan, load_plan, make_plan
from ..sweep.refine import add_round, propose
from ..sweep.search import space
from ..sweep.worker import WorkerStats, enter
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
    paths = taskvector.direction_files(cfg, out)
    inputs = experiment_inputs(cfg, location, paths, eval_texts(cfg), hashes)
    parts = search_parts(cfg, paths)
    inputs["directions"].update(space.part_digests(parts, inputs["directions"], paths, cfg.sweep.search.split))
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
        plan = make_plan(cfg, inputs, min_shards, parts)
        if old is not None:
            plan.keep_refinements(old)
        out.write_config(dump(cfg))
        out.write_plan(plan.to_json())
    return plan


def search_parts(cfg: ExperimentConfig, paths: dict) -> list[str]:
    """The search's per-layer or per-group directions (none without a split)."""
    if not cfg.sweep.search.directions or cfg.sweep.search.split == "none":
        return []
    return space.coordinates(cfg, paths)


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


@dataclass
class SweepSummary:
    """How a sweep (or one refinement round) ended, counted from the disk so that it means the
    same for every launcher. Also readable by key (`summary["complete"]`), as scripts do."""
    launcher: str
    submitted: list[str] = field(default_factory=list)   # Slurm job ids
    waited: bool = True          # False: submitted to Slurm and returned without waiting
    evaluated: int = 0           # evaluations this launch made
    skipped: int = 0             # targeted points already on disk before it
    missing: int | None = None   # targeted points still not on disk (None: not waited for)
    failed: int = 0              # failed points, plus workers or tasks that ended badly
    complete: bool = False       # every point of the plan is on disk
    finish: Callable[[], "SweepSummary"] | None = field(default=None, repr=False, compare=False)
    # not waited for: blocks until the submitted jobs end, then counts (the Python API's handle.wait())

    def __getitem__(self, key: str):
        return getattr(self, key)


def report_counts(summary: SweepSummary, plan: Plan) -> None:
    print(f"sweep: {summary.evaluated} evaluated, {summary.skipped} already done, {summary.missing} missing, "
          f"{summary.failed} failed ({len(plan.points)} points, {plan.unique_points} planned for "
          f"{plan.requested_evaluations} requested)", flush=True)


def execute(cfg: ExperimentConfig, out: OutDir, plan: Plan, shards: list[int] | None = None, progress: bool = True,
            wait: bool = True, stage: str = "sweep", sweeps: list[str] | None = None,
            announce: bool = True) -> SweepSummary:
    """Evaluate the missing points of a plan (of `shards`, default all; with `sweeps`, only the
    points those sweeps use) with the configured launcher (not torchrun: there every rank runs
    `sweep_rank`). `missing` counts the targeted points only; `complete` is about the whole plan."""
    out = OutDir(out)
    how = choose_launcher(cfg, THIS_PROCESS)
    shards = list(range(plan.num_shards)) if shards is None else shards
    wanted = None if sweeps is None else set(sweeps)
    targeted = [p for p in plan.points if p.shard in shards and (wanted is None or wanted & set(p.sweeps))]
    done_before = out.done_ids(plan)
    foreign = sorted(out.foreign_ids(plan))
    if foreign:
        print(f"warning: {len(foreign)} point file(s) in {out.points_dir} come from another experiment (another "
              f"model, direction or eval set), e.g. {foreign[0]}.json; they are evaluated again and replaced",
              file=sys.stderr, flush=True)
    todo = sum(p.id not in done_before for p in targeted)
    if announce:
        print(_announce(out, cfg, todo, len(targeted), how), flush=True)
    entry = enter if sweeps is None else functools.partial(enter, sweeps=list(sweeps))
    with _launch_token() as token, out.timed(stage):
        work = Work(entry, str(out.root), _groups(cfg, plan, shards, done_before, how, targeted), token,
                    out.count_point_files, len(plan.points), progress)
        handle = launcher(how, cfg).start(work)
        if how == "slurm":
            print(f"submitted {len(handle.submitted)} Slurm array task(s): "
                  f"{', '.join(handle.submitted) or 'none needed'}", flush=True)
            if handle.submitted and not wait:
                return SweepSummary(how, handle.submitted, waited=False, skipped=len(done_before),
                                    finish=lambda: _summarise(how, handle, handle.wait(), out, plan, targeted,
                                                              done_before, token))
        outcome = handle.wait()
    return _summarise(how, handle, outcome, out, plan, targeted, done_before, token)


def _summarise(how: str, handle, outcome, out: OutDir, plan: Plan, targeted: list, done_before: set[str],
               token: str) -> SweepSummary:
    """The summary of a launch that has ended, counted from the disk (and printed)."""
    for name, error in outcome.failed.items():
        if how == "slurm":
            print(f"Slurm task {name} failed: {error}", flush=True)
    done_after = out.done_ids(plan)
    summary = SweepSummary(how, outcome.submitted or handle.submitted,
                           evaluated=sum(out.evaluation_counts(token).values()),
                           skipped=sum(p.id in done_before for p in targeted),
                           missing=sum(p.id not in done_after for p in targeted),
                           failed=sum(r.failed for r in outcome.results) + len(outcome.failed),
                           complete=len(done_after) == len(plan.points))
    report_counts(summary, plan)
    return summary


def _groups(cfg: ExperimentConfig, plan: Plan, shards: list[int], done: set[str], how: str,
            targeted: list | None = None) -> list[list[int]]:
    """The shards each worker takes: all of them here; round-robin over sweep.workers
    processes; for Slurm one group per array task (slurm.tasks, default one per shard), only
    the groups that still have points outside `done` (a rerun after a crash, `scancel` or a
    node failure submits just what is left)."""
    if how == "inline":
        return [shards]
    owners = cfg.sweep.workers if how == "processes" else (cfg.slurm.tasks or plan.num_shards)
    groups = [[k for k in owned_shards(plan.num_shards, owner, owners) if k in shards] for owner in range(owners)]
    if how == "slurm":
        missing = {p.shard for p in (plan.points if targeted is None else targeted) if p.id not in done}
        return [g for g in groups if missing.intersection(g)]
    return [g for g in groups if g]


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


def sweep_rank(cfg: ExperimentConfig, out: OutDir, place: Place, reduce_at_end: bool = True) -> WorkerStats:
    """One rank of a torchrun sweep: rank 0 plans, every rank evaluates its shards, rank 0
    reduces and reports. No collectives in the hot loop."""
    out = OutDir(out)
    # A long sweep keeps early finishers waiting at the final barrier: allow for it.
    with torchrun.process_group(place, torch.cuda.is_available(), hours=72) as device:
        if place.rank == 0:
            plan_sweep(cfg, out, place.world)       # builds the embedded base if needed, writes plan.json
        torchrun.barrier()
        plan = load_plan(out)
        groups = [owned_shards(plan.num_shards, rank, place.world) for rank in range(place.world)]
        work = Work(enter, str(out.root), groups, os.environ.get(RUN_VARIABLE, ""), progress=place.rank == 0)
        with out.timed(f"sweep:rank{place.rank}"):
            handle = torchrun.TorchrunRanks(place, str(device)).start(work)
        outcome = handle.wait()
        mine = outcome.results[place.rank]
        if place.rank == 0:
            total = {k: sum(getattr(r, k) for r in outcome.results) for k in ("evaluated", "skipped", "failed")}
            print(f"sweep: {total['evaluated']} evaluated, {total['skipped']} already done, {total['failed']} failed "
                  f"over {place.world} ranks", flush=True)
            if reduce_at_end and not total["failed"]:
                reduce_and_report(out)
                print(f"report: {out.report}", flush=True)
    return mine


def sweep(cfg: ExperimentConfig, out: OutDir, shards: list[int] | None = None, progress: bool = True,
          wait: bool = True) -> SweepSummary:
    """Plan, then evaluate the missing points of `shards` (default: all)."""
    out = OutDir(out)
    return execute(cfg, out, plan_sweep(cfg, out), shards, progress, wait)


def refine(cfg: ExperimentConfig, out: OutDir, rounds: int, tol: float, progress: bool = True,
           sweeps: list[str] | None = None, announce: bool = True) -> list[int]:
    """Refinement rounds (sitv_dist.sweep.refine) on a complete sweep (with `sweeps`: on the
    complete lines among them, evaluating only their points), up to `rounds` in all; returns
    the points added per new round."""
    out = OutDir(out)
    every_set = cfg.sweep.refine_sets == "all"
    # with the general set alone a task loss's minimum cannot be refined (the task curves stay on the α grid)
    task_of = {d: d for d in cfg.direction_names() if cfg.task(d)} if every_set else {}
    added = []
    while True:                # `rounds` counts every round so far: a rerun adds none
        plan = load_plan(out)
        round_no = plan.last_round() + 1
        proposals = propose(plan, out, tol, task_of) if round_no <= rounds else {}
        if not proposals:
            break
        added.append(add_round(plan, proposals, round_no, None if every_set else ["general"]))
        out.write_plan(plan.to_json())
        summary = execute(cfg, out, plan, progress=progress, stage="refine", sweeps=sweeps, announce=announce)
        if summary.missing:
            raise RuntimeError(f"refinement round {round_no}: {summary.missing} point(s) missing; rerun to finish")
        if announce:
            print(f"refine: round {round_no} added {added[-1]} point(s)", flush=True)
    return added
