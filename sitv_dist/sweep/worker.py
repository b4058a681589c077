"""The sweep worker: one model copy, every eval set tokenized once, then for each planned
point of its shard(s) — apply the point in place, evaluate every score (`sweep.scores`: the
loss, one forward pass per eval set, then accuracy and lm-eval where configured), write the
point's file atomically. It neither knows nor cares who started it."""
from __future__ import annotations

import os
import sys
import time
import traceback
from dataclasses import dataclass, field

import torch
from ..progress import bar as tqdm    # tqdm.auto, quiet in a non-TTY log

from ..config import ExperimentConfig, load_config
from ..models.loading import load_tokenizer
from ..models.location import require_base
from ..outdir import RUN_VARIABLE, OutDir
from ..tracking.curves import log_point
from ..tracking.tracking_registry import open_tracking
from ..vectors import taskvector
from ..vectors.ops import layer_split
from .plan import Plan, PlannedPoint, load_plan
from .resident import build_eval_sets, eval_sets_info, load_resident
from .scores.scores_registry import reduce_set, setup_scores


class Worker:
    """Holds the model, the resident base and task vectors, and the tokenized eval sets.
    Only the task vectors that `points` (default: the whole plan) move along are loaded:
    memory is model + base + the vectors this worker really needs."""

    def __init__(self, cfg: ExperimentConfig, out: OutDir, plan: Plan, device: torch.device | None = None,
                 points: list[PlannedPoint] | None = None):
        out = OutDir(out)
        self.cfg, self.out, self.plan = cfg, out, plan
        paths = taskvector.direction_files(cfg, out)
        points = plan.points if points is None else points
        used = [d for i, d in enumerate(plan.directions) if any(p.coefficients[i] != 0.0 for p in points)]
        parts = [d for d in used if d not in paths]          # the search's per-layer views of a T
        files = dict.fromkeys([d for d in used if d in paths] + [layer_split.split_name(d)[0] for d in parts])
        state = load_resident(cfg, plan.eval_sets, device, vectors={d: paths[d] for d in files}, parts=parts)
        self.model, self.device, self.sets, self.writer = state.model, state.device, state.sets, state.writer
        self.scores = setup_scores(cfg, plan.eval_sets, state)       # the loss, then accuracy and lm-eval
        out.write_eval_sets(eval_sets_info(self.sets))

    def evaluate(self, point: PlannedPoint) -> dict:
        start = time.perf_counter()
        self.writer.apply(self.plan.coefficients(point))
        record = {"id": point.id, "fingerprint": point.fingerprint,
                  "coefficients": self.plan.coefficients(point), "sets": {}}
        for score in self.scores:
            score.evaluate(point.sets, record)
        return record | {"time_s": time.perf_counter() - start, "device": str(self.device)}


STREAK = 3   # consecutive failures with the same error that stop a shard: a systematic error, not a bad point


def _error_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ")


def _take_shard(out: OutDir, plan: Plan, pending: list[int]):
    """(shard, its lock) for the first pending shard no other process is evaluating, waiting
    for one when all are busy: a second sweep on the same OUT works beside the first, not on
    its shards."""
    for k in pending:
        lock = out.shard_lock(k, plan.num_shards)
        if lock.acquire(blocking=False):
            return k, lock
    k = pending[0]
    print(f"sweep: shard {k} is being evaluated by another process; waiting for it", file=sys.stderr, flush=True)
    lock = out.shard_lock(k, plan.num_shards)
    lock.acquire(blocking=True)
    return k, lock


@dataclass
class WorkerStats:
    """What one worker did with its shards (summed by the stage over every worker)."""
    shards: list[int]
    evaluated: int = 0
    skipped: int = 0                  # already on disk when the worker started
    failed: int = 0
    evaluated_ids: list[str] = field(default_factory=list)
    stopped: list[int] = field(default_factory=list)     # shards stopped by a systematic error


def run_shards(cfg: ExperimentConfig, out: OutDir, plan: Plan, shards: list[int],
               device: torch.device | None = None, progress: bool = True,
               sweeps: list[str] | None = None) -> WorkerStats:
    """Evaluate every not-yet-done point of `shards` (with `sweeps`: only the points those
    sweeps use, as `sitv run` does for the lines before the grids), one shard at a time under its lock.
    Finished points are on disk as soon as they finish; a failing point is recorded (and its
    error printed) and the others go on, unless the same error repeats STREAK times: then the
    shard stops."""
    out = OutDir(out)
    done = out.done_ids(plan)
    mine = [p for p in plan.points if p.shard in shards and (sweeps is None or set(sweeps) & set(p.sweeps))]
    stats = WorkerStats(list(shards), skipped=sum(p.id in done for p in mine))
    if all(p.id in done for p in mine):
        ensure_eval_sets_file(cfg, out, plan)
        return stats
    worker = None
    pending = [k for k in shards if any(p.shard == k and p.id not in done for p in mine)]
    bar = tqdm(total=sum(p.id not in done for p in mine), disable=not progress, unit="pt",
               desc=f"sweep shards {shards[0]}..{shards[-1]}" if len(shards) > 1 else f"sweep shard {shards[0]}")
    with bar, open_tracking(cfg.tracking, cfg.name, out.root) as tracking:
        log = _point_logger(plan, tracking) if tracking else None
        while pending:
            k, lock = _take_shard(out, plan, pending)
            pending.remove(k)
            try:
                shard = [p for p in mine if p.shard == k]
                finished = out.done_ids(plan, shard)   # after the lock: what another process finished meanwhile
                todo = [p for p in shard if p.id not in finished]
                if todo and worker is None:     # loads the vectors of every point this process may still evaluate
                    worker = Worker(cfg, out, plan, device, [p for p in mine if p.id not in done])
                _evaluate(worker, out, todo, stats, bar, log)
            finally:
                lock.release()
    return stats


def _point_logger(plan: Plan, tracking):
    """Log an evaluated point's L(c) on every line it lies on (tracking.curves.log_point)."""
    column = {s.name: plan.directions.index(s.directions[0]) for s in plan.sweeps if s.kind == "line"}

    def log(point: PlannedPoint, record: dict) -> None:
        lines = {name: point.coefficients[column[name]] for name in point.sweeps if name in column}
        if lines:
            log_point(tracking, lines, {name: reduce_set(entry)["loss"] for name, entry in record["sets"].items()})
    return log


def _evaluate(worker: Worker, out: OutDir, todo: list[PlannedPoint], stats: WorkerStats, bar, log=None) -> None:
    streak: list[str] = []
    for point in todo:
        bar.update(1)
        if streak and len(streak) >= STREAK and len(set(streak[-STREAK:])) == 1:
            if point.shard not in stats.stopped:
                stats.stopped.append(point.shard)
                print(f"sweep: stopping shard {point.shard} after {STREAK} points failed with the same error: "
                      f"{streak[-1]} (tracebacks in {out.failures_dir})", file=sys.stderr, flush=True)
            continue
        try:
            record = worker.evaluate(point)
        except Exception as exc:  # one bad point must not lose the rest of the shard
            out.write_failure(point.id, {"id": point.id, "coefficients": point.coefficients,
                                         "error": traceback.format_exc()})
            stats.failed += 1
            streak.append(_error_line(exc))
            print(f"sweep: point {point.id} failed: {streak[-1]}", file=sys.stderr, flush=True)
            continue
        streak = []
        out.write_point(record)
        out.log_evaluation(point.id, point.shard)
        out.clear_failure(point.id)
        stats.evaluated += 1
        stats.evaluated_ids.append(point.id)
        if log is not None:
            log(point, record)


def ensure_eval_sets_file(cfg: ExperimentConfig, out: OutDir, plan: Plan) -> None:
    """OUT/eval_sets.json (per-text tokens and categories, which reduce and the bootstrap read)
    exists even when no worker had to start: rebuilt from the tokenizer alone if lost."""
    if out.eval_sets.is_file():
        return
    tokenizer = load_tokenizer(require_base(cfg))
    out.write_eval_sets(eval_sets_info(build_eval_sets(cfg, plan.eval_sets, tokenizer, torch.device("cpu"))))


def enter(out_root: str, shards: list[int], run: str = "", threads: int | None = None,
          device: str | None = None, progress: bool = False, sweeps: list[str] | None = None) -> WorkerStats:
    """The one way into a worker, whoever started it (this process, a spawned process, a
    torchrun rank, a Slurm array task, also after a requeue): it knows only OUT, rereads the
    resolved config and the plan there, and skips every point already on disk. `run` names the
    launch in OUT's evaluation log; `threads` and `device` are the launcher's placement; `sweeps`
    (bound with functools.partial by the stage, so every launcher passes it on) limits the points
    to those of these sweeps."""
    if run:
        os.environ[RUN_VARIABLE] = run
    if threads:
        torch.set_num_threads(threads)
    out = OutDir(out_root)
    cfg = load_config(out.config)
    return run_shards(cfg, out, load_plan(out), shards, torch.device(device) if device else None, progress,
                      sweeps)
