"""The training loop: seeded, token-weighted loss, warmup + cosine, clipping, per-epoch
validation, early stopping, checkpoints with exact resume, and a history for the report.

One loop for every way it runs: a single process (world size 1), DDP ranks under torchrun,
and DeepSpeed ZeRO engines prepared by accelerate (`finetune.backend`). Only the backend
object differs (how to forward, backward, step, save and restore); data order, loss
normalisation, validation, early stopping and checkpoints are the same code.

How a global batch is formed. Every optimizer step consumes the next
G = batch_size × world_size × grad_accum texts of the epoch's permutation. The
permutation comes from (seed, epoch) through a DistributedSampler and is the same on every
rank; the sampler deals position p of it to rank p mod world_size, and each rank cuts its
share of a step into grad_accum micro-batches of batch_size texts. Whatever the world size,
step s therefore trains on positions [s·G, (s+1)·G) of the permutation, and its loss is the
token-weighted mean over that whole global batch: Σ NLL over every rank's micro-batches /
Σ tokens across ranks (the token count is all-reduced before the backward; DDP and DeepSpeed
average gradients over ranks, so each rank's loss is scaled by world_size). Hence 2 ranks
with batch_size B equal 1 rank with batch_size 2B (or grad_accum doubled) up to float
rounding. The epoch's last step takes what is left (fewer than G texts); a rank with nothing
left for a micro-batch runs a zero-weighted one, so every rank makes the same calls.
"""
from __future__ import annotations

import contextlib
import gc
import json
import math
import os
import random
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DistributedSampler
from tqdm.auto import tqdm

from .config import ConfigError, FinetuneConfig
from .data import Text
from .evaluation import token_nll
from .io import atomic_write_text, read_json, write_json

CHECKPOINT_FORMAT = "sitv-dist/finetune-checkpoint/1"


def split_train_val(texts: list[Text], val_fraction: float, seed: int) -> tuple[list[Text], list[Text]]:
    """Seeded hold-out split; at least one text on each side."""
    order = np.random.default_rng(seed).permutation(len(texts))
    n_val = min(max(1, round(len(texts) * val_fraction)), len(texts) - 1)
    return [texts[i] for i in order[n_val:]], [texts[i] for i in order[:n_val]]


def _collate(pad_id: int):
    def collate(items: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        width = max(len(x) for x in items)
        ids = torch.full((len(items), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(items), width), dtype=torch.long)
        for r, x in enumerate(items):
            ids[r, :len(x)] = torch.tensor(x)
            mask[r, :len(x)] = 1
        return ids, mask
    return collate


_LOCAL_ONLY = False     # set by train(): this process alone, even inside a process group


def _rank_world() -> tuple[int, int]:
    if not _LOCAL_ONLY and dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


@contextlib.contextmanager
def _this_process_only():
    global _LOCAL_ONLY
    before, _LOCAL_ONLY = _LOCAL_ONLY, True
    try:
        yield
    finally:
        _LOCAL_ONLY = before


def _comm_device(device: torch.device) -> torch.device:
    """Where collective tensors live: the GPU for NCCL, the CPU for gloo."""
    if _rank_world()[1] > 1 and dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu") if device.type != "cuda" else device


def _all_sum(values: list[float], device: torch.device) -> list[float]:
    t = torch.tensor(values, dtype=torch.float64, device=_comm_device(device))
    if _rank_world()[1] > 1:
        dist.all_reduce(t)
    return t.tolist()


def _from_rank0(values: list[float], device: torch.device) -> list[float]:
    """Rank 0's values on every rank (so decisions taken from them agree bit for bit)."""
    t = torch.tensor(values, dtype=torch.float64, device=_comm_device(device))
    if _rank_world()[1] > 1:
        dist.broadcast(t, src=0)
    return t.tolist()


def _barrier() -> None:
    if _rank_world()[1] > 1:
        dist.barrier()


def _lr_lambda(total_steps: int, warmup_steps: int):
    def f(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return f


# ---------------------------------------------------------------- data layout

def global_batch(cfg: FinetuneConfig, world: int) -> int:
    """Texts per optimizer step over all ranks: batch_size × world × grad_accum."""
    return cfg.batch_size * world * cfg.grad_accum


def steps_per_epoch(num_texts: int, cfg: FinetuneConfig, world: int) -> int:
    return max(1, math.ceil(num_texts / global_batch(cfg, world)))


def train_sampler(num_texts: int, seed: int, rank: int, world: int) -> DistributedSampler:
    """The epoch permutation from (seed, epoch), the same on every rank; rank r gets positions
    r, r + world, r + 2·world, … (positions past the end are padding, see `epoch_layout`)."""
    return DistributedSampler(range(num_texts), num_replicas=world, rank=rank, shuffle=True, seed=seed)


def epoch_layout(sampler: DistributedSampler, epoch: int, cfg: FinetuneConfig) -> list[list[list[int]]]:
    """This rank's texts in `epoch`: for every optimizer step, grad_accum micro-batches of up to
    batch_size text indices. Only the epoch's last step can hold short or empty micro-batches;
    the sampler's padding (repeated texts when the count does not divide) is left out."""
    sampler.set_epoch(epoch)
    rank, world, n = sampler.rank, sampler.num_replicas, len(sampler.dataset)
    idx = list(sampler)
    per_step = cfg.batch_size * cfg.grad_accum
    layout = []
    for s in range(steps_per_epoch(n, cfg, world)):
        micro = []
        for m in range(cfg.grad_accum):
            lo = s * per_step + m * cfg.batch_size
            micro.append([idx[j] for j in range(lo, min(lo + cfg.batch_size, len(idx))) if rank + j * world < n])
        layout.append(micro)
    return layout


def _val_batches(num_texts: int, batch_size: int, rank: int, world: int) -> list[tuple[list[int], list[float]]]:
    """This rank's share of the validation texts in fixed order, batches of batch_size with a
    weight per row (0 for the sampler's padding, which keeps the batch count equal on all ranks)."""
    idx = list(DistributedSampler(range(num_texts), num_replicas=world, rank=rank, shuffle=False))
    weights = [1.0 if rank + j * world < num_texts else 0.0 for j in range(len(idx))]
    return [(idx[i:i + batch_size], weights[i:i + batch_size]) for i in range(0, len(idx), batch_size)]


# ---------------------------------------------------------------- backends

def use_bf16(cfg: FinetuneConfig, device: torch.device) -> bool:
    """finetune.mixed_precision: 'auto' is bf16 on a GPU that supports it, off elsewhere."""
    if cfg.mixed_precision == "auto":
        return device.type == "cuda" and torch.cuda.is_bf16_supported()
    return cfg.mixed_precision == "bf16"


class _TorchBackend:
    """One process, or DDP over all ranks: torch AdamW, LambdaLR, clipping, bf16 autocast,
    `no_sync` on the micro-steps before the last of an optimizer step."""

    def __init__(self, model: torch.nn.Module, cfg: FinetuneConfig, device: torch.device, world: int,
                 total_steps: int):
        self.module, self.device, self.cfg = model, device, cfg
        self.ddp = None
        if world > 1:
            from torch.nn.parallel import DistributedDataParallel
            self.ddp = DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)
        self.net = self.ddp or model
        self.opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.sched = torch.optim.lr_scheduler.LambdaLR(
            self.opt, _lr_lambda(total_steps, max(1, int(cfg.warmup_ratio * total_steps))))
        self.bf16 = use_bf16(cfg, device)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            return self.net(input_ids=ids, attention_mask=mask).logits

    def micro_step(self, final: bool):
        return self.ddp.no_sync() if self.ddp is not None and not final else contextlib.nullcontext()

    def backward(self, loss: torch.Tensor, final: bool) -> None:
        loss.backward()

    def step(self) -> float:
        grad_norm = torch.nn.utils.clip_grad_norm_(self.module.parameters(), self.cfg.max_grad_norm or float("inf"))
        self.opt.step()
        self.sched.step()
        self.opt.zero_grad(set_to_none=True)
        return float(grad_norm)

    def lr(self) -> float:
        return self.sched.get_last_lr()[0]

    def train(self, mode: bool = True) -> None:
        self.net.train(mode)

    def full_state(self) -> dict[str, torch.Tensor]:
        """The model's weights (on every rank: they are replicated)."""
        return {k: v.detach().clone() for k, v in self.module.state_dict().items()}

    def final_state(self, best: dict | None, has_best: bool) -> dict | None:
        """Put the best weights back into the model in place; nothing else to hand over."""
        if has_best and best is not None:
            self.module.load_state_dict(best)
        self.module.eval()
        return None

    def save(self, folder: Path, rank: int) -> None:
        if rank == 0:
            _torch_save({"model": self.module.state_dict(), "optimizer": self.opt.state_dict(),
                         "scheduler": self.sched.state_dict()}, folder / "train_state.pt")

    def load(self, folder: Path) -> None:
        state = torch.load(folder / "train_state.pt", map_location="cpu", weights_only=True)
        self.module.load_state_dict(state["model"])
        self.opt.load_state_dict(state["optimizer"])
        self.sched.load_state_dict(state["scheduler"])

    def close(self) -> None:
        self.opt.zero_grad(set_to_none=True)
        del self.ddp, self.net, self.opt, self.sched
        gc.collect()


class _DeepSpeedBackend:
    """DeepSpeed ZeRO (stage from the JSON config) through accelerate. The engine does the
    gradient reduction, clipping (`gradient_clipping`) and the optimizer step at the
    accumulation boundary; the LambdaLR schedule is stepped here, once per optimizer step
    (not handed to accelerate, whose wrapper steps it once per process)."""

    def __init__(self, model: torch.nn.Module, cfg: FinetuneConfig, accelerator, total_steps: int):
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.sched = torch.optim.lr_scheduler.LambdaLR(
            opt, _lr_lambda(total_steps, max(1, int(cfg.warmup_ratio * total_steps))))
        self.accelerator = accelerator
        self.engine, self.opt = accelerator.prepare(model, opt)
        self.wrapper = accelerator.deepspeed_engine_wrapped
        self.device = accelerator.device
        self.stage = int(accelerator.deepspeed_config["zero_optimization"].get("stage", 0))

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.engine(input_ids=ids, attention_mask=mask).logits

    def micro_step(self, final: bool):
        return contextlib.nullcontext()

    def backward(self, loss: torch.Tensor, final: bool) -> None:
        # The loss is already normalised over the global batch: no division by the accumulation steps.
        self.wrapper.backward(loss, sync_gradients=final, scale_wrt_gas=False)

    def step(self) -> float | None:
        self.sched.step()
        norm = self.engine.get_global_grad_norm()
        return float(norm) if norm is not None else None

    def lr(self) -> float:
        return self.sched.get_last_lr()[0]

    def train(self, mode: bool = True) -> None:
        self.engine.train(mode)

    def full_state(self) -> dict[str, torch.Tensor] | None:
        """The gathered weights on rank 0 (on the CPU), None on the other ranks (a collective)."""
        state = self.accelerator.get_state_dict(self.engine)
        if not self.accelerator.is_main_process:
            return None
        return {k: v.detach().to("cpu", copy=True) for k, v in state.items()}

    def final_state(self, best: dict | None, has_best: bool) -> dict | None:
        """The best weights (kept on rank 0), else the current ones gathered (every rank takes part)."""
        state = best if has_best else self.full_state()
        self.engine.eval()
        return state if self.accelerator.is_main_process else None

    def save(self, folder: Path, rank: int) -> None:
        self.engine.save_checkpoint(str(folder), tag="engine", save_latest=False)   # every rank writes its shards
        if rank == 0:
            _torch_save({"scheduler": self.sched.state_dict()}, folder / "train_state.pt")

    def load(self, folder: Path) -> None:
        self.engine.load_checkpoint(str(folder), tag="engine", load_optimizer_states=True,
                                    load_lr_scheduler_states=False)
        self.sched.load_state_dict(torch.load(folder / "train_state.pt", map_location="cpu",
                                              weights_only=True)["scheduler"])

    def close(self) -> None:
        del self.engine, self.opt, self.sched, self.wrapper
        self.accelerator.free_memory()
        gc.collect()


# ---------------------------------------------------------------- checkpoints

def _torch_save(obj, path: Path) -> None:
    with open(path, "wb") as f:
        torch.save(obj, f)
        f.flush()
        os.fsync(f.fileno())


def _rng_state() -> dict:
    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
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
class _Progress:
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
    def from_json(cls, d: dict, history: dict) -> "_Progress":
        best = d.pop("best_val")
        return cls(**d, best_val=float("inf") if best is None else best, history=history)


def _save_checkpoint(root: Path, backend, prog: _Progress, best: dict | None, meta: dict, rank: int,
                     world: int) -> Path:
    """Write checkpoint/step-NNNNNNNN/ and then point checkpoint/latest at it (atomically):
    a run killed at any moment leaves `latest` naming a complete checkpoint."""
    folder = root / f"step-{prog.step:08d}"
    rngs = [None] * world
    if world > 1:
        dist.all_gather_object(rngs, _rng_state())
    else:
        rngs = [_rng_state()]
    if rank == 0:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    _barrier()
    backend.save(folder, rank)
    if rank == 0:
        _torch_save(rngs, folder / "rng.pt")
        if best is not None:
            previous = latest_checkpoint(root)
            same = previous is not None and (previous / "best.pt").is_file() and \
                read_json(previous / "trainer.json")["history"].get("best_epoch") == prog.history.get("best_epoch")
            if same:
                os.link(previous / "best.pt", folder / "best.pt")     # unchanged since: no second copy
            else:
                _torch_save(best, folder / "best.pt")
        write_json(folder / "trainer.json", {"format": CHECKPOINT_FORMAT, "meta": meta,
                                             "progress": prog.to_json(), "history": prog.history})
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    _barrier()                       # every rank's shards are on disk
    if rank == 0:
        atomic_write_text(root / "latest", folder.name + "\n")
        for old in root.glob("step-*"):
            if old != folder:
                shutil.rmtree(old, ignore_errors=True)
    return folder


def _load_checkpoint(folder: Path, backend, meta: dict, rank: int, keep_best: bool) -> tuple[_Progress, dict | None]:
    state = read_json(folder / "trainer.json")
    if state.get("format") != CHECKPOINT_FORMAT:
        raise ConfigError(f"finetune.checkpoint_every: {folder} is not a checkpoint of this trainer; delete it")
    if state["meta"] != meta:
        diff = {k: (state["meta"].get(k), v) for k, v in meta.items() if state["meta"].get(k) != v}
        raise ConfigError(f"finetune.checkpoint_every: the checkpoint {folder} was written by a run with other "
                          f"settings (checkpoint vs now: {diff}); resume with the same settings and number of "
                          f"ranks, or delete {folder.parent} to start over")
    backend.load(folder)
    _set_rng_state(torch.load(folder / "rng.pt", map_location="cpu", weights_only=False)[rank])
    best = None
    if keep_best and (folder / "best.pt").is_file():
        best = torch.load(folder / "best.pt", map_location="cpu", weights_only=True)
    return _Progress.from_json(state["progress"], state["history"]), best


# ---------------------------------------------------------------- the loop

@torch.no_grad()
def _validation_loss(backend, val_ids: list[list[int]], batches, collate, device) -> float:
    """Σ NLL / Σ tokens over the validation texts, summed across ranks."""
    backend.train(False)
    total = count = 0.0
    for rows, weights in batches:
        ids, mask = collate([val_ids[i] for i in rows])
        ids, mask = ids.to(device), mask.to(device)
        nll = token_nll(backend.forward(ids, mask), ids, mask)
        if all(weights):
            total += float(nll.double().sum())
            count += float(mask[:, 1:].sum())
        else:       # the sampler's padding rows count nothing
            w = torch.tensor(weights, dtype=torch.float64, device=device)
            total += float((nll.double().sum(dim=1) * w).sum())
            count += float((mask[:, 1:].sum(dim=1).double() * w).sum())
    backend.train(True)
    total, count = _all_sum([total, count], device)
    return total / max(count, 1.0)


@dataclass
class FitResult:
    history: dict
    state: dict | None      # DeepSpeed: the final (best) full weights on rank 0; otherwise None (model in place)


def fit(model: torch.nn.Module, tokenizer, texts: list[Text], cfg: FinetuneConfig, seed: int,
        desc: str = "finetune", checkpoint_dir: Path | None = None, accelerator=None) -> FitResult:
    """Train on `texts` on this rank (all ranks call it together). Without `accelerator` the
    model is trained in place (DDP when world > 1) and ends with its best weights; with an
    accelerate DeepSpeed `accelerator` the final weights come back gathered on rank 0.
    With `checkpoint_dir` and `cfg.checkpoint_every`, a checkpoint is written every that many
    optimizer steps and a run that finds one resumes from it, bit for bit."""
    rank, world = _rank_world()
    torch.manual_seed(seed + rank)
    train_texts, val_texts = split_train_val(texts, cfg.val_fraction, seed)
    encode = lambda ts: [tokenizer(t.text, truncation=True, max_length=cfg.max_length)["input_ids"] for t in ts]
    train_ids, val_ids = encode(train_texts), encode(val_texts)
    collate = _collate(tokenizer.pad_token_id)
    sampler = train_sampler(len(train_ids), seed, rank, world)
    val_batches = _val_batches(len(val_ids), cfg.batch_size, rank, world)

    per_epoch = steps_per_epoch(len(train_ids), cfg, world)
    total_steps = per_epoch * cfg.epochs
    if cfg.max_steps:
        total_steps = min(total_steps, cfg.max_steps)
    if accelerator is not None:
        backend = _DeepSpeedBackend(model, cfg, accelerator, total_steps)
    else:
        backend = _TorchBackend(model, cfg, next(model.parameters()).device, world, total_steps)
    device = backend.device

    meta = {"world_size": world, "backend": "deepspeed" if accelerator is not None else "ddp",
            "seed": seed, "train_texts": len(train_ids), "val_texts": len(val_ids), "total_steps": total_steps}
    meta |= {k: getattr(cfg, k) for k in ("epochs", "lr", "batch_size", "grad_accum", "warmup_ratio", "weight_decay",
                                          "max_grad_norm", "patience", "min_delta", "max_length", "max_steps")}
    prog = _Progress(history={"task": desc, "steps": [], "epochs": [], "stopped_early": False, "best_epoch": None,
                              "epochs_run": 0, "train_texts": len(train_texts), "val_texts": len(val_texts),
                              "world_size": world, "global_batch": global_batch(cfg, world),
                              "backend": meta["backend"], "resumed_from_step": None})
    best_state = None
    keep_best = accelerator is None or rank == 0
    checkpointing = checkpoint_dir is not None and cfg.checkpoint_every > 0
    if checkpointing:
        checkpoint_dir = Path(checkpoint_dir)
        folder = latest_checkpoint(checkpoint_dir)
        if folder is not None:
            prog, best_state = _load_checkpoint(folder, backend, meta, rank, keep_best)
            prog.history["resumed_from_step"] = prog.step
            if rank == 0:
                print(f"{desc}: resuming from {folder} (step {prog.step}, epoch {prog.epoch})", flush=True)
    history = prog.history

    start = time.perf_counter()
    backend.train(True)
    bar = tqdm(total=total_steps, initial=prog.step, desc=desc, disable=rank != 0, leave=False)
    stop = prog.step >= total_steps
    while not stop and prog.epoch < cfg.epochs:
        epoch = prog.epoch
        layout = epoch_layout(sampler, epoch, cfg)
        while prog.position < per_epoch and prog.step < total_steps:
            # an empty micro-batch (only in an epoch's last step) runs text 0 with weight 0
            micro = [collate([train_ids[i] for i in rows] if rows else [train_ids[0]])
                     for rows in layout[prog.position]]
            weights = [1.0 if rows else 0.0 for rows in layout[prog.position]]
            local_tokens = sum(float(mask[:, 1:].sum()) * w for (_, mask), w in zip(micro, weights))
            global_tokens = _all_sum([local_tokens], device)[0]
            # DDP and DeepSpeed average gradients over ranks: dividing by Σtokens/world gives Σ NLL / Σ tokens
            per_rank_tokens = max(global_tokens, 1.0) / world
            step_nll = 0.0
            for m, ((ids, mask), w) in enumerate(zip(micro, weights)):
                final = m == len(micro) - 1
                ids, mask = ids.to(device), mask.to(device)
                with backend.micro_step(final):
                    nll = token_nll(backend.forward(ids, mask), ids, mask)
                    loss = nll.sum() / per_rank_tokens if w else nll.sum() * 0.0
                    backend.backward(loss, final)
                step_nll += float(nll.detach().double().sum()) * w
            grad_norm = backend.step()
            step_nll = _all_sum([step_nll], device)[0]
            prog.position += 1
            prog.step += 1
            prog.epoch_nll += step_nll
            prog.epoch_tokens += global_tokens
            history["steps"].append({"step": prog.step, "epoch": epoch, "loss": step_nll / max(global_tokens, 1.0),
                                     "lr": backend.lr(), "grad_norm": grad_norm, "tokens": int(global_tokens)})
            bar.update(1)
            bar.set_postfix(loss=f"{history['steps'][-1]['loss']:.3f}")
            if checkpointing and prog.step % cfg.checkpoint_every == 0 and prog.step < total_steps:
                prog.elapsed_s += time.perf_counter() - start
                start = time.perf_counter()
                _save_checkpoint(checkpoint_dir, backend, prog, best_state, meta, rank, world)
        # end of the epoch (or of the step budget): validate, keep the best, maybe stop
        val = _validation_loss(backend, val_ids, val_batches, collate, device)
        improved = val < prog.best_val - cfg.min_delta
        bad = 0 if improved else prog.bad_epochs + 1
        halt = bool(cfg.patience and bad >= cfg.patience)
        val, improved, halt = _from_rank0([val, float(improved), float(halt)], device)
        history["epochs"].append({"epoch": epoch, "step": prog.step,
                                  "train_loss": prog.epoch_nll / max(prog.epoch_tokens, 1.0), "val_loss": val})
        history["epochs_run"] = epoch + 1
        if improved:
            prog.best_val, prog.bad_epochs, history["best_epoch"] = val, 0, epoch
            state = backend.full_state()
            best_state = state if keep_best else None
        else:
            prog.bad_epochs += 1
        prog.epoch, prog.position, prog.epoch_nll, prog.epoch_tokens = epoch + 1, 0, 0.0, 0.0
        if halt:
            history["stopped_early"] = True
            stop = True
        if prog.step >= total_steps:
            stop = True
    bar.close()
    state = backend.final_state(best_state, history["best_epoch"] is not None)
    backend.close()
    history["best_val_loss"] = prog.best_val
    history["time_s"] = prog.elapsed_s + time.perf_counter() - start
    return FitResult(history, state)


def train(model: torch.nn.Module, tokenizer, texts: list[Text], cfg: FinetuneConfig, seed: int,
          desc: str = "finetune", checkpoint_dir: Path | None = None) -> dict:
    """Train `model` in place on `texts` in this process alone, even under torchrun (rank 0
    pre-trains the embedded base this way while the other ranks wait); returns the history
    (see docs/layout.md). `fit` trains on every rank of the process group."""
    with _this_process_only():
        return fit(model, tokenizer, texts, cfg, seed, desc, checkpoint_dir).history


# ---------------------------------------------------------------- DeepSpeed set-up

DS_AUTO = ("train_micro_batch_size_per_gpu", "gradient_accumulation_steps", "train_batch_size", "gradient_clipping")


def deepspeed_config(cfg: FinetuneConfig, world: int, bf16: bool, key: str = "finetune") -> dict:
    """The DeepSpeed JSON of `finetune.deepspeed_config` with its "auto" values filled from the
    finetune settings (batch size per rank, accumulation, global batch, clipping, bf16)."""
    path = Path(cfg.deepspeed_config).expanduser()
    ds = read_deepspeed_json(path, f"{key}.deepspeed_config")
    wanted = {"train_micro_batch_size_per_gpu": cfg.batch_size, "gradient_accumulation_steps": cfg.grad_accum,
              "train_batch_size": global_batch(cfg, world), "gradient_clipping": float(cfg.max_grad_norm)}
    for name, value in wanted.items():
        if ds.get(name, "auto") == "auto":
            ds[name] = value
        elif ds[name] != value:
            raise ConfigError(f"{key}.deepspeed_config: {path} sets {name}={ds[name]!r} but the finetune settings "
                              f"give {value!r}; set it to \"auto\" there")
    for section, on in (("bf16", bf16), ("fp16", False)):
        if isinstance(ds.get(section), dict) and ds[section].get("enabled") == "auto":
            ds[section]["enabled"] = on
    ds.setdefault("bf16", {"enabled": bf16})
    ds.setdefault("zero_allow_untested_optimizer", True)   # torch AdamW: nothing to compile
    left = _autos(ds)
    if left:
        raise ConfigError(f"{key}.deepspeed_config: {path} leaves {', '.join(left)} as \"auto\"; only "
                          f"{', '.join(DS_AUTO)}, bf16.enabled and fp16.enabled are filled in; give numbers")
    return ds


def read_deepspeed_json(path: Path, key: str) -> dict:
    """Read and check a DeepSpeed JSON: a ZeRO stage 0-3, no optimizer/scheduler sections."""
    if not path.is_file():
        raise ConfigError(f"{key}: {str(path)!r} does not exist; e.g. configs/deepspeed/zero2.json")
    try:
        ds = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{key}: {path} is not valid JSON: {exc}") from None
    if not isinstance(ds, dict):
        raise ConfigError(f"{key}: {path} must hold a JSON object")
    stage = ds.get("zero_optimization", {}).get("stage", 0)
    if stage not in (0, 1, 2, 3):
        raise ConfigError(f"{key}: {path}: zero_optimization.stage must be 0, 1, 2 or 3, got {stage!r}")
    for section in ("optimizer", "scheduler"):
        if section in ds:
            raise ConfigError(f"{key}: {path} has a {section!r} section; remove it (the trainer uses torch "
                              "AdamW with warmup + cosine from the finetune settings)")
    return ds


def _autos(node, prefix: str = "") -> list[str]:
    if isinstance(node, dict):
        return [k for key, v in node.items() for k in _autos(v, f"{prefix}{key}.")]
    return [prefix.rstrip(".")] if node == "auto" else []


def deepspeed_accelerator(cfg: FinetuneConfig, world: int, device: torch.device):
    """An accelerate Accelerator with a DeepSpeed plugin for this launch. Call it once per
    process, before loading the model (ZeRO-3 then loads it partitioned). On the CPU the
    process group is gloo: accelerate must be told, or it counts one process."""
    from accelerate import Accelerator, DeepSpeedPlugin
    from accelerate.utils import InitProcessGroupKwargs
    ds = deepspeed_config(cfg, world, use_bf16(cfg, device))
    if device.type == "cpu":
        # On the CPU DeepSpeed would JIT-compile a shared-memory allreduce (a C++ op, ~90 s on first use);
        # gloo does the same job. Its op table is computed once per process and edits to it persist.
        import deepspeed.ops
        deepspeed.ops.__compatible_ops__["deepspeed_shm_comm"] = False
    backend = "nccl" if device.type == "cuda" else "gloo"
    return Accelerator(deepspeed_plugin=DeepSpeedPlugin(hf_ds_config=ds), gradient_accumulation_steps=cfg.grad_accum,
                       kwargs_handlers=[InitProcessGroupKwargs(backend=backend)])


@contextlib.contextmanager
def _plain_loading(accelerator):
    """Load models whole on one rank (no ZeRO-3 partitioning, which would wait for the others)."""
    if accelerator is None:
        yield
        return
    from transformers.integrations.deepspeed import unset_hf_deepspeed_config
    unset_hf_deepspeed_config()
    try:
        yield
    finally:
        accelerator.state.deepspeed_plugin.set_deepspeed_weakref()


def _without_tied_copies(module: torch.nn.Module, state: dict) -> dict:
    """A gathered ZeRO state dict lists tied weights (embedding / LM head) under every name;
    keep the first, as save_pretrained does for an ordinary model."""
    copies = set(dict(module.named_parameters(remove_duplicate=False))) - set(dict(module.named_parameters()))
    return {k: v for k, v in state.items() if k not in copies}


# ---------------------------------------------------------------- one task, start to end

_ACCELERATOR = None


def finetune_task(cfg, out: Path, name: str, force: bool = False) -> Path:
    """Fine-tune the base on one task on every rank of the launch (one process: world size 1),
    and write — on rank 0 — OUT/finetune/<task>/model, history.json and the task vector
    OUT/task_vectors/<task>.safetensors. Resumes from OUT/finetune/<task>/checkpoint/ when
    finetune.checkpoint_every is set; `force` starts over."""
    global _ACCELERATOR
    from . import taskvector
    from .data import load_texts
    from .modeling import load_model, load_tokenizer, model_location, resolve_device
    from .pipeline import base_location, timed
    rank, world = _rank_world()
    task_dir = out / "finetune" / name
    tv_path = out / "task_vectors" / f"{name}.safetensors"
    history_path, model_dir, ckpt = task_dir / "history.json", task_dir / "model", task_dir / "checkpoint"
    if cfg.model.device == "auto" and not torch.cuda.is_available():
        device = torch.device("cpu")
    else:
        device = resolve_device(cfg.model.device)
    done = tv_path.is_file() and history_path.is_file() and not force
    if _from_rank0([float(done)], device)[0]:
        return tv_path
    index = next(i for i, t in enumerate(cfg.tasks) if t.name == name)
    task = cfg.tasks[index]
    if not task.train:
        raise ConfigError(f"tasks.{index}.train: task {name!r} has no training data; give a file, or give its "
                          f"task vector in sweep.task_vectors.{name}")
    deepspeed = cfg.finetune.backend == "deepspeed"
    if deepspeed and world == 1 and not dist.is_initialized():
        raise ConfigError("finetune.backend: deepspeed runs under torchrun; use launch/finetune.sh CONFIG NPROC "
                          "(or python -m sitv_dist.distributed.train), then rerun: finished fine-tunes are skipped")
    if rank == 0:
        if force:
            shutil.rmtree(ckpt, ignore_errors=True)
        location = base_location(cfg, out)      # builds the embedded base once, before the other ranks look
    _barrier()
    if rank != 0:
        location = model_location(cfg)
    texts = load_texts(task.train, key=f"tasks.{index}.train", embedded_name=name, split="train",
                       text_field=task.text_field)
    stage = timed(out, f"finetune:{name}") if rank == 0 else contextlib.nullcontext()
    with stage:
        tokenizer = load_tokenizer(location)
        accelerator = None
        if deepspeed:
            if _ACCELERATOR is None:
                _ACCELERATOR = deepspeed_accelerator(cfg.finetune, world, device)
            accelerator = _ACCELERATOR
        model = load_model(location, cfg.model, device, dtype="float32")
        result = fit(model, tokenizer, texts, cfg.finetune, seed=cfg.seed, desc=f"finetune {name}",
                     checkpoint_dir=ckpt, accelerator=accelerator)
        history = result.history
        history["task"] = name
        if rank == 0:
            if accelerator is None:
                model.save_pretrained(model_dir)
            else:
                module = accelerator.unwrap_model(model)
                module.save_pretrained(model_dir, state_dict=_without_tied_copies(module, result.state))
            tokenizer.save_pretrained(model_dir)
            write_json(history_path, history)
    if world > 1:       # every rank says where it stopped: they must agree
        steps = history["steps"][-1]["step"] if history["steps"] else 0
        print(f"finetune {name}: rank {rank}/{world} finished at epoch {history['epochs_run']} step {steps}, "
              f"stopped early: {history['stopped_early']}", flush=True)
    if rank == 0:
        with timed(out, f"taskvector:{name}"), _plain_loading(accelerator):
            if accelerator is None:
                finetuned = model
            else:
                del model
                gc.collect()
                finetuned = load_model(str(model_dir), cfg.model, torch.device("cpu"), dtype="float32")
            base = load_model(location, cfg.model, next(finetuned.parameters()).device, dtype="float32")
            taskvector.save(tv_path, taskvector.difference(base, finetuned), location, str(model_dir))
        shutil.rmtree(ckpt, ignore_errors=True)     # the fine-tune is complete: nothing to resume
    _barrier()
    return tv_path
