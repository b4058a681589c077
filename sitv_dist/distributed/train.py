"""Fine-tuning on every rank of a torchrun launch: DDP (one rank per GPU, gloo on the CPU) or
DeepSpeed ZeRO through accelerate, chosen by `finetune.backend`. Every rank trains; rank 0
writes the model, history.json, the task vector and the checkpoints; every rank shuts down
cleanly (wrapper and optimizer dropped, then a barrier, then the process group destroyed).

    torchrun --standalone --nproc_per_node=N -m sitv_dist.distributed.train -c CONFIG [--task NAME ...]
    launch/finetune.sh CONFIG N [--task NAME ...] [--set KEY=VALUE ...] [--force]

Without torchrun it runs as one process, exactly like `sitv finetune`. The outputs are the
single-process ones: OUT/finetune/<task>/model, OUT/finetune/<task>/history.json and
OUT/task_vectors/<task>.safetensors.
"""
from __future__ import annotations

import argparse
import datetime
import gc
import os
import socket
import sys

import torch
import torch.distributed as dist

from ..config import ConfigError, ExperimentConfig, load_config, save_config
from .where import Place, from_env


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m sitv_dist.distributed.train",
                                description="fine-tune on every torchrun rank (DDP or DeepSpeed ZeRO)")
    p.add_argument("-c", "--config", help="YAML config (default: the embedded default)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key (YAML value), e.g. --set finetune.epochs=5")
    p.add_argument("--task", action="append", default=[],
                   help="task to fine-tune (repeatable; default: every swept task without a task-vector file)")
    p.add_argument("--force", action="store_true", help="fine-tune again even if the outputs exist")
    return p


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(cfg: ExperimentConfig, names: list[str], place: Place, force: bool = False) -> list[str]:
    """Fine-tune `names` on this rank; returns the task-vector paths (on every rank)."""
    from .. import pipeline
    from ..finetune import finetune_task
    use_cuda = torch.cuda.is_available() and cfg.model.device != "cpu"
    if use_cuda:
        torch.cuda.set_device(place.local_rank % torch.cuda.device_count())
    group = place.launcher == "torchrun" or cfg.finetune.backend == "deepspeed"
    if group and place.launcher != "torchrun":       # DeepSpeed needs a process group, even of one
        os.environ.update({"RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1",
                           "MASTER_PORT": str(_free_port())})
    if group:
        dist.init_process_group("nccl" if use_cuda else "gloo", timeout=datetime.timedelta(hours=4))
    ok = False
    try:
        out = pipeline.out_dir(cfg)
        if place.rank == 0:
            save_config(cfg, out / "config.resolved.yaml")
        paths = []
        for name in names:
            paths.append(str(finetune_task(cfg, out, name, force=force)))
            if place.rank == 0:
                print(f"wrote {paths[-1]}", flush=True)
        ok = True
        return paths
    finally:
        gc.collect()
        if group:
            if ok:
                dist.barrier()       # nobody tears down while another rank still talks
            dist.destroy_process_group()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        cfg = load_config(args.config, args.set)
        from ..pipeline import tasks_to_finetune
        names = args.task or tasks_to_finetune(cfg)
        for name in names:
            if cfg.task(name) is None:
                raise ConfigError(f"--task: {name!r} is not a configured task")
        if not names:
            print("nothing to fine-tune: every swept direction has a task-vector file", flush=True)
            return 0
        run(cfg, names, from_env(), force=args.force)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
