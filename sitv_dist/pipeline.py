"""The stages of an experiment, each resumable: fine-tune → task vectors → plan → sweep →
reduce → report. `sitv run` calls them in order; each CLI subcommand calls one."""
from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path

from .config import ConfigError, ExperimentConfig, save_config
from .io import read_json, write_json


def out_dir(cfg: ExperimentConfig) -> Path:
    path = Path(cfg.out_dir).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def timed(out: Path, stage: str):
    """Add the stage's wall time to OUT/timings.json (accumulates over resumed runs)."""
    start = time.perf_counter()
    try:
        yield
    finally:
        path = out / "timings.json"
        timings = read_json(path) if path.is_file() else {}
        timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - start
        write_json(path, timings)


def base_location(cfg: ExperimentConfig, out: Path) -> str:
    from .modeling import model_location
    if cfg.model.name_or_path == "embedded":
        from .embedded.build import build_key, cache_root
        cached = (cache_root(cfg.embedded) / f"embedded-{build_key(cfg.embedded, cfg.seed)}" / "config.json").is_file()
        if not cached:
            with timed(out, "pretrain"):
                return model_location(cfg)
    return model_location(cfg)


def tasks_to_finetune(cfg: ExperimentConfig) -> list[str]:
    """Directions, and task vectors derived directions are made from, that are configured tasks
    without an explicit task-vector file."""
    from .directions import sources
    names = cfg.direction_names()
    for derived in cfg.sweep.derived_directions.values():
        names += [n for n in sources(derived.spec()) if n not in names]
    return [d for d in names if d not in cfg.sweep.task_vectors and cfg.task(d)]


def derive_directions(cfg: ExperimentConfig, out: Path) -> list[Path]:
    """Write each sweep.derived_directions entry to OUT/task_vectors/<name>.safetensors; a file
    made from the same spec and the same source contents is kept (resumable)."""
    from .directions import write_direction

    def resolve(name: str) -> Path:
        explicit = cfg.sweep.task_vectors.get(name)
        return Path(explicit).expanduser() if explicit else out / "task_vectors" / f"{name}.safetensors"

    paths = []
    if cfg.sweep.derived_directions:
        with timed(out, "derive"):
            for name, derived in cfg.sweep.derived_directions.items():
                path = out / "task_vectors" / f"{name}.safetensors"
                write_direction(path, derived.spec(), resolve, key=f"sweep.derived_directions.{name}")
                paths.append(path)
    return paths


def finetune_task(cfg: ExperimentConfig, out: Path, name: str, force: bool = False) -> Path:
    """Fine-tune the base on one task, save the model, its history and its task vector; resumes
    from OUT/finetune/<task>/checkpoint/ (finetune.checkpoint_every). In one process here; under
    torchrun every rank calls it (sitv_dist.distributed.train) and rank 0 writes."""
    import torch

    from .finetune import finetune_task as run_task
    before = torch.get_num_threads()
    if cfg.finetune.threads:
        torch.set_num_threads(cfg.finetune.threads)
    try:
        return run_task(cfg, out, name, force=force)
    finally:
        torch.set_num_threads(before)       # the sweep that follows sets its own


def preflight(cfg: ExperimentConfig) -> None:
    """Cheap checks of everything a long run will need, before any model loads or trains:
    every text set loads and is non-empty, and explicit task vectors fit the model."""
    from . import taskvector
    from .data import load_texts
    from .worker import eval_texts
    eval_texts(cfg)
    for name in tasks_to_finetune(cfg):
        index = next(i for i, t in enumerate(cfg.tasks) if t.name == name)
        task = cfg.tasks[index]
        if not task.train:
            raise ConfigError(f"tasks.{index}.train: task {name!r} has no training data; give a file, or give "
                              f"its task vector in sweep.task_vectors.{name}")
        load_texts(task.train, key=f"tasks.{index}.train", embedded_name=name, split="train",
                   text_field=task.text_field)
    if cfg.model.name_or_path != "embedded":
        for name in cfg.direction_names():
            if name in cfg.sweep.task_vectors:
                taskvector.check_fits(Path(cfg.sweep.task_vectors[name]).expanduser(), cfg.model.name_or_path,
                                      f"sweep.task_vectors.{name}", cfg.model.gguf_file)


def plan_sweep(cfg: ExperimentConfig, out: Path, min_shards: int = 1) -> dict:
    """Build the plan and write OUT/plan.json; refuses to mix results of another experiment.
    There are at least as many shards as workers (`min_shards`, and slurm.tasks for Slurm)."""
    from .plan import make_plan
    from .worker import eval_texts, fingerprint, task_vector_paths
    preflight(cfg)
    location = base_location(cfg, out)
    derive_directions(cfg, out)       # before the fingerprint, which hashes every direction's file
    fp = fingerprint(cfg, location, task_vector_paths(cfg, out), eval_texts(cfg))
    path = out / "plan.json"
    if path.is_file():
        old = read_json(path)
        has_points = (out / "points").is_dir() and any((out / "points").iterdir())
        if old.get("fingerprint") != fp and has_points:
            raise ConfigError(f"out_dir: {out} holds results of a different experiment (model, task vectors, "
                              "eval data or batching changed); use a new out_dir or delete its points/ folder")
    if cfg.sweep.launcher == "slurm":
        min_shards = max(min_shards, cfg.slurm.tasks)
    plan = make_plan(cfg, fp, min_shards)
    if path.is_file() and old.get("fingerprint") == fp:
        keep_refinements(plan, old)
    save_config(cfg, out / "config.resolved.yaml")      # what Slurm tasks and reports read
    write_json(path, plan, indent=None)
    return plan


def keep_refinements(plan: dict, old: dict) -> None:
    """Points added by earlier refinement rounds stay in the plan (same experiment)."""
    ids = {p["id"] for p in plan["points"]}
    for p in old["points"]:
        if p.get("round") and p["id"] not in ids and set(p["sweeps"]) <= {s["name"] for s in plan["sweeps"]}:
            plan["points"].append(dict(p, shard=len(plan["points"]) % plan["num_shards"]))
            ids.add(p["id"])
    plan["refined_points"] = sum(bool(p.get("round")) for p in plan["points"])


def sweep(cfg: ExperimentConfig, out: Path, shards: list[int] | None = None, progress: bool = True,
          wait: bool = True) -> dict:
    """Plan, then evaluate the missing points of `shards` (default: all) with the configured
    launcher."""
    return execute(cfg, out, plan_sweep(cfg, out), shards, progress, wait)


def execute(cfg: ExperimentConfig, out: Path, plan: dict, shards: list[int] | None = None, progress: bool = True,
            wait: bool = True, stage: str = "sweep") -> dict:
    """Evaluate the missing points of a plan with the configured launcher. Counts come from
    the disk, so they mean the same for every launcher."""
    from .store import done_ids, evaluation_counts
    from .worker import run_shards
    shards = list(range(plan["num_shards"])) if shards is None else shards
    targeted = [p for p in plan["points"] if p["shard"] in shards]
    done_before = done_ids(out, plan)
    logged_before = sum(evaluation_counts(out).values())
    stats = {"submitted": [], "failed": 0}
    with timed(out, stage):
        if cfg.sweep.launcher == "slurm":
            from .distributed import slurm
            jobs = slurm.submit(cfg, out, plan)
            stats["submitted"] = [j.job_id for j in jobs]
            print(f"submitted {len(jobs)} Slurm array task(s): {', '.join(stats['submitted']) or 'none needed'}",
                  flush=True)
            if jobs and not wait:
                return stats | {"complete": False, "evaluated": 0, "skipped": len(done_before), "missing": None}
            if jobs:
                ended = slurm.wait(jobs, out, plan, cfg.slurm.poll_s, progress)
                stats["failed"] = len(ended["failed"])
                for job_id, error in ended["failed"].items():
                    print(f"Slurm task {job_id} failed: {error}", flush=True)
        elif cfg.sweep.workers > 1:
            from .distributed.local import run_processes
            result = run_processes(cfg, out, plan, cfg.sweep.workers, cfg.sweep.threads_per_worker or 1, progress)
            stats["failed"] = len(result["failed_workers"])
        else:
            if cfg.sweep.threads_per_worker:
                import torch
                torch.set_num_threads(cfg.sweep.threads_per_worker)
            stats["failed"] = run_shards(cfg, out, plan, shards, progress=progress)["failed"]
    done_after = done_ids(out, plan)
    stats.update(evaluated=sum(evaluation_counts(out).values()) - logged_before,
                 skipped=sum(p["id"] in done_before for p in targeted),
                 missing=sum(p["id"] not in done_after for p in targeted),
                 complete=len(done_after) == len(plan["points"]))
    print(f"sweep: {stats['evaluated']} evaluated, {stats['skipped']} already done, {stats['missing']} missing, "
          f"{stats['failed']} failed ({len(plan['points'])} points, {plan['unique_points']} planned for "
          f"{plan['requested_evaluations']} requested)", flush=True)
    return stats


def refine(cfg: ExperimentConfig, out: Path, rounds: int, tol: float, progress: bool = True) -> list[int]:
    """Refinement rounds (see refine.py) on a complete sweep, up to `rounds` in all; returns the
    points added per new round."""
    from .refine import add_round, propose
    from .store import load_plan
    task_of = {d: d for d in cfg.direction_names() if cfg.task(d)}
    added = []
    while True:                # `rounds` counts every round so far: a rerun adds none
        plan = load_plan(out)
        round_no = max(p.get("round", 0) for p in plan["points"]) + 1
        proposals = propose(plan, out, tol, task_of) if round_no <= rounds else {}
        if not proposals:
            break
        added.append(add_round(plan, proposals, round_no))
        write_json(out / "plan.json", plan, indent=None)
        stats = execute(cfg, out, plan, progress=progress, stage="refine")
        if not stats["complete"]:
            raise RuntimeError(f"refinement round {round_no}: {stats['missing']} point(s) missing; rerun to finish")
        print(f"refine: round {round_no} added {added[-1]} point(s)", flush=True)
    return added


def reduce_and_report(out: Path) -> dict:
    from .reduce import reduce
    from .report import write_report
    with timed(out, "reduce"):
        reduce(out)
    with timed(out, "report"):
        return write_report(out)


def run(cfg: ExperimentConfig, progress: bool = True) -> Path:
    """The whole pipeline on one process."""
    preflight(cfg)
    out = out_dir(cfg)
    save_config(cfg, out / "config.resolved.yaml")
    base_location(cfg, out)
    for name in tasks_to_finetune(cfg):
        finetune_task(cfg, out, name)
    stats = sweep(cfg, out, progress=progress)
    if not stats["complete"]:
        raise RuntimeError(f"{stats['missing']} point(s) missing ({stats['failed']} failures; see {out / 'failures'} "
                           f"and `sitv status {out}`); rerun to evaluate only those")
    if cfg.sweep.refine_rounds:
        refine(cfg, out, cfg.sweep.refine_rounds, cfg.sweep.refine_tol, progress)
    reduce_and_report(out)
    print(f"report: {out / 'report.md'}", flush=True)
    return out / "report.md"

