"""Where the base model comes from: the embedded default (built and cached on first use, its
pre-training timed in OUT/timings.json) or the configured local directory / hub id."""
from __future__ import annotations

from pathlib import Path

from ..config import ConfigError, ExperimentConfig
from ..embedded.build import build_key, cache_root, ensure_embedded, model_config
from ..outdir import OutDir
from .loading import local_or_hub

TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "tokenizer_config.json")


def cached_embedded(cfg: ExperimentConfig) -> Path:
    """Where the embedded base of these settings is (or will be) cached."""
    return cache_root(cfg.embedded) / f"embedded-{build_key(cfg.embedded, cfg.seed)}"


def base_architecture(cfg: ExperimentConfig):
    """The base's transformers config, without reading or building any weights (the embedded
    base not yet built: its configured architecture)."""
    from transformers import AutoConfig
    if cfg.model.name_or_path == "embedded":
        cached = cached_embedded(cfg)
        return AutoConfig.from_pretrained(cached) if (cached / "config.json").is_file() else model_config(cfg.embedded)
    kwargs = {"gguf_file": cfg.model.gguf_file} if cfg.model.gguf_file else {}
    return AutoConfig.from_pretrained(local_or_hub(cfg.model.name_or_path), **kwargs)


def check_tokenizer_files(cfg: ExperimentConfig) -> None:
    """A local model directory must carry its tokenizer (else it fails only after the weights load)."""
    path = Path(cfg.model.name_or_path).expanduser()
    if cfg.model.name_or_path == "embedded" or cfg.model.gguf_file or not path.is_dir():
        return
    if not any((path / f).is_file() for f in TOKENIZER_FILES):
        raise ConfigError(f"model.name_or_path: {path} has no tokenizer ({', '.join(TOKENIZER_FILES)}); save it "
                          "beside the weights with tokenizer.save_pretrained(DIR)")


def model_location(cfg: ExperimentConfig) -> str:
    """Where the base model is loaded from; builds (or reuses) the embedded model if asked."""
    if cfg.model.name_or_path == "embedded":
        return str(ensure_embedded(cfg.embedded, seed=cfg.seed))
    return local_or_hub(cfg.model.name_or_path)


def base_location(cfg: ExperimentConfig, out: OutDir) -> str:
    """`model_location`, with the embedded base's first build timed as the 'pretrain' stage."""
    if cfg.model.name_or_path == "embedded":
        if not (cached_embedded(cfg) / "config.json").is_file():
            with out.timed("pretrain"):
                return model_location(cfg)
    return model_location(cfg)
