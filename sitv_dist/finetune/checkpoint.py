"""Fine-tune checkpoints: model/optimizer/schedule state (by the backend), data position,
every rank's RNG, best-so-far and history; written atomically, the `latest` pointer last,
and refused on resume when the run's settings differ."""
from __future__ import annotations

import errno
import math
import os
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from ..config import ConfigError
from ..distributed.collectives import barrier
from ..io import atomic_write_text, named_os_error, read_json, write_json

CHECKPOINT_FORMAT = "sitv-dist/finetune-checkpoint/2"    # 2: RNG state without numpy objects

class _RecordingFile:
    """A file whose write remembers the OSError it raised: torch.save reports a failed write as
    a RuntimeError ("unexpected pos ..."), and a full disk must still read as one."""

    def __init__(self, f):
        self.f, self.error = f, None

    def write(self, data):
        try:
            return self.f.write(data)
        except OSError as exc:
            self.error = exc
            raise

    def flush(self):
        self.f.flush()


def _nbytes(obj) -> int:
    """Bytes of the tensors in a (nested) state: what a checkpoint file needs, about."""
    if isinstance(obj, torch.Tensor):
        return obj.numel() * obj.element_size()
    if isinstance(obj, dict):
        return sum(_nbytes(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(_nbytes(v) for v in obj)
    return 0


def torch_save(obj, path: Path) -> None:
    """torch.save, fsynced; a failed write removes the partial file and, when the disk is full,
    raises an OSError naming `path` and the bytes needed (sitv_dist.cli_errors prints it)."""
    sink = None
    try:
        with open(path, "wb") as f:
            sink = _RecordingFile(f)
            torch.save(obj, sink)
            f.flush()
            os.fsync(f.fileno())
    except (OSError, RuntimeError) as exc:
        Path(path).unlink(missing_ok=True)
        cause = exc if isinstance(exc, OSError) else getattr(sink, "error", None)
        if cause is None or cause.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        raise named_os_error(cause.errno, Path(path), _nbytes(obj)) from exc


def rng_state() -> dict:
    """Every generator's state as tensors, ints and tuples only, so that it loads with
    torch.load(weights_only=True): a checkpoint can never run code when it is resumed."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {"torch": torch.get_rng_state(),
            "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached)),
            "python": random.getstate(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    random.setstate(state["python"])
    if state.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def latest_checkpoint(root: Path) -> Path | None:
    """The last complete checkpoint under `root` (the `latest` pointer is written last)."""
    pointer = Path(root) / "latest"
    if not pointer.is_file():
        return None
    folder = Path(root) / pointer.read_text().strip()
    return folder if (folder / "trainer.json").is_file() else None


@dataclass
class Progress:
    epoch: int = 0              # the epoch in progress
    position: int = 0           # optimizer steps already taken in `epoch`
    step: int = 0               # optimizer steps taken in all
    best_val: float = float("inf")
    bad_epochs: int = 0
    epoch_nll: float = 0.0      # Σ NLL and Σ tokens of `epoch` so far (all ranks)
    epoch_tokens: float = 0.0
    elapsed_s: float = 0.0      # training time of earlier (interrupted) runs
    history: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        d = {k: getattr(self, k) for k in ("epoch", "position", "step", "bad_epochs", "epoch_nll", "epoch_tokens",
                                            "elapsed_s")}
        return d | {"best_val": self.best_val if math.isfinite(self.best_val) else None}

    @classmethod
    def from_json(cls, d: dict, history: dict) -> "Progress":
        best = d.pop("best_val")
        return cls(**d, best_val=float("inf") if best is None else best, history=history)


def save_checkpoint(root: Path, backend, prog: Progress, best: dict | None, meta: dict, rank: int,
                    world: int) -> Path:
    """Write checkpoint/step-NNNNNNNN/ and then point checkpoint/latest at it (atomically):
    a run killed at any moment leaves `latest` naming a complete checkpoint."""
    folder = root / f"step-{prog.step:08d}"
    rngs = [None] * world
    if world > 1:
        dist.all_gather_object(rngs, rng_state())
    else:
        rngs = [rng_state()]
    if rank == 0:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    barrier()
    try:
        _write_checkpoint(folder, backend, prog, best, meta, rank, rngs, root)
    except BaseException:
        if rank == 0:           # a full disk (or a bug): no half checkpoint left to take space
            shutil.rmtree(folder, ignore_errors=True)
        raise
    barrier()                       # every rank's shards are on disk
    if rank == 0:
        atomic_write_text(root / "latest", folder.name + "\n")
        for old in root.glob("step-*"):
            if old != folder:
                shutil.rmtree(old, ignore_errors=True)
    return folder


def _write_checkpoint(folder: Path, backend, prog: Progress, best: dict | None, meta: dict, rank: int,
                      rngs: list, root: Path) -> None:
    backend.save(folder, rank)
    if rank == 0:
        torch_save(rngs, folder / "rng.pt")
        if best is not None:
            previous = latest_checkpoint(root)
            same = previous is not None and (previous / "best.pt").is_file() and \
                read_json(previous / "trainer.json")["history"].get("best_epoch") == prog.history.get("best_epoch")
            if same:
                os.link(previous / "best.pt", folder / "best.pt")     # unchanged since: no second copy
            else:
                torch_save(best, folder / "best.pt")
        write_json(folder / "trainer.json", {"format": CHECKPOINT_FORMAT, "meta": meta,
                                             "progress": prog.to_json(), "history": prog.history})
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def load_checkpoint(folder: Path, backend, meta: dict, rank: int, keep_best: bool) -> tuple[Progress, dict | None]:
    state = read_json(folder / "trainer.json")
    if state.get("format") != CHECKPOINT_FORMAT:
        raise ConfigError(f"finetune.checkpoint_every: {folder} is not a checkpoint of this version of the trainer; "
                          f"delete {folder.parent} to start the fine-tune over")
    if state["meta"] != meta:
        diff = {k: (state["meta"].get(k), v) for k, v in meta.items() if state["meta"].get(k) != v}
        raise ConfigError(f"finetune.checkpoint_every: the checkpoint {folder} was written by a run with other "
                          f"settings (checkpoint vs now: {diff}); resume with the same settings and number of "
                          f"ranks, or delete {folder.parent} to start over")
    backend.load(folder)
    set_rng_state(torch.load(folder / "rng.pt", map_location="cpu", weights_only=True)[rank])
    best = None
    if keep_best and (folder / "best.pt").is_file():
        best = torch.load(folder / "best.pt", map_location="cpu", weights_only=True)
    return Progress.from_json(state["progress"], state["history"]), best
