"""How one optimizer step is taken: torch (one process or DDP) or DeepSpeed ZeRO through
accelerate. The training loop calls the same methods on either (forward, backward, step,
save, load, final_state), so data order, loss normalisation and validation stay one code."""
from __future__ import annotations

import contextlib
import gc
import math
from pathlib import Path

import torch

from ..config import ConfigError, FinetuneConfig
from ..config.deepspeed import read_deepspeed_json
from .checkpoint import torch_save


def global_batch(cfg: FinetuneConfig, world: int) -> int:
    """Texts per optimizer step over all ranks: batch_size × world × grad_accum."""
    return cfg.batch_size * world * cfg.grad_accum


def lr_lambda(total_steps: int, warmup_steps: int):
    def f(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return f


def use_bf16(cfg: FinetuneConfig, device: torch.device) -> bool:
    """finetune.mixed_precision: 'auto' is bf16 on a GPU that supports it, off elsewhere."""
    if cfg.mixed_precision == "auto":
        return device.type == "cuda" and torch.cuda.is_bf16_supported()
    return cfg.mixed_precision == "bf16"


class TorchBackend:
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
            self.opt, lr_lambda(total_steps, max(1, int(cfg.warmup_ratio * total_steps))))
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
            torch_save({"model": self.module.state_dict(), "optimizer": self.opt.state_dict(),
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


class DeepSpeedBackend:
    """DeepSpeed ZeRO (stage from the JSON config) through accelerate. The engine does the
    gradient reduction, clipping (`gradient_clipping`) and the optimizer step at the
    accumulation boundary; the LambdaLR schedule is stepped here, once per optimizer step
    (not handed to accelerate, whose wrapper steps it once per process)."""

    def __init__(self, model: torch.nn.Module, cfg: FinetuneConfig, accelerator, total_steps: int):
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lr_lambda(total_steps, max(1, int(cfg.warmup_ratio * total_steps))))
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
            torch_save({"scheduler": self.sched.state_dict()}, folder / "train_state.pt")

    def load(self, folder: Path) -> None:
        self.engine.load_checkpoint(str(folder), tag="engine", load_optimizer_states=True,
                                    load_lr_scheduler_states=False)
        self.sched.load_state_dict(torch.load(folder / "train_state.pt", map_location="cpu",
                                              weights_only=True)["scheduler"])

    def close(self) -> None:
        del self.engine, self.opt, self.sched, self.wrapper
        self.accelerator.free_memory()
        gc.collect()


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
def plain_loading(accelerator):
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


def without_tied_copies(module: torch.nn.Module, state: dict) -> dict:
    """A gathered ZeRO state dict lists tied weights (embedding / LM head) under every name;
    keep the first, as save_pretrained does for an ordinary model."""
    copies = set(dict(module.named_parameters(remove_duplicate=False))) - set(dict(module.named_parameters()))
    return {k: v for k, v in state.items() if k not in copies}
