"""The Slurm launcher: one submitit array job whose tasks each run a callable on a group of
shards, and a waiter bounded by Slurm's own view of the jobs.

Preemption and time-outs go through submitit's checkpoint: the task is requeued with the
same arguments, and the callable (which reads its state from disk) resumes where it stopped.
What runs is the caller's: this module knows Slurm and submitit, not sweeps.
"""
from __future__ import annotations

import functools
import os
import time
from pathlib import Path
from typing import Callable

import submitit
from ..progress import bar as tqdm    # tqdm.auto, quiet in a non-TTY log

from ..config import ExperimentConfig, SlurmConfig
from ..outdir import OutDir
from .launcher import Handle, Launcher, Outcome, Work
from .where import split_among_tasks


class ArrayTask(submitit.helpers.Checkpointable):
    """What one array task runs: `work(shards)` on its ranks' share of the task's shards.
    Checkpointable, so a signalled task is requeued with the same shards."""

    def __init__(self, work: Callable[[list[int]], object], threads: int):
        self.work, self.threads = work, threads

    def __call__(self, shards: list[int]):
        import torch
        env = submitit.JobEnvironment()
        os.environ["LOCAL_RANK"] = str(env.local_rank)      # picks cuda:LOCAL_RANK when GPUs are visible
        torch.set_num_threads(self.threads)
        return self.work(split_among_tasks(shards, env.global_rank, env.num_tasks))


def executor_for(s: SlurmConfig, folder: Path, job_name: str) -> submitit.AutoExecutor:
    executor = submitit.AutoExecutor(folder=folder, cluster="slurm", slurm_max_num_timeout=s.max_requeues)
    params = {"timeout_min": s.time_min, "cpus_per_task": s.cpus_per_task, "tasks_per_node": s.ranks_per_task,
              "nodes": 1, "name": job_name,
              "slurm_setup": list(s.setup) + [f"export OMP_NUM_THREADS={s.cpus_per_task}"]}
    optional = {"slurm_partition": s.partition, "slurm_account": s.account, "slurm_qos": s.qos,
                "gpus_per_node": s.gpus_per_task, "mem_gb": s.mem_gb,
                "slurm_array_parallelism": s.array_parallelism,
                "slurm_additional_parameters": dict(s.extra_sbatch)}
    params.update({k: v for k, v in optional.items() if v})
    executor.update_parameters(**params)
    return executor


def submit(s: SlurmConfig, folder: Path, job_name: str, work: Callable[[list[int]], dict],
           groups: list[list[int]]) -> list[submitit.Job]:
    """One array task per shard group (a fresh `folder` per submission: job ids can repeat)."""
    if not groups:
        return []
    return executor_for(s, folder, job_name).map_array(ArrayTask(work, s.cpus_per_task), groups)


def wait(jobs: list[submitit.Job], done_count: Callable[[], int], total: int, poll_s: float,
         progress: bool = True) -> dict:
    """Block until every job has ended (bounded by Slurm's own view of the jobs: the sacct
    answer marks a job that vanished as failed), with a progress bar of `done_count`."""
    with tqdm(total=total, desc=f"slurm ({len(jobs)} tasks)", disable=not progress, unit="pt") as bar:
        while True:
            jobs[0].watcher.update()    # one sacct call per poll refreshes every job's state
            finished = [job.done() for job in jobs]
            bar.n = min(total, done_count())
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


class SlurmArray(Launcher):
    """One array task per group of shards, submitted into a fresh folder under OUT/slurm (job ids
    can repeat across clusters and resets) and recorded in OUT's submission log; `wait` is
    bounded by Slurm's own view of the jobs."""
    name = "slurm"

    def __init__(self, settings: SlurmConfig, job_name: str):
        self.settings, self.job_name = settings, job_name

    @classmethod
    def from_config(cls, cfg: ExperimentConfig) -> "SlurmArray":
        return cls(cfg.slurm, f"sitv-{cfg.name}")

    def start(self, work: Work) -> "SlurmJobs":
        if not work.groups:
            return SlurmJobs([], self.settings, work)
        out = OutDir(work.out_root)
        folder = out.new_slurm_folder()
        entry = functools.partial(work.entry, work.out_root, run=work.run)
        jobs = submit(self.settings, folder, self.job_name, entry, work.groups)
        out.record_submission({"time": time.time(), "folder": str(folder), "job_ids": [j.job_id for j in jobs],
                               "shards": work.groups})
        return SlurmJobs(jobs, self.settings, work)


class SlurmJobs(Handle):
    def __init__(self, jobs: list[submitit.Job], settings: SlurmConfig, work: Work):
        self.jobs, self.settings, self.work = jobs, settings, work
        self.submitted = [j.job_id for j in jobs]

    def wait(self) -> Outcome:
        if not self.jobs:
            return Outcome("slurm")
        ended = wait(self.jobs, self.work.done_count, self.work.total, self.settings.poll_s, self.work.progress)
        results = [r for ranks in ended["results"].values() for r in ranks]
        return Outcome("slurm", results=results, failed=ended["failed"], submitted=self.submitted)
