"""The coefficient search under torchrun: rank 0 steps the search (replay, search.json, the next
batch into the plan) and tells every rank whether there is a batch; each rank evaluates its own
shards of it, as a torchrun sweep does, and all meet at a barrier before the next step. The
result is the one-process search's: the proposals depend on the seed, bounds, batch and budget."""
from __future__ import annotations

import torch
import torch.distributed as dist

from ..config import ExperimentConfig
from ..distributed import torchrun
from ..distributed.where import Place, owned_shards
from ..outdir import OutDir
from ..sweep.plan import SEARCH, load_plan
from ..sweep.worker import ensure_eval_sets_file, run_shards
from .report import report_after_search
from .search import Stepper, check
from .sweep import plan_sweep


def search_rank(cfg: ExperimentConfig, out: OutDir, place: Place) -> None:
    check(cfg)
    out = OutDir(out)
    with torchrun.process_group(place, torch.cuda.is_available(), hours=72) as device:
        stepper = None
        if place.rank == 0:
            ensure_eval_sets_file(cfg, out, plan_sweep(cfg, out, place.world))
            stepper = Stepper(cfg, out)
        while True:
            decision = [stepper.step(announce=True)[1] if stepper else None]
            dist.broadcast_object_list(decision, src=0)       # 0: the search is done
            if not decision[0]:
                break
            plan = load_plan(out)
            with out.timed(f"search:rank{place.rank}"):
                run_shards(cfg, out, plan, owned_shards(plan.num_shards, place.rank, place.world), device,
                           progress=place.rank == 0, sweeps=[SEARCH])
            torchrun.barrier()
        if place.rank == 0:
            report_after_search(out)
            print(f"report: {out.report}", flush=True)
