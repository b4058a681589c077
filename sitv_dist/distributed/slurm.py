"""The Slurm launcher: one submitit array job whose tasks each take a group of shards.

Only shards with missing points are submitted, so rerunning a sweep after a crash,
`scancel` or node failure submits just what is left. Preemption and time-outs go through
submitit's checkpoint: the task is requeued and resumes at its next unfinished point.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import submitit
from tqdm.auto import tqdm

from ..config import ExperimentConfig
from ..io import write_json
from .where import owned_shards, split_among_tasks


class SweepTask(submitit.helpers.Checkpointable):
    """What one array task runs. Its state is just the output directory: on requeue it
    rereads the plan and skips every point already on disk."""

    def __init__(self, out_dir: str, threads: int):
        self.out_dir, self.threads = out_dir, threads

    def __call__(self, shards: list[int]) -> dict:
        import torch

        from ..config import load_config
        from ..store import load_plan
        from ..worker import run_shards
        env = submitit.JobEnvironment()
        os.environ["LOCAL_RANK"] = str(env.local_rank)      # picks cuda:LOCAL_RANK when GPUs are visible
        torch.set_num_threads(self.threads)
        out = Path(self.out_dir)
        cfg = load_config(out / "config.resolved.yaml")
        mine = split_among_tasks(shards, env.global_rank, env.num_tasks)
        stats = run_shards(cfg, out, load_plan(out), mine, progress=False)
        return {k: stats[k] for k in ("evaluated", "skipped", "failed")} | {"shards": mine}


def executor_for(cfg: ExperimentConfig, folder: Path) -> submitit.AutoExecutor:
    s = cfg.slurm
    executor = submitit.AutoExecutor(folder=folder, cluster="slurm", slurm_max_num_timeout=s.max_requeues)
    params = {"timeout_min": s.time_min, "cpus_per_task": s.cpus_per_task, "tasks_per_node": s.ranks_per_task,
              "nodes": 1, "name": f"sitv-{cfg.name}",
              "slurm_setup": list(s.setup) + [f"export OMP_NUM_THREADS={s.cpus_per_task}"]}
    optional = {"slurm_partition": s.partition, "slurm_account": s.account, "slurm_qos": s.qos,
                "gpus_per_node": s.gpus_per_task, "mem_gb": s.mem_gb,
                "slurm_array_parallelism": s.array_parallelism,
                "slurm_additional_parameters": dict(s.extra_sbatch)}
    params.update({k: v for k, v in optional.items() if v})
    executor.update_parameters(**params)
    return executor


def submit(cfg: ExperimentConfig, out: Path, plan: dict) -> list[submitit.Job]:
    """Submit one array task per shard group that still has missing points."""
    from ..store import done_ids
    tasks = cfg.slurm.tasks or plan["num_shards"]
    done = done_ids(out, plan)
    missing_shards = {p["shard"] for p in plan["points"] if p["id"] not in done}
    groups = [g for g in (owned_shards(plan["num_shards"], k, tasks) for k in range(tasks))
              if missing_shards.intersection(g)]
    if not groups:
        return []
    # A fresh folder per submission: job ids can repeat across clusters (or a wiped Slurm).
    folder = out / "slurm" / time.strftime("%Y%m%d-%H%M%S") / f"{os.getpid()}"
    executor = executor_for(cfg, folder)
    jobs = executor.map_array(SweepTask(str(out), cfg.slurm.cpus_per_task), groups)
    log = out / "slurm" / "submissions.json"
    history = json.loads(log.read_text()) if log.is_file() else []
    history.append({"time": time.time(), "folder": str(folder), "job_ids": [j.job_id for j in jobs],
                    "shards": groups})
    write_json(log, history)
    return jobs


def wait(jobs: list[submitit.Job], out: Path, plan: dict, poll_s: float, progress: bool = True) -> dict:
    """Block until every job has ended (bounded by Slurm's own view of the jobs: the sacct
    answer marks a job that vanished as failed), with a progress bar over the points."""
    points = out / "points"
    total = len(plan["points"])
    with tqdm(total=total, desc=f"slurm ({len(jobs)} tasks)", disable=not progress, unit="pt") as bar:
        while True:
            jobs[0].watcher.update()    # one sacct call per poll refreshes every job's state
            finished = [job.done() for job in jobs]
            bar.n = min(total, sum(1 for _ in points.glob("p*.json"))) if points.is_dir() else 0
            bar.refresh()
            if all(finished):
                break
            time.sleep(poll_s)
    results, failed = {}, {}
    for job in jobs:            # a finished task's result (or its error) is on disk
        try:
            results[job.job_id] = job.results()       # one entry per rank of the task
        except Exception as exc:  # noqa: BLE001 — report every failed task, not just the first
            failed[job.job_id] = f"{job.state}: {exc}"[-3000:]
    return {"results": results, "failed": failed}
