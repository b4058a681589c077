"""The sweep worker: one model copy, every eval set tokenized once, then for each planned
point of its shard(s) — apply the point in place, one forward pass per eval set, write
the point's file atomically. It neither knows nor cares who started it."""
from __future__ import annotations

import time
import traceback

import torch
from tqdm.auto import tqdm

from ..config import ExperimentConfig, load_config
from ..io import finite_or_none
from ..models.loading import DTYPE, load_model, load_tokenizer, resolve_device
from ..models.location import model_location
from ..outdir import OutDir
from ..texts import eval_texts
from ..vectors import taskvector
from .apply import PointWriter
from .evaluation import build_eval_set, per_text_nll, summarize
from .plan import Plan, PlannedPoint, load_plan
from .scores import PointScores


class Worker:
    """Holds the model, the resident base and task vectors, and the tokenized eval sets.
    Only the task vectors that `points` (default: the whole plan) move along are loaded:
    memory is model + base + the vectors this worker really needs."""

    def __init__(self, cfg: ExperimentConfig, out: OutDir, plan: Plan, device: torch.device | None = None,
                 points: list[PlannedPoint] | None = None):
        out = OutDir(out)
        self.cfg, self.out, self.plan = cfg, out, plan
        self.device = device or resolve_device(cfg.model.device)
        location = model_location(cfg)
        self.model = load_model(location, cfg.model, self.device)
        tokenizer = load_tokenizer(location)
        texts = eval_texts(cfg)
        self.sets = {name: build_eval_set(name, texts[name], tokenizer, cfg.eval.max_length,
                                          cfg.eval.batch_size, self.device) for name in plan.eval_sets}
        paths = taskvector.direction_files(cfg, out)
        points = plan.points if points is None else points
        used = [d for i, d in enumerate(plan.directions) if any(p.coefficients[i] != 0.0 for p in points)]
        vectors = {d: taskvector.load(paths[d], self.model, f"sweep.task_vectors.{d}", self.device,
                                      DTYPE[cfg.sweep.vector_dtype]) for d in used}
        self.writer = PointWriter(self.model, vectors, DTYPE[cfg.sweep.apply_dtype])
        self.scores = PointScores(cfg, plan, self.model, tokenizer, self.device)     # accuracy, lm-eval
        out.write_eval_sets({name: {"texts": len(s.categories), "tokens": s.tokens.tolist(),
                                    "categories": s.categories} for name, s in self.sets.items()})

    def evaluate(self, point: PlannedPoint) -> dict:
        start = time.perf_counter()
        self.writer.apply(self.plan.coefficients(point))
        sets = {}
        for name in point.sets:
            nll = per_text_nll(self.model, self.sets[name])
            summary = summarize(self.sets[name], nll)
            summary["loss"] = finite_or_none(summary["loss"])
            for cat in summary.get("categories", {}).values():
                cat["loss"] = finite_or_none(cat["loss"])
                cat["nll_sum"] = finite_or_none(cat["nll_sum"])
            summary["nll_sum"] = finite_or_none(summary["nll_sum"])
            summary["per_text_nll"] = [finite_or_none(x) for x in nll.tolist()]
            sets[name] = summary
        record = {"id": point.id, "fingerprint": self.plan.fingerprint,
                  "coefficients": self.plan.coefficients(point), "sets": sets}
        self.scores.add(point, record)
        return record | {"time_s": time.perf_counter() - start, "device": str(self.device)}


def run_shards(cfg: ExperimentConfig, out: OutDir, plan: Plan, shards: list[int],
               device: torch.device | None = None, progress: bool = True) -> dict:
    """Evaluate every not-yet-done point of `shards`; returns counts. Finished points are on
    disk as soon as they finish; a failing point is recorded and the others go on."""
    out = OutDir(out)
    done = out.done_ids(plan)
    todo = [p for p in plan.points if p.shard in shards and p.id not in done]
    stats = {"evaluated": 0, "skipped": sum(p.shard in shards for p in plan.points) - len(todo),
             "failed": 0, "evaluated_ids": []}
    if not todo:
        return stats
    worker = Worker(cfg, out, plan, device, todo)
    for point in tqdm(todo, desc=f"sweep shards {shards[0]}..{shards[-1]}" if len(shards) > 1 else f"sweep shard {shards[0]}",
                      disable=not progress, unit="pt"):
        try:
            record = worker.evaluate(point)
        except Exception:  # one bad point must not lose the rest of the shard
            out.write_failure(point.id, {"id": point.id, "coefficients": point.coefficients,
                                         "error": traceback.format_exc()})
            stats["failed"] += 1
            continue
        out.write_point(record)
        out.log_evaluation(point.id, point.shard)
        out.clear_failure(point.id)
        stats["evaluated"] += 1
        stats["evaluated_ids"].append(point.id)
    return stats


def run_in_process(cfg: ExperimentConfig, out_root: str, plan: Plan, shards: list[int], threads: int,
                   device: str | None) -> None:
    """A spawned worker process (local launcher): its own thread count and device."""
    torch.set_num_threads(threads)
    run_shards(cfg, OutDir(out_root), plan, shards, torch.device(device) if device else None, progress=False)


def run_from_out_dir(out_root: str, shards: list[int]) -> dict:
    """A worker that knows only OUT (a Slurm array task, also after a requeue): it rereads the
    resolved config and the plan and skips every point already on disk."""
    out = OutDir(out_root)
    cfg = load_config(out.config)
    stats = run_shards(cfg, out, load_plan(out), shards, progress=False)
    return {k: stats[k] for k in ("evaluated", "skipped", "failed")} | {"shards": shards}
