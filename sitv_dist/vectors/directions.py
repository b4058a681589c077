"""A swept direction's file, whatever its kind: a dense task vector (`.safetensors`) or a
PEFT LoRA adapter directory. One place decides which, checks it against the model, loads it
(the fingerprint digests its files: sweep.fingerprint)."""
from __future__ import annotations

from pathlib import Path

import torch

from ..config import ConfigError
from ..models.loading import parameters
from . import lora, taskvector


def exists(path: Path) -> bool:
    return Path(path).is_file() or lora.is_adapter(path)


def check_fits(path: Path, shapes: dict[str, tuple], key: str) -> None:
    """Fail before any weights load if the direction does not fit the model's `shapes` (from
    its config: taskvector.config_shapes)."""
    if lora.is_adapter(path):
        lora.check_fits(lora.read(path, key), shapes, key)
    else:
        taskvector.check_fits(path, shapes, key)


def load(path: Path, model: torch.nn.Module, key: str, device: torch.device | None,
         dtype: torch.dtype = torch.float32):
    """Dense T (parameter name -> tensor) or a `lora.LoraDirection`, checked against `model`.
    `device` None: each tensor on its parameter's device (a model placed over several)."""
    if not exists(path):
        raise ConfigError(f"{key}: {path} is neither a task-vector file nor a LoRA adapter directory")
    if not lora.is_adapter(path):
        return taskvector.load(path, model, key, device, dtype)
    direction = lora.read(path, key, dtype)
    params = parameters(model)
    lora.check_fits(direction, {n: tuple(p.shape) for n, p in params.items()}, key)
    for name, factor in direction.factors.items():       # O(rank): always on the parameter's device
        factor.A, factor.B = factor.A.to(params[name].device), factor.B.to(params[name].device)
    return direction


def materialise(base_location: str, adapter: Path, out: Path, dtype: str = "float32", gguf_file: str = "") -> dict:
    """`sitv taskvector --adapter`: the dense T of an adapter over every parameter of the base
    (zeros where it adapts nothing), from the base's config alone (no weights read)."""
    shapes = taskvector.model_shapes(base_location, gguf_file)
    direction = lora.read(adapter, "--adapter")
    lora.check_fits(direction, shapes, "--adapter")
    dense = lora.densify(direction)
    tensors = {name: dense[name] if name in dense else torch.zeros(shape) for name, shape in shapes.items()}
    return taskvector.save(out, tensors, base_location, str(adapter), dtype, extra={"made_from": "lora adapter"})
