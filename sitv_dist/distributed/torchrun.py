"""A torchrun launch as seen from one rank: the process group (NCCL on GPUs, gloo on the CPU)
set up and torn down cleanly, and this rank's device. No collectives in a sweep's hot loop:
the stages use only barriers and one gather of counts.

    torchrun --standalone --nproc_per_node=N -m sitv_dist.cli sweep|finetune -c CONFIG
"""
from __future__ import annotations

import contextlib
import datetime
import gc
import os
import socket

import torch
import torch.distributed as dist

from ..config import ExperimentConfig
from .launcher import Handle, Launcher, Outcome, Work
from .where import Place, from_env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def process_group(place: Place, use_cuda: bool, hours: float, alone_too: bool = False):
    """Join the launch's process group for the block; yields this rank's device. With
    `alone_too`, a plain process makes a group of one (DeepSpeed needs a group). On exit every
    rank drops what it holds, meets the others at a barrier (only if the block succeeded:
    nobody tears down while another rank still talks) and destroys the group."""
    if use_cuda:
        torch.cuda.set_device(place.local_rank % torch.cuda.device_count())
    group = place.launcher == "torchrun" or alone_too
    if group and place.launcher != "torchrun":
        os.environ.update({"RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1",
                           "MASTER_PORT": str(_free_port())})
    if group:
        dist.init_process_group("nccl" if use_cuda else "gloo", timeout=datetime.timedelta(hours=hours))
    ok = False
    try:
        yield torch.device("cuda", torch.cuda.current_device()) if use_cuda else torch.device("cpu")
        ok = True
    finally:
        gc.collect()
        if group:
            if ok:
                dist.barrier()
            dist.destroy_process_group()


def barrier() -> None:
    dist.barrier()


def gather(obj, world: int) -> list:
    """Every rank's `obj`, on every rank."""
    out = [None] * world
    dist.all_gather_object(out, obj)
    return out


class TorchrunRanks(Launcher):
    """This process is one rank of a torchrun launch, inside its process group (the stage opens
    it with `process_group`): `start` runs this rank's group (group k for rank k) here, on this
    rank's device; `wait` gathers every rank's result, so each rank knows how the launch ended."""
    name = "torchrun"

    def __init__(self, place: Place | None = None, device: str | None = None):
        self.place, self.device = place or from_env(), device

    @classmethod
    def from_config(cls, cfg: ExperimentConfig) -> "TorchrunRanks":
        return cls()

    def start(self, work: Work) -> Handle:
        if len(work.groups) != self.place.world:
            raise ValueError(f"{len(work.groups)} groups of shards for {self.place.world} torchrun ranks")
        result = work.entry(work.out_root, work.groups[self.place.rank], run=work.run, device=self.device,
                            progress=work.progress and self.place.rank == 0)
        return _Ranks(result, self.place.world)


class _Ranks(Handle):
    def __init__(self, result, world: int):
        self.result, self.world = result, world

    def wait(self) -> Outcome:
        return Outcome("torchrun", results=gather(self.result, self.world))
