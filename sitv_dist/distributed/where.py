"""'Where am I': map torchrun / Slurm / plain-process environments to shards and a device.

The worker loop never reads these variables itself, so the same loop runs under every
launcher. Shards are dealt out round-robin: owner k of n takes shards k, k+n, k+2n, …
"""
from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Place:
    rank: int          # this process among all workers of the launch
    world: int         # number of workers
    local_rank: int    # this process among the workers on its node (picks the GPU)
    launcher: str      # "torchrun", "slurm" or "local"


def from_env(env: os._Environ | dict = os.environ) -> Place:
    """torchrun sets RANK/WORLD_SIZE/LOCAL_RANK; a plain process is rank 0 of 1."""
    if "WORLD_SIZE" in env and "RANK" in env:
        return Place(int(env["RANK"]), int(env["WORLD_SIZE"]), int(env.get("LOCAL_RANK", 0)), "torchrun")
    return Place(0, 1, 0, "local")


def owned_shards(num_shards: int, owner: int, owners: int) -> list[int]:
    return list(range(owner, num_shards, owners))


def split_among_tasks(shards: list[int], rank: int, ranks: int) -> list[int]:
    """Several ranks inside one Slurm array task share that task's shards round-robin."""
    return shards[rank::ranks]
