"""Where the base model comes from: the embedded default's cache folder or the configured local
directory / hub id. Pure lookups: nothing here builds or downloads anything (the embedded base
is built by the prepare step, `sitv_dist.stages.prepare.prepare_base`)."""
from __future__ import annotations

from pathlib import Path

from ..config import ConfigError, ExperimentConfig
from ..embedded.base_spec import base_dir, is_built, model_config
from .loading import local_or_hub

TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "tokenizer_config.json")


def cached_embedded(cfg: ExperimentConfig) -> Path:
    """Where the embedded base of these settings is (or will be) cached."""
    return base_dir(cfg.embedded, cfg.seed)


def base_architecture(cfg: ExperimentConfig):
    """The base's transformers config, without reading or building any weights (the embedded
    base not yet built: its configured architecture)."""
    from transformers import AutoConfig
    if cfg.model.name_or_path == "embedded":
        cached = cached_embedded(cfg)
        return AutoConfig.from_pretrained(cached) if is_built(cached) else model_config(cfg.embedded)
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
    """Where the base model is loaded from (for the embedded default: its cache folder, which
    exists once the prepare step has built it; see `require_base`)."""
    if cfg.model.name_or_path == "embedded":
        return str(cached_embedded(cfg))
    return local_or_hub(cfg.model.name_or_path)


def require_base(cfg: ExperimentConfig) -> str:
    """`model_location`, refusing an embedded base that was never built (a worker or stage
    started without the prepare step) with the way to build it."""
    location = model_location(cfg)
    if cfg.model.name_or_path == "embedded" and not is_built(Path(location)):
        raise ConfigError(f"model.name_or_path: the embedded base is not built yet ({location}); "
                          "`sitv run` or `sitv sweep` builds it first (from Python: "
                          "sitv_dist.stages.prepare.prepare_base(cfg))")
    return location
