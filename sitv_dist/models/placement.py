"""A worker's model over one device or several (`sweep.devices_per_worker`).

With N > 1 the model is split by accelerate's `infer_auto_device_map` under per-device memory
limits (whole decoder layers per device, the architecture's `_no_split_modules`) and loaded
with that `device_map`; transformers and accelerate move activations between devices. Worker
k of a launch takes devices k·N … k·N + N − 1, so N GPUs per worker means starting GPUs / N
workers. The base copy and task vectors of each parameter live on that parameter's device
(sweep.apply). On the CPU every slot is the CPU: the same split and the same loading path
run, which is what the CPU tests check bit for bit against the one-device path.
"""
from __future__ import annotations

import torch

from ..config import ConfigError, ModelConfig
from .loading import DTYPE, load_model, local_or_hub


def worker_devices(device: torch.device, n: int) -> list[torch.device]:
    """The N devices of the worker whose launcher gave it `device` (cuda:k -> cuda:k·N …)."""
    if n == 1:
        return [device]
    if device.type != "cuda":
        return [device] * n
    start, count = (device.index or 0) * n, torch.cuda.device_count()
    if start + n > count:
        raise ConfigError(f"sweep.devices_per_worker: the worker on {device} needs cuda:{start}..cuda:{start + n - 1} "
                          f"but {count} GPU(s) are visible; start {count // n} worker(s) "
                          f"(torchrun --nproc_per_node={count // n})")
    return [torch.device("cuda", start + k) for k in range(n)]


def split(location: str, model_cfg: ModelConfig, limits: list[int]) -> dict[str, int]:
    """Module name -> slot (0 … len(limits) − 1): accelerate's device map of the model (built
    on the meta device from its config) under these per-slot byte limits for the weights."""
    from accelerate import infer_auto_device_map, init_empty_weights
    from transformers import AutoConfig, AutoModelForCausalLM
    kwargs = {"gguf_file": model_cfg.gguf_file} if model_cfg.gguf_file else {}
    config = AutoConfig.from_pretrained(local_or_hub(location), **kwargs)
    with init_empty_weights():
        model = AutoModelForCausalLM.from_config(config, dtype=DTYPE[model_cfg.dtype])
    model.tie_weights()
    no_split = sorted(getattr(model, "_no_split_modules", None) or [])
    placed = infer_auto_device_map(model, max_memory=dict(enumerate(limits)), no_split_module_classes=no_split,
                                   dtype=DTYPE[model_cfg.dtype])
    bad = sorted({str(v) for v in placed.values() if not isinstance(v, int)})
    if bad:
        raise ConfigError(f"sweep.devices_per_worker: the model does not fit {len(limits)} device(s) at these limits "
                          f"(accelerate would put parts on {bad}); add devices or see `sitv plan`")
    return placed


def load_placed(location: str, model_cfg: ModelConfig, devices: list[torch.device],
                weight_share: float = 0.5) -> torch.nn.Module:
    """The model on one device, or split over several, each holding at most `weight_share` of
    its memory in weights (the rest is for the base copy, task vectors and activations)."""
    if len(devices) == 1:
        return load_model(location, model_cfg, devices[0])
    from transformers import AutoModelForCausalLM
    if devices[0].type == "cuda":
        limits = [int(torch.cuda.get_device_properties(d).total_memory * weight_share) for d in devices]
    else:       # one CPU: split as if into slots of 1.2/N of the weights (accelerate keeps headroom
        limits = [int(_weight_bytes(location, model_cfg) * 1.2 / len(devices)) + 1] * len(devices)   # on each)
    placed = {name: str(devices[slot]) for name, slot in split(location, model_cfg, limits).items()}
    kwargs = {"dtype": DTYPE[model_cfg.dtype], "device_map": placed}
    if model_cfg.gguf_file:
        kwargs["gguf_file"] = model_cfg.gguf_file
    model = AutoModelForCausalLM.from_pretrained(local_or_hub(location), **kwargs)
    model.config.use_cache = False
    return model.eval()


def _weight_bytes(location: str, model_cfg: ModelConfig) -> int:
    from accelerate import init_empty_weights
    from transformers import AutoConfig, AutoModelForCausalLM
    kwargs = {"gguf_file": model_cfg.gguf_file} if model_cfg.gguf_file else {}
    with init_empty_weights():
        model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(local_or_hub(location), **kwargs),
                                                 dtype=DTYPE[model_cfg.dtype])
    return sum(p.numel() * p.element_size() for p in model.parameters())
