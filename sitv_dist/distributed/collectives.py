"""Who am I in a process group, and the few collectives the training loop uses
(sums and rank-0 decisions as float64 tensors; nothing when running alone)."""
from __future__ import annotations

import contextlib

import torch
import torch.distributed as dist

_LOCAL_ONLY = False     # set by train(): this process alone, even inside a process group


def rank_world() -> tuple[int, int]:
    if not _LOCAL_ONLY and dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


@contextlib.contextmanager
def this_process_only():
    global _LOCAL_ONLY
    before, _LOCAL_ONLY = _LOCAL_ONLY, True
    try:
        yield
    finally:
        _LOCAL_ONLY = before


def comm_device(device: torch.device) -> torch.device:
    """Where collective tensors live: the GPU for NCCL, the CPU for gloo."""
    if rank_world()[1] > 1 and dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu") if device.type != "cuda" else device


def all_sum(values: list[float], device: torch.device) -> list[float]:
    t = torch.tensor(values, dtype=torch.float64, device=comm_device(device))
    if rank_world()[1] > 1:
        dist.all_reduce(t)
    return t.tolist()


def from_rank0(values: list[float], device: torch.device) -> list[float]:
    """Rank 0's values on every rank (so decisions taken from them agree bit for bit)."""
    t = torch.tensor(values, dtype=torch.float64, device=comm_device(device))
    if rank_world()[1] > 1:
        dist.broadcast(t, src=0)
    return t.tolist()


def barrier() -> None:
    if rank_world()[1] > 1:
        dist.barrier()
