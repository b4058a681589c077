"""Where the base model comes from: the embedded default (built and cached on first use, its
pre-training timed in OUT/timings.json) or the configured local directory / hub id."""
from __future__ import annotations

from ..config import ExperimentConfig
from ..embedded.build import build_key, cache_root, ensure_embedded
from ..outdir import OutDir
from .loading import local_or_hub


def model_location(cfg: ExperimentConfig) -> str:
    """Where the base model is loaded from; builds (or reuses) the embedded model if asked."""
    if cfg.model.name_or_path == "embedded":
        return str(ensure_embedded(cfg.embedded, seed=cfg.seed))
    return local_or_hub(cfg.model.name_or_path)


def base_location(cfg: ExperimentConfig, out: OutDir) -> str:
    """`model_location`, with the embedded base's first build timed as the 'pretrain' stage."""
    if cfg.model.name_or_path == "embedded":
        cached = (cache_root(cfg.embedded) / f"embedded-{build_key(cfg.embedded, cfg.seed)}" / "config.json").is_file()
        if not cached:
            with out.timed("pretrain"):
                return model_location(cfg)
    return model_location(cfg)
