"""Build (once) and cache the embedded tokenizer and pre-trained base model.

The cache key covers the model settings, the seed and the corpus bytes, so a change to any
of them builds a new base; concurrent workers wait on a file lock instead of racing.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import torch
from filelock import FileLock

from ..config import EmbeddedConfig, FinetuneConfig
from ..finetune.loop import train
from ..models.loading import with_pad_token
from ..texts import load_texts
from .corpus import CATEGORIES, TASKS, data_file
from .tokenizer import train_tokenizer

BUILD_VERSION = "1"


def cache_root(cfg: EmbeddedConfig) -> Path:
    root = cfg.cache_dir or os.environ.get("SITV_CACHE") or "~/.cache/sitv-dist"
    return Path(root).expanduser()


def build_key(cfg: EmbeddedConfig, seed: int) -> str:
    h = hashlib.sha256(BUILD_VERSION.encode())
    settings = {k: v for k, v in dataclasses.asdict(cfg).items() if k != "cache_dir"}
    h.update(json.dumps({"settings": settings, "seed": seed}, sort_keys=True).encode())
    for path in _corpus_files():
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _corpus_files() -> list[Path]:
    files = [data_file("general", "train")]
    files += [data_file(task, "train") for task in TASKS]
    return files


def ensure_embedded(cfg: EmbeddedConfig, seed: int = 0) -> Path:
    """Directory holding the embedded base (tokenizer + safetensors); built on first use."""
    target = cache_root(cfg) / f"embedded-{build_key(cfg, seed)}"
    if (target / "config.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if not (target / "config.json").is_file():
            tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".building-"))
            try:
                build(cfg, seed, tmp)
                os.replace(tmp, target)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
    return target


def model_config(cfg: EmbeddedConfig, vocab_size: int | None = None, bos: int | None = None, eos: int | None = None):
    """The embedded base's architecture (a tiny Llama with tied embeddings); before the
    tokenizer is trained, its vocabulary is the configured size."""
    from transformers import LlamaConfig
    return LlamaConfig(vocab_size=vocab_size or cfg.vocab_size, hidden_size=cfg.hidden_size,
                       intermediate_size=cfg.intermediate_size, num_hidden_layers=cfg.num_layers,
                       num_attention_heads=cfg.num_heads, num_key_value_heads=cfg.num_heads,
                       max_position_embeddings=512, tie_word_embeddings=True, bos_token_id=bos, eos_token_id=eos)


def build(cfg: EmbeddedConfig, seed: int, out: Path) -> None:
    from transformers import LlamaForCausalLM

    torch.manual_seed(seed)
    corpus = [json.loads(line)["text"] for path in _corpus_files() for line in path.read_text().splitlines()]
    tokenizer = train_tokenizer(cfg.vocab_size, corpus)
    model = LlamaForCausalLM(model_config(cfg, len(tokenizer), tokenizer.bos_token_id, tokenizer.eos_token_id))
    texts = load_texts("embedded", key="embedded", embedded_name="general", split="train",
                       category_field="category")
    schedule = FinetuneConfig(epochs=10_000, lr=cfg.pretrain_lr, batch_size=cfg.pretrain_batch_size,
                              warmup_ratio=0.05, weight_decay=0.01, patience=0, val_fraction=0.05,
                              max_length=128, max_steps=cfg.pretrain_steps)
    tokenizer.save_pretrained(out)          # saved without a pad token, like many real tokenizers
    history = train(model, with_pad_token(tokenizer), texts, schedule, seed=seed, desc="pretrain embedded base")
    model.save_pretrained(out)
    (out / "pretrain_history.json").write_text(json.dumps(
        {k: v for k, v in history.items() if k != "steps"} | {"categories": list(CATEGORIES)}, indent=1))
