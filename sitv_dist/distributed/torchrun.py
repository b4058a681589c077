"""One sweep rank under torchrun: no collectives in the hot loop — only a barrier after
planning and one at the end, where rank 0 reduces and reports.

    torchrun --standalone --nproc_per_node=N -m sitv_dist.cli sweep -c CONFIG
"""
from __future__ import annotations

import datetime
import gc
from pathlib import Path

import torch
import torch.distributed as dist

from ..config import ExperimentConfig
from .where import Place, owned_shards


def sweep_rank(cfg: ExperimentConfig, out: Path, place: Place, reduce_at_end: bool = True) -> dict:
    from .. import pipeline
    from ..store import load_plan
    from ..worker import run_shards
    use_cuda = torch.cuda.is_available()
    if use_cuda:
        torch.cuda.set_device(place.local_rank % torch.cuda.device_count())
    # A long sweep keeps early finishers waiting at the final barrier: allow for it.
    dist.init_process_group("nccl" if use_cuda else "gloo", timeout=datetime.timedelta(hours=72))
    try:
        if place.rank == 0:
            pipeline.plan_sweep(cfg, out, place.world)   # builds the embedded base if needed, writes plan.json
        dist.barrier()
        plan = load_plan(out)
        device = torch.device("cuda", torch.cuda.current_device()) if use_cuda else torch.device("cpu")
        shards = owned_shards(plan["num_shards"], place.rank, place.world)
        with pipeline.timed(out, f"sweep:rank{place.rank}"):
            stats = run_shards(cfg, out, plan, shards, device, progress=place.rank == 0)
        counts = [None] * place.world
        dist.all_gather_object(counts, {k: stats[k] for k in ("evaluated", "skipped", "failed")})
        if place.rank == 0:
            total = {k: sum(c[k] for c in counts) for k in ("evaluated", "skipped", "failed")}
            print(f"sweep: {total['evaluated']} evaluated, {total['skipped']} already done, {total['failed']} failed "
                  f"over {place.world} ranks", flush=True)
            if reduce_at_end and not total["failed"]:
                pipeline.reduce_and_report(out)
                print(f"report: {out / 'report.md'}", flush=True)
        dist.barrier()
        return stats
    finally:
        gc.collect()
        dist.destroy_process_group()
