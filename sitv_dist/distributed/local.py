"""The local launcher: N spawned worker processes on this machine, each running `target` on
its own arguments (the single-GPU / CPU fallback, and the baseline the other launchers must
match), with one progress bar over all of them."""
from __future__ import annotations

import ctypes
import multiprocessing as mp
import os
import signal
import threading
import time
from typing import Any, Callable

from tqdm.auto import tqdm


def run_processes(target: Callable[..., None], args_per_worker: list[tuple[Any, ...]],
                  done_count: Callable[[], int], total: int, progress: bool = True) -> dict:
    """Start one spawned process per argument tuple (`target` must be importable by name),
    poll `done_count` for the bar, and report which workers exited badly."""
    ctx = mp.get_context("spawn")
    procs = []
    for args in args_per_worker:
        proc = ctx.Process(target=_child, args=(os.getpid(), target, args), daemon=False)
        proc.start()
        procs.append(proc)
    with tqdm(total=total, desc=f"sweep ({len(procs)} workers)", disable=not progress, unit="pt") as bar:
        while any(p.is_alive() for p in procs):
            if progress:
                bar.n = min(total, done_count())
                bar.refresh()
            time.sleep(0.5)
    bad = [k for k, p in enumerate(procs) if p.exitcode != 0]
    return {"workers": len(procs), "failed_workers": bad}


def worker_devices(workers: int) -> list[str | None]:
    """One GPU per worker, round-robin over the visible ones; None (the CPU) without GPUs."""
    import torch
    gpus = torch.cuda.device_count()
    return [f"cuda:{k % gpus}" if gpus else None for k in range(workers)]


PR_SET_PDEATHSIG = 1


def _child(parent: int, target: Callable[..., None], args: tuple) -> None:
    """Run `target` in a worker that dies with its parent: a SIGKILLed `sitv sweep` must not
    leave workers running on (a rerun would evaluate their points again)."""
    try:     # Linux: the kernel sends SIGKILL when the parent dies
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):      # elsewhere: watch the parent id
        threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    if os.getppid() != parent:             # the parent died before prctl took effect
        os._exit(1)
    target(*args)


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)
