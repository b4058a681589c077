"""What the embedded base is, without building it: its architecture, the corpus it is
pre-trained on, and the cache key and folder that name one build. The key covers the model
settings, the seed and the corpus bytes, so a change to any of them names a new base. The
build itself (tokenizer + pre-training) is `sitv_dist.finetune.pretrain`, run by the prepare
step of every stage that needs the base."""
from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

from ..config import EmbeddedConfig
from ..config.experiment import cache_root as default_cache_root
from .corpus import TASKS, data_file

BUILD_VERSION = "1"


def cache_root(cfg: EmbeddedConfig) -> Path:
    return Path(cfg.cache_dir or default_cache_root()).expanduser()


def build_key(cfg: EmbeddedConfig, seed: int) -> str:
    h = hashlib.sha256(BUILD_VERSION.encode())
    settings = {k: v for k, v in dataclasses.asdict(cfg).items() if k != "cache_dir"}
    h.update(json.dumps({"settings": settings, "seed": seed}, sort_keys=True).encode())
    for path in corpus_files():
        h.update(path.read_bytes())
    return h.hexdigest()[:16]



def base_dir(cfg: EmbeddedConfig, seed: int) -> Path:
    """The cache folder of the base these settings name (built or not: see `is_built`)."""
    return cache_root(cfg) / f"embedded-{build_key(cfg, seed)}"


def is_built(folder: Path) -> bool:
    return (Path(folder) / "config.json").is_file()


def corpus_files() -> list[Path]:
    """The texts the base is pre-trained on (and its tokenizer trained on): they enter the key."""
    files = [data_file("general", "train")]
    files += [data_file(task, "train") for task in TASKS]
    return files


def model_config(cfg: EmbeddedConfig, vocab_size: int | None = None, bos: int | None = None, eos: int | None = None):
    """The embedded base's architecture (a tiny Llama with tied embeddings); before the
    tokenizer is trained, its vocabulary is the configured size."""
    from transformers import LlamaConfig
    return LlamaConfig(vocab_size=vocab_size or cfg.vocab_size, hidden_size=cfg.hidden_size,
                       intermediate_size=cfg.intermediate_size, num_hidden_layers=cfg.num_layers,
                       num_attention_heads=cfg.num_heads, num_key_value_heads=cfg.num_heads,
                       max_position_embeddings=512, tie_word_embeddings=True, bos_token_id=bos, eos_token_id=eos)
