"""The local launcher: the shards in this process, or spread over N worker processes
(the single-GPU / CPU fallback, and the baseline the other launchers must match)."""
from __future__ import annotations

import multiprocessing as mp
import time
from pathlib import Path

from tqdm.auto import tqdm

from ..config import ExperimentConfig
from .where import owned_shards


def _worker(cfg: ExperimentConfig, out: str, plan: dict, shards: list[int], threads: int, device: str | None) -> None:
    import torch

    from ..worker import run_shards
    torch.set_num_threads(threads)
    run_shards(cfg, Path(out), plan, shards, torch.device(device) if device else None, progress=False)


def run_processes(cfg: ExperimentConfig, out: Path, plan: dict, workers: int, threads_per_worker: int = 1,
                  progress: bool = True) -> dict:
    """Start `workers` processes (spawned, each its own model copy), show one progress bar
    over all of them, and report which exited badly. Finished points are on disk either way."""
    import torch
    ctx = mp.get_context("spawn")
    gpus = torch.cuda.device_count()
    procs = []
    for k in range(workers):
        device = f"cuda:{k % gpus}" if gpus else None
        proc = ctx.Process(target=_worker, args=(cfg, str(out), plan, owned_shards(plan["num_shards"], k, workers),
                                                 threads_per_worker, device), daemon=False)
        proc.start()
        procs.append(proc)
    points = out / "points"
    total = len(plan["points"])
    with tqdm(total=total, desc=f"sweep ({workers} workers)", disable=not progress, unit="pt") as bar:
        while any(p.is_alive() for p in procs):
            if progress:
                bar.n = min(total, sum(1 for _ in points.glob("p*.json"))) if points.is_dir() else 0
                bar.refresh()
            time.sleep(0.5)
    bad = [k for k, p in enumerate(procs) if p.exitcode != 0]
    return {"workers": workers, "failed_workers": bad}
