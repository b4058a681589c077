"""One task, start to end: fine-tune the base on the task's texts on every rank of the launch
(one process: world size 1), then write — on rank 0 — OUT/finetune/<task>/model,
history.json and the task vector OUT/task_vectors/<task>.safetensors. Resumes from
OUT/finetune/<task>/checkpoint/ when finetune.checkpoint_every is set."""
from __future__ import annotations

import contextlib
import gc
import shutil
from pathlib import Path

import torch
import torch.distributed as dist

from ..config import ConfigError, ExperimentConfig
from ..distributed.collectives import barrier, from_rank0, rank_world
from ..io import os_error, write_json
from ..models.loading import load_model, load_tokenizer, resolve_device
from ..outdir import OutDir
from ..texts import load_texts
from ..vectors import taskvector
from .backends import deepspeed_accelerator, plain_loading, without_tied_copies
from .loop import fit

_ACCELERATOR = None     # DeepSpeed: one accelerator per process, reused by every task


def train_device(cfg: ExperimentConfig) -> torch.device:
    if cfg.model.device == "auto" and not torch.cuda.is_available():
        return torch.device("cpu")
    return resolve_device(cfg.model.device)


def is_done(out: OutDir, name: str) -> bool:
    return out.task_vector(name).is_file() and out.history(name).is_file()


def finetune_task(cfg: ExperimentConfig, out: OutDir, name: str, location: str, force: bool = False) -> Path:
    """Fine-tune the base at `location` on task `name` (all ranks call it together; the caller
    made sure the base exists before any rank looks). `force` starts over."""
    global _ACCELERATOR
    rank, world = rank_world()
    tv_path, ckpt = out.task_vector(name), out.checkpoints(name)
    device = train_device(cfg)
    if from_rank0([float(is_done(out, name) and not force)], device)[0]:
        return tv_path
    index = next(i for i, t in enumerate(cfg.tasks) if t.name == name)
    task = cfg.tasks[index]
    if not task.train:
        raise ConfigError(f"tasks.{index}.train: task {name!r} has no training data; give a file, or give its "
                          f"task vector in sweep.task_vectors.{name}")
    deepspeed = cfg.finetune.backend == "deepspeed"
    if deepspeed and world == 1 and not dist.is_initialized():
        raise ConfigError("finetune.backend: deepspeed runs under torchrun; use launch/finetune.sh CONFIG NPROC, "
                          "then rerun: finished fine-tunes are skipped")
    if rank == 0 and force:
        shutil.rmtree(ckpt, ignore_errors=True)
    barrier()
    texts = load_texts(task.train, key=f"tasks.{index}.train", embedded_name=name, split="train",
                       text_field=task.text_field)
    stage = out.timed(f"finetune:{name}") if rank == 0 else contextlib.nullcontext()
    model_dir = out.finetuned_model(name)
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
            try:        # not trusted until the task vector and history exist (is_done)
                if accelerator is None:
                    model.save_pretrained(model_dir)
                else:
                    module = accelerator.unwrap_model(model)
                    module.save_pretrained(model_dir, state_dict=without_tied_copies(module, result.state))
                tokenizer.save_pretrained(model_dir)
            except Exception as exc:    # safetensors wraps a full disk as "... (os error 28)"
                named = os_error(exc, model_dir, sum(p.numel() * p.element_size() for p in model.parameters()))
                if named is exc:
                    raise
                raise named from exc
            write_json(out.history(name), history)
    if world > 1:       # every rank says where it stopped: they must agree
        steps = history["steps"][-1]["step"] if history["steps"] else 0
        print(f"finetune {name}: rank {rank}/{world} finished at epoch {history['epochs_run']} step {steps}, "
              f"stopped early: {history['stopped_early']}", flush=True)
    if rank == 0:
        with out.timed(f"taskvector:{name}"), plain_loading(accelerator):
            if accelerator is None:
                finetuned = model
            else:
                del model
                gc.collect()
                finetuned = load_model(str(model_dir), cfg.model, torch.device("cpu"), dtype="float32")
            base = load_model(location, cfg.model, next(finetuned.parameters()).device, dtype="float32")
            taskvector.save(tv_path, taskvector.difference(base, finetuned), location, str(model_dir))
        shutil.rmtree(ckpt, ignore_errors=True)     # the fine-tune is complete: nothing to resume
    barrier()
    return tv_path
