"""The fine-tune stage: every task to fine-tune, in this process or on every rank of a
torchrun launch (DDP, or DeepSpeed ZeRO through accelerate, which needs a process group even
alone). Every rank trains; rank 0 builds the base first and writes the outputs."""
from __future__ import annotations

import torch

from ..config import ConfigError, ExperimentConfig, dump
from ..distributed.collectives import barrier, rank_world
from ..distributed.torchrun import process_group
from ..distributed.where import Place, from_env
from ..finetune.task import finetune_task
from ..models.location import model_location
from ..io import read_json
from ..outdir import OutDir
from ..tracking.curves import log_history
from ..tracking.tracking_registry import open_tracking
from .prepare import preflight, prepare_base, tasks_to_finetune


def task_names(cfg: ExperimentConfig, asked: list[str] | None) -> list[str]:
    names = asked or tasks_to_finetune(cfg)
    for name in names:
        if cfg.task(name) is None:
            raise ConfigError(f"--task: {name!r} is not a configured task")
    return names


def finetune_here(cfg: ExperimentConfig, out: OutDir, names: list[str], force: bool = False,
                  announce: bool = True) -> list[str]:
    """Fine-tune `names` on this rank (all ranks of a group call it together); rank 0 builds
    the base before the others look for it. In one process, `finetune.threads` applies."""
    out = OutDir(out)
    rank = rank_world()[0]
    location = prepare_base(cfg, out) if rank == 0 else None
    barrier()
    location = location or model_location(cfg)
    before = torch.get_num_threads()
    if cfg.finetune.threads and rank_world()[1] == 1:
        torch.set_num_threads(cfg.finetune.threads)
    try:
        paths = []
        with open_tracking(cfg.tracking, cfg.name, out.root) as tracking:      # nothing on ranks other than 0
            for name in names:
                paths.append(str(finetune_task(cfg, out, name, location, force=force)))
                if rank == 0 and announce:
                    print(f"wrote {paths[-1]}", flush=True)
                if tracking and out.history(name).is_file():
                    log_history(tracking, name, read_json(out.history(name)))
        return paths
    finally:
        torch.set_num_threads(before)       # the sweep that follows sets its own


def finetune(cfg: ExperimentConfig, out: OutDir, asked: list[str] | None = None, force: bool = False,
             place: Place | None = None) -> list[str]:
    """`sitv finetune`: every rank of a torchrun launch, or this process (with a group of one
    for DeepSpeed); returns the task-vector paths."""
    out = OutDir(out)
    place = place or from_env()
    preflight(cfg)
    names = task_names(cfg, asked)
    if not names:
        print("nothing to fine-tune: every swept direction has a task-vector file", flush=True)
        return []
    if place.rank == 0:
        out.write_config(dump(cfg))
    use_cuda = torch.cuda.is_available() and cfg.model.device != "cpu"
    with process_group(place, use_cuda, hours=4, alone_too=cfg.finetune.backend == "deepspeed"):
        return finetune_here(cfg, out, names, force)
