"""The training loop: seeded, token-weighted loss, warmup + cosine, clipping, per-epoch
validation, early stopping, and a history for the report.

Written for DDP from the start: data comes through a DistributedSampler (world size 1 in
a single process), validation sums NLL and tokens across ranks before dividing.
"""
from __future__ import annotations

import math
import time

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, DistributedSampler
from tqdm.auto import tqdm

from .config import FinetuneConfig
from .data import Text
from .evaluation import token_nll


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


def _rank_world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _all_sum(values: list[float], device: torch.device) -> list[float]:
    t = torch.tensor(values, dtype=torch.float64, device=device)
    if _rank_world()[1] > 1:
        dist.all_reduce(t)
    return t.tolist()


def _lr_lambda(total_steps: int, warmup_steps: int):
    def f(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return f


@torch.no_grad()
def validation_loss(model, loader, device) -> float:
    model.eval()
    total = count = 0.0
    for ids, mask in loader:
        ids, mask = ids.to(device), mask.to(device)
        nll = token_nll(model(input_ids=ids, attention_mask=mask).logits, ids, mask)
        total += float(nll.double().sum())
        count += float(mask[:, 1:].sum())
    model.train()
    total, count = _all_sum([total, count], device)
    return total / max(count, 1.0)


def train(model: torch.nn.Module, tokenizer, texts: list[Text], cfg: FinetuneConfig, seed: int,
          desc: str = "finetune") -> dict:
    """Train `model` in place on `texts`; returns the history (see docs/layout.md)."""
    rank, world = _rank_world()
    device = next(model.parameters()).device
    torch.manual_seed(seed)
    train_texts, val_texts = split_train_val(texts, cfg.val_fraction, seed)
    encode = lambda ts: [tokenizer(t.text, truncation=True, max_length=cfg.max_length)["input_ids"] for t in ts]
    train_ids, val_ids = encode(train_texts), encode(val_texts)
    collate = _collate(tokenizer.pad_token_id)
    sampler = DistributedSampler(train_ids, num_replicas=world, rank=rank, shuffle=True, seed=seed)
    loader = DataLoader(train_ids, batch_size=cfg.batch_size, sampler=sampler, collate_fn=collate)
    val_sampler = DistributedSampler(val_ids, num_replicas=world, rank=rank, shuffle=False)
    val_loader = DataLoader(val_ids, batch_size=cfg.batch_size, sampler=val_sampler, collate_fn=collate)

    steps_per_epoch = max(1, len(loader) // cfg.grad_accum)
    total_steps = steps_per_epoch * cfg.epochs
    if cfg.max_steps:
        total_steps = min(total_steps, cfg.max_steps)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _lr_lambda(total_steps, max(1, int(cfg.warmup_ratio * total_steps))))

    history = {"task": desc, "steps": [], "epochs": [], "stopped_early": False, "best_epoch": None,
               "epochs_run": 0, "train_texts": len(train_texts), "val_texts": len(val_texts)}
    best_val, best_state, bad_epochs, step = float("inf"), None, 0, 0
    start = time.perf_counter()
    model.train()
    bar = tqdm(total=total_steps, desc=desc, disable=rank != 0, leave=False)
    for epoch in range(cfg.epochs):
        sampler.set_epoch(epoch)
        epoch_loss, epoch_tokens = 0.0, 0.0
        for micro, (ids, mask) in enumerate(loader):
            ids, mask = ids.to(device), mask.to(device)
            nll = token_nll(model(input_ids=ids, attention_mask=mask).logits, ids, mask)
            n_tok = mask[:, 1:].sum()
            (nll.sum() / n_tok / cfg.grad_accum).backward()
            epoch_loss += float(nll.detach().double().sum())
            epoch_tokens += float(n_tok)
            if (micro + 1) % cfg.grad_accum:
                continue
            grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm or float("inf"))
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            step += 1
            history["steps"].append({"step": step, "epoch": epoch, "loss": float(nll.detach().sum() / n_tok),
                                     "lr": sched.get_last_lr()[0], "grad_norm": float(grad_norm)})
            bar.update(1)
            bar.set_postfix(loss=f"{history['steps'][-1]['loss']:.3f}")
            if step >= total_steps:
                break
        epoch_loss, epoch_tokens = _all_sum([epoch_loss, epoch_tokens], device)
        val = validation_loss(model, val_loader, device)
        history["epochs"].append({"epoch": epoch, "step": step, "train_loss": epoch_loss / max(epoch_tokens, 1),
                                  "val_loss": val})
        history["epochs_run"] = epoch + 1
        if val < best_val - cfg.min_delta:
            best_val, bad_epochs, history["best_epoch"] = val, 0, epoch
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            bad_epochs += 1
        if cfg.patience and bad_epochs >= cfg.patience:
            history["stopped_early"] = True
            break
        if step >= total_steps:
            break
    bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    history["best_val_loss"] = best_val
    history["time_s"] = time.perf_counter() - start
    return history
