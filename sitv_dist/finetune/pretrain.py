"""Building the embedded base: train its tokenizer on the corpus, pre-train the tiny Llama with
the fine-tuning loop, save both into the cache folder that `embedded.base_spec` names. Called
only by the prepare step (`sitv_dist.stages.prepare.prepare_base`), never by a lookup: finding
where the base lives must not start a 3-minute training. Concurrent builders wait on a file
lock instead of racing; the build goes to a temporary folder renamed into place when done."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import torch
from filelock import FileLock

from ..config import EmbeddedConfig, FinetuneConfig
from ..embedded.base_spec import base_dir, corpus_files, is_built, model_config
from ..embedded.corpus import CATEGORIES
from ..embedded.tokenizer import train_tokenizer
from ..models.loading import with_pad_token
from ..texts import load_texts
from .loop import train


def ensure_embedded(cfg: EmbeddedConfig, seed: int = 0) -> Path:
    """The folder holding the embedded base (tokenizer + safetensors), built if it is not yet."""
    target = base_dir(cfg, seed)
    if is_built(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if not is_built(target):
            tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".building-"))
            try:
                build(cfg, seed, tmp)
                os.replace(tmp, target)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
    return target


def build(cfg: EmbeddedConfig, seed: int, out: Path) -> None:
    from transformers import LlamaForCausalLM

    torch.manual_seed(seed)
    corpus = [json.loads(line)["text"] for path in corpus_files() for line in path.read_text().splitlines()]
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
