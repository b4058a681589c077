"""The launchers by name (`sweep.launcher` and how a process was started pick one): one line
each, as mergekit lists its merge methods."""
from __future__ import annotations

from ..config import ExperimentConfig
from .launcher import Launcher
from .local import InProcess, LocalProcesses
from .slurm import SlurmArray
from .torchrun import TorchrunRanks

LAUNCHERS: dict[str, type[Launcher]] = {
    "inline": InProcess,            # this process evaluates every shard itself
    "processes": LocalProcesses,    # sweep.workers spawned processes on this machine
    "torchrun": TorchrunRanks,      # this process is one rank of a torchrun launch
    "slurm": SlurmArray,            # one submitit array job, a group of shards per task
}


def launcher(name: str, cfg: ExperimentConfig) -> Launcher:
    """The launcher `name`, set up from the experiment's settings."""
    if name not in LAUNCHERS:
        raise ValueError(f"unknown launcher {name!r}; one of {', '.join(LAUNCHERS)}")
    return LAUNCHERS[name].from_config(cfg)
