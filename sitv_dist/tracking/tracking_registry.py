"""The tracker registry and `Tracking`, the one object the stages log through."""
from __future__ import annotations

import importlib
import os
import warnings
from pathlib import Path
from typing import Callable, Protocol

from ..config import TrackingConfig

MODULES = {"tensorboard": "tensorboard_tracker", "wandb": "wandb_tracker"}    # imported when enabled
TRACKERS: dict[str, Callable[[str, str, Path | None], "Tracker"]] = {}


class Tracker(Protocol):
    def scalar(self, tag: str, value: float, step: int) -> None: ...
    def image(self, tag: str, png: Path, step: int) -> None: ...
    def close(self) -> None: ...


def register(name: str):
    """Register `factory(setting, run_name, out_root) -> Tracker` under the config key `tracking.<name>`."""
    def wrap(factory):
        TRACKERS[name] = factory
        return factory
    return wrap


def is_rank_zero() -> bool:
    """Rank 0 of a torchrun launch or a Slurm task's first rank (a plain process is rank 0)."""
    return all(int(os.environ.get(var, "0") or 0) == 0 for var in ("RANK", "SLURM_PROCID"))


class Tracking:
    """The enabled trackers; every call is guarded: a tracker that raises warns once, naming
    itself and the error, and logs nothing more (the sweep or fine-tune goes on)."""

    def __init__(self, trackers: dict[str, Tracker]):
        self.trackers = dict(trackers)

    def __bool__(self) -> bool:
        return bool(self.trackers)

    def _each(self, method: str, *args) -> None:
        for name, tracker in list(self.trackers.items()):
            try:
                getattr(tracker, method)(*args)
            except Exception as exc:  # noqa: BLE001 — a logger must never fail the run
                self._drop(name, exc)

    def _drop(self, name: str, exc: BaseException) -> None:
        self.trackers.pop(name, None)
        warnings.warn(f"tracking.{name}: {type(exc).__name__}: {exc}; logging to it stops, the run goes on",
                      RuntimeWarning, stacklevel=3)

    def scalar(self, tag: str, value: float, step: int) -> None:
        self._each("scalar", tag, float(value), int(step))

    def image(self, tag: str, png: Path, step: int = 0) -> None:
        self._each("image", tag, Path(png), int(step))

    def close(self) -> None:
        self._each("close")
        self.trackers.clear()

    def __enter__(self) -> "Tracking":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_tracking(cfg: TrackingConfig, run_name: str, out_root: Path | None = None) -> Tracking:
    """The trackers `cfg` enables (none on ranks other than 0); one that cannot start warns."""
    opened = Tracking({})
    if not is_rank_zero():
        return opened
    for name, setting in cfg.enabled().items():
        try:
            if name not in TRACKERS:
                importlib.import_module(f"{__package__}.{MODULES[name]}")
            opened.trackers[name] = TRACKERS[name](setting, run_name, out_root)
        except Exception as exc:  # noqa: BLE001 — a missing package or a bad directory warns, no more
            opened._drop(name, exc)
    return opened
