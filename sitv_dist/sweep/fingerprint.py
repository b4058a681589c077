"""The fingerprint of an experiment: a hash of everything a loss depends on (the model, every
direction's file, the eval texts, dtypes, truncation and batching). Point files carry it;
results of another fingerprint are never reused."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..config import ConfigError, ExperimentConfig
from ..texts import Text
from ..vectors import taskvector
from .scores import score_settings


def _model_identity(location: str) -> str:
    path = Path(location).expanduser()
    if not path.is_dir():
        return location
    parts = [location, (path / "config.json").read_text() if (path / "config.json").is_file() else ""]
    parts += [f"{f.name}:{f.stat().st_size}" for f in sorted(path.iterdir())
              if f.suffix in (".safetensors", ".bin", ".gguf")]
    return "\n".join(parts)


def fingerprint(cfg: ExperimentConfig, location: str, tv_paths: dict[str, Path],
                texts: dict[str, list[Text]]) -> str:
    """Hash of everything a loss depends on; results of another fingerprint are never reused."""
    h = hashlib.sha256()
    settings = {"model": _model_identity(location), "gguf": cfg.model.gguf_file, "dtype": cfg.model.dtype,
                "apply_dtype": cfg.sweep.apply_dtype, "max_length": cfg.eval.max_length,
                **({"vector_dtype": cfg.sweep.vector_dtype} if cfg.sweep.vector_dtype != "float32" else {}),
                "batch_size": cfg.eval.batch_size}
    for name, path in sorted(tv_paths.items()):
        if not path.is_file():
            raise ConfigError(f"sweep.task_vectors.{name}: {path} does not exist; fine-tune first "
                              "(`sitv finetune`) or name an existing file")
        settings[f"tv:{name}"] = taskvector.read_metadata(path).get("content_hash") or str(path.stat().st_size)
    settings.update(score_settings(cfg))        # multiple-choice sets and lm-eval settings, when configured
    h.update(json.dumps(settings, sort_keys=True).encode())
    for name in sorted(texts):
        h.update(name.encode())
        for t in texts[name]:
            h.update(f"{t.category}\x1f{t.text}\x1e".encode())
    return h.hexdigest()[:24]
