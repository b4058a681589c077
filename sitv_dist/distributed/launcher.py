"""One interface for every way of starting workers (submitit's Executor, narrowed to what a
sweep needs): a launcher `start`s a `Work` and returns a `Handle`; `handle.wait()` blocks until
the workers have ended and returns an `Outcome`. What a worker runs is `Work.entry`, a
module-level function of (OUT root, its shards) that reads everything else from OUT, so every
launcher hands a worker the same two things and OUT stays the one source of truth.

The registry of launchers by name is `launchers.LAUNCHERS`; adding one is a module with a
`Launcher` subclass and its line there (docs/extending.md).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Callable

from ..config import ExperimentConfig


@dataclass
class Work:
    """What to run: `entry(out_root, shards, run=run, **options)` once per group of shards.
    `done_count()` (points on disk) and `total` drive the launcher's progress bar."""
    entry: Callable[..., Any]
    out_root: str
    groups: list[list[int]]
    run: str = ""                                   # the launch's name in OUT's evaluation log
    done_count: Callable[[], int] = lambda: 0
    total: int = 0
    progress: bool = True


@dataclass
class Outcome:
    """How the workers ended. `results` are the entries' return values where the launcher can
    collect them (this process, torchrun ranks, Slurm tasks; not spawned processes); `failed`
    names each worker or task that ended badly and why."""
    launcher: str
    results: list = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    submitted: list[str] = field(default_factory=list)     # Slurm job ids


class Handle(ABC):
    """Started workers. `submitted` is known at once (Slurm job ids; empty elsewhere)."""
    submitted: list[str] = []

    @abstractmethod
    def wait(self) -> Outcome:
        """Block until every worker has ended."""


class Launcher(ABC):
    name = ""

    @classmethod
    @abstractmethod
    def from_config(cls, cfg: ExperimentConfig) -> "Launcher":
        """The launcher with this experiment's settings (workers, threads, slurm section…)."""

    @abstractmethod
    def start(self, work: Work) -> Handle:
        """Start one worker per group of `work.groups` (or, for torchrun, this rank's group)."""


class Finished(Handle):
    """A handle whose workers have already ended (they ran in this process)."""

    def __init__(self, outcome: Outcome):
        self.outcome = outcome

    def wait(self) -> Outcome:
        return self.outcome
