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

import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DistributedSampler
from ..progress import bar as tqdm    # tqdm.auto, quiet in a non-TTY log

from ..config import FinetuneConfig
from ..distributed.collectives import all_sum, from_rank0, rank_world, this_process_only
from ..models.loss import token_nll
from ..texts import Text
from .backends import DeepSpeedBackend, TorchBackend, global_batch
from .checkpoint import Progress, latest_checkpoint, load_checkpoint, save_checkpoint


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


# ---------------------------------------------------------------- data layout

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
    total, count = all_sum([total, count], device)
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
    rank, world = rank_world()
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
        backend = DeepSpeedBackend(model, cfg, accelerator, total_steps)
    else:
        backend = TorchBackend(model, cfg, next(model.parameters()).device, world, total_steps)
    device = backend.device

    meta = {"world_size": world, "backend": "deepspeed" if accelerator is not None else "ddp",
            "seed": seed, "train_texts": len(train_ids), "val_texts": len(val_ids), "total_steps": total_steps}
    meta |= {k: getattr(cfg, k) for k in ("epochs", "lr", "batch_size", "grad_accum", "warmup_ratio", "weight_decay",
                                          "max_grad_norm", "patience", "min_delta", "max_length", "max_steps")}
    prog = Progress(history={"task": desc, "steps": [], "epochs": [], "stopped_early": False, "best_epoch": None,
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
            prog, best_state = load_checkpoint(folder, backend, meta, rank, keep_best)
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
            global_tokens = all_sum([local_tokens], device)[0]
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
            step_nll = all_sum([step_nll], device)[0]
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
                save_checkpoint(checkpoint_dir, backend, prog, best_state, meta, rank, world)
        # end of the epoch (or of the step budget): validate, keep the best, maybe stop
        val = _validation_loss(backend, val_ids, val_batches, collate, device)
        improved = val < prog.best_val - cfg.min_delta
        bad = 0 if improved else prog.bad_epochs + 1
        halt = bool(cfg.patience and bad >= cfg.patience)
        val, improved, halt = from_rank0([val, float(improved), float(halt)], device)
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
    with this_process_only():
        return fit(model, tokenizer, texts, cfg, seed, desc, checkpoint_dir).history
