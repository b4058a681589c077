"""Shared fixtures: a toy Llama (tied embeddings) with a locally trained tokenizer, a
perturbed 'fine-tuned' copy, and small eval files — all built in seconds, offline."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

torch.set_num_threads(1)   # bitwise comparisons across processes assume one thread count

SENTENCES = [
    "The river runs north through the old town and meets the sea near the harbour.",
    "def add(a, b): return a + b  # adds two numbers",
    "Water boils at one hundred degrees Celsius at sea level.",
    "I loved this film, the acting was wonderful and the music was great.",
    "This hotel was terrible, the room was dirty and the staff were rude.",
    "Question: What is the capital of France? Answer: Paris.",
    "Instruction: List three fruits. Response: apple, banana, cherry.",
    "SELECT name FROM users WHERE age > 30 ORDER BY name;",
    "A week has seven days and a year has twelve months.",
    "The committee met on Monday to review the budget for the new season.",
]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory):
    """The embedded base is built into a per-session cache, never the user's."""
    os.environ["SITV_CACHE"] = str(tmp_path_factory.mktemp("sitv-cache"))
    os.environ.setdefault("TQDM_DISABLE", "1")


@pytest.fixture(scope="session")
def toy(tmp_path_factory) -> dict:
    from transformers import LlamaConfig, LlamaForCausalLM

    from sitv_dist.embedded.tokenizer import train_tokenizer
    root = tmp_path_factory.mktemp("toy")
    tok = train_tokenizer(300, SENTENCES * 3)
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=128,
                      tie_word_embeddings=True, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
    base = LlamaForCausalLM(cfg)
    base.save_pretrained(root / "base")
    tok.save_pretrained(root / "base")
    torch.manual_seed(1)
    with torch.no_grad():
        for p in base.parameters():
            p.add_(0.05 * torch.randn_like(p))
    base.save_pretrained(root / "ft")
    tok.save_pretrained(root / "ft")
    cats = ["wikitext", "coding", "common_knowledge", "mixed_domain", "mixed_domain",
            "common_knowledge", "mixed_domain", "coding", "common_knowledge", "wikitext"]
    general = write_jsonl(root / "general.jsonl", [{"text": s, "category": c} for s, c in zip(SENTENCES, cats)])
    task = write_jsonl(root / "task.jsonl", [{"text": s} for s in SENTENCES[3:7]])
    return {"root": root, "base": root / "base", "ft": root / "ft", "general": general, "task": task}
