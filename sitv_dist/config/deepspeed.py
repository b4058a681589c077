"""A user's DeepSpeed JSON (`finetune.deepspeed_config`), read and checked at config time: a
ZeRO stage 0-3 and no optimizer or scheduler sections (the trainer brings its own)."""
from __future__ import annotations

import json
from pathlib import Path

from .checks import ConfigError


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
