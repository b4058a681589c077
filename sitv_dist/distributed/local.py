"""The local launchers: this process alone (`InProcess`), or N spawned worker processes on this
machine (`LocalProcesses`, the single-GPU / CPU fallback and the baseline the other launchers
must match) with one progress bar over all of them. A spawned worker dies with its parent."""
from __future__ import annotations

import ctypes
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
from typing import Any, Callable

from ..progress import bar as tqdm    # tqdm.auto, quiet in a non-TTY log

from ..config import ConfigError, ExperimentConfig
from .launcher import Finished, Handle, Launcher, Outcome, Work


class InProcess(Launcher):
    """Every group runs here, one after the other; a ConfigError reaches the caller as is."""
    name = "inline"

    def __init__(self, threads: int | None = None):
        self.threads = threads

    @classmethod
    def from_config(cls, cfg: ExperimentConfig) -> "InProcess":
        return cls(cfg.sweep.threads_per_worker or None)

    def start(self, work: Work) -> Handle:
        results = [work.entry(work.out_root, group, run=work.run, threads=self.threads, progress=work.progress)
                   for group in work.groups]
        return Finished(Outcome(self.name, results=results))


class LocalProcesses(Launcher):
    """One spawned process per group (`sweep.workers` groups), each with its own thread count
    and device (one GPU each, round-robin, when there are GPUs)."""
    name = "processes"

    def __init__(self, workers: int, threads: int = 1):
        self.workers, self.threads = workers, threads

    @classmethod
    def from_config(cls, cfg: ExperimentConfig) -> "LocalProcesses":
        return cls(cfg.sweep.workers, cfg.sweep.threads_per_worker or 1)

    def start(self, work: Work) -> Handle:
        devices = worker_devices(len(work.groups))
        args = [(work.entry, (work.out_root, group), {"run": work.run, "threads": self.threads, "device": device})
                for group, device in zip(work.groups, devices)]
        return _Processes(_spawn(args), work)


class _Processes(Handle):
    def __init__(self, procs: list, work: Work):
        self.procs, self.work = procs, work

    def wait(self) -> Outcome:
        _watch(self.procs, self.work.done_count, self.work.total, self.work.progress)
        failed = {f"worker {k}": f"exit code {p.exitcode}" for k, p in enumerate(self.procs) if p.exitcode != 0}
        return Outcome("processes", failed=failed)


def _spawn(calls: list[tuple[Callable[..., Any], tuple, dict]]) -> list:
    """One spawned process per (function, args, kwargs); the function must be importable by name."""
    ctx = mp.get_context("spawn")
    procs = []
    for call in calls:
        proc = ctx.Process(target=_child, args=(os.getpid(), call), daemon=False)
        proc.start()
        procs.append(proc)
    return procs


def _watch(procs: list, done_count: Callable[[], int], total: int, progress: bool) -> None:
    with tqdm(total=total, desc=f"sweep ({len(procs)} workers)", disable=not progress, unit="pt") as bar:
        while any(p.is_alive() for p in procs):
            if progress:
                bar.n = min(total, done_count())
                bar.refresh()
            time.sleep(0.5)


def worker_devices(workers: int) -> list[str | None]:
    """One GPU per worker, round-robin over the visible ones; None (the CPU) without GPUs."""
    import torch
    gpus = torch.cuda.device_count()
    return [f"cuda:{k % gpus}" if gpus else None for k in range(workers)]


PR_SET_PDEATHSIG = 1


def _child(parent: int, call: tuple[Callable[..., Any], tuple, dict]) -> None:
    """Run the call in a worker that dies with its parent: a SIGKILLed `sitv sweep` must not
    leave workers running on (a rerun would evaluate their points again). A ConfigError (e.g.
    a tokenizer that does not fit the model) is one line and exit code 2, not a traceback."""
    try:     # Linux: the kernel sends SIGKILL when the parent dies
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):      # elsewhere: watch the parent id
        threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    if os.getppid() != parent:             # the parent died before prctl took effect
        os._exit(1)
    target, args, kwargs = call
    try:
        target(*args, **kwargs)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr, flush=True)
        sys.exit(2)


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)
