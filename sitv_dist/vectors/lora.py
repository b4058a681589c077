"""PEFT LoRA adapters as directions: T = scaling · B·A on each adapted module, never densified.

An adapter directory (`adapter_config.json` + `adapter_model.safetensors`, as peft's
`save_pretrained` writes it) is read with safetensors and json alone; peft itself is needed
only for the tests that compare with its `merge_and_unload`. The scaling follows peft's LoRA
layers: `lora_alpha / r` (`/ sqrt(r)` with `use_rslora`), per module through `rank_pattern`
and `alpha_pattern`, and `fan_in_fan_out` (GPT-2's Conv1D) transposes B·A. Adapter kinds
that are not a pure low-rank product of Linear weights (DoRA, embedding LoRA, LoRA biases,
`modules_to_save`) are refused with a clear error rather than approximated.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import safe_open

from ..config import ConfigError

CONFIG_FILE = "adapter_config.json"
WEIGHTS_FILE = "adapter_model.safetensors"
PREFIX = "base_model.model."


def is_adapter(path: str | Path) -> bool:
    path = Path(path).expanduser()
    return path.is_dir() and (path / CONFIG_FILE).is_file()


@dataclass
class Factor:
    """One adapted weight: its update is scale · B @ A (transposed when `transpose`)."""
    A: torch.Tensor          # [r, in]
    B: torch.Tensor          # [out, r]
    scale: float
    transpose: bool

    @property
    def shape(self) -> tuple[int, int]:
        out, inp = self.B.shape[0], self.A.shape[1]
        return (inp, out) if self.transpose else (out, inp)

    def add_to(self, target: torch.Tensor, c: float, rows: slice | None = None) -> None:
        """target += c · scale · (B @ A)[rows], in target's dtype (the factors are upcast, O(rank))."""
        A, B = self.A.to(device=target.device, dtype=target.dtype), self.B.to(device=target.device, dtype=target.dtype)
        left, right = (A.t(), B.t()) if self.transpose else (B, A)
        target.addmm_(left[rows] if rows else left, right, alpha=c * self.scale)

    def dense(self) -> torch.Tensor:
        """scale · B @ A in float32, as peft's get_delta_weight computes it."""
        delta = self.B.float() @ self.A.float()
        return (delta.t() if self.transpose else delta) * self.scale


@dataclass
class LoraDirection:
    """A direction given by an adapter: parameter name -> its low-rank update."""
    factors: dict[str, Factor]
    path: Path

    def names(self) -> list[str]:
        return list(self.factors)



def _pattern(patterns: dict, module: str, default):
    for key, value in patterns.items():        # peft.utils.other.get_pattern_key's rule
        if re.match(rf"(.*\.)?({key})$", module):
            return value
    return default


def read_config(path: Path, key: str) -> dict:
    try:
        config = json.loads((path / CONFIG_FILE).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{key}: cannot read {path / CONFIG_FILE}: {exc}") from None
    if config.get("peft_type", "LORA") != "LORA":
        raise ConfigError(f"{key}: {path} is a {config.get('peft_type')} adapter; only LoRA adapters are directions")
    refused = [name for name in ("use_dora", "lora_bias") if config.get(name)] + \
              (["modules_to_save"] if config.get("modules_to_save") else [])
    if refused:
        raise ConfigError(f"{key}: {path} uses {', '.join(refused)}; only plain LoRA (T = scaling·B·A) is supported "
                          "— materialise it with peft's merge_and_unload and `sitv taskvector --finetuned`")
    return config


def read(path: str | Path, key: str, dtype: torch.dtype | None = None) -> LoraDirection:
    """The adapter's factors on the CPU (in `dtype`, default their stored dtype), keyed by the
    base model's parameter names (`<module>.weight`)."""
    path = Path(path).expanduser()
    config = read_config(path, key)
    weights = path / WEIGHTS_FILE
    if not weights.is_file():
        raise ConfigError(f"{key}: {weights} does not exist (peft's save_pretrained writes it)")
    pairs: dict[str, dict[str, torch.Tensor]] = {}
    with safe_open(str(weights), framework="pt") as f:
        for name in f.keys():
            match = re.fullmatch(r"(.*)\.lora_([AB])(?:\.[^.]+)?\.weight", name)
            if not match:
                raise ConfigError(f"{key}: {weights} holds {name!r}, which is not a LoRA A/B weight (embedding "
                                  "LoRA, DoRA magnitudes and saved modules are not supported)")
            module = match.group(1).removeprefix(PREFIX)
            tensor = f.get_tensor(name)
            pairs.setdefault(module, {})[match.group(2)] = tensor if dtype is None else tensor.to(dtype)
    factors = {}
    for module, ab in pairs.items():
        if set(ab) != {"A", "B"} or ab["A"].dim() != 2 or ab["A"].shape[0] != ab["B"].shape[1]:
            raise ConfigError(f"{key}: {module} in {weights} has no matching lora_A/lora_B pair")
        r = ab["A"].shape[0]
        declared = _pattern(config.get("rank_pattern") or {}, module, config.get("r", r))
        if declared != r:          # peft itself refuses to load such an adapter (size mismatch)
            raise ConfigError(f"{key}: {module} in {weights} has rank {r}, but {path / 'adapter_config.json'} "
                              f"says r={declared}; the config and the weights are from different adapters")
        alpha = _pattern(config.get("alpha_pattern") or {}, module, config.get("lora_alpha", 8))
        scale = alpha / math.sqrt(r) if config.get("use_rslora") else alpha / r
        factors[f"{module}.weight"] = Factor(ab["A"], ab["B"], float(scale), bool(config.get("fan_in_fan_out")))
    if not factors:
        raise ConfigError(f"{key}: {weights} holds no LoRA weights")
    return LoraDirection(factors, path)


def check_fits(direction: LoraDirection, shapes: dict[str, tuple], key: str) -> None:
    """Every adapted module is a parameter of the model, with the shape of scale · B·A."""
    unknown = [n for n in direction.factors if n not in shapes]
    if unknown:
        raise ConfigError(f"{key}: adapter {direction.path} adapts {unknown[:3]}, which the model does not have; "
                          "was it trained on this base model?")
    for name, factor in direction.factors.items():
        if tuple(shapes[name]) != factor.shape:
            raise ConfigError(f"{key}: adapter {direction.path} gives {name} the shape {factor.shape}, "
                              f"the model's is {tuple(shapes[name])}")


def densify(direction: LoraDirection) -> dict[str, torch.Tensor]:
    """The dense T of the adapted parameters only (float32)."""
    return {name: f.dense() for name, f in direction.factors.items()}
