"""Token-weighted next-token cross-entropy, kept per text.

An eval set is tokenized once per worker (each text on its own, default special tokens,
truncated), sorted by length and cut into padded batches whose pads carry label -100.
One forward pass per batch gives every text's NLL sum and predicted-token count, from
which the set loss and every category loss follow without another pass.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..config import ConfigError
from ..models.loss import check_chunked, chunked_token_nll, token_nll
from ..texts import Text


@dataclass
class Batch:
    rows: list[int]             # text indices in this batch
    input_ids: torch.Tensor
    attention_mask: torch.Tensor


@dataclass
class EvalSet:
    name: str
    categories: list[str]       # per text
    tokens: np.ndarray          # predicted tokens per text (len(ids) - 1)
    batches: list[Batch]

    @property
    def category_names(self) -> list[str]:
        return sorted(set(self.categories))


class VocabularyMismatch(ConfigError):
    """The tokenizer produces ids the model has no embedding for."""


def pad_id(tokenizer, vocab_rows: int | None) -> int:
    """The tokenizer's pad id when the model can embed it, else 0: pads are masked out of
    attention and loss, so any id the embedding holds gives the same losses (a pad token added
    to a tokenizer without resizing the embeddings is common)."""
    pad = tokenizer.pad_token_id
    if pad is None or (vocab_rows is not None and not 0 <= pad < vocab_rows):
        return 0
    return pad


def build_eval_set(name: str, texts: list[Text], tokenizer, max_length: int, batch_size: int,
                   device: torch.device, vocab_rows: int | None = None) -> EvalSet:
    """`vocab_rows`: rows of the model's input embedding (None: not checked)."""
    ids = [tokenizer(t.text, truncation=True, max_length=max_length)["input_ids"] for t in texts]
    if vocab_rows is not None:
        top = max((max(x) for x in ids if x), default=0)
        if top >= vocab_rows:
            raise VocabularyMismatch(f"model.name_or_path: on eval set {name} the tokenizer produces token id {top} but the model's "
                                     f"embedding has {vocab_rows} rows; tokenizer and model do not belong together")
    order = sorted(range(len(ids)), key=lambda i: (-len(ids[i]), i))
    pad = pad_id(tokenizer, vocab_rows)
    batches = []
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        width = max(len(ids[i]) for i in rows)
        input_ids = torch.full((len(rows), width), pad, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for r, i in enumerate(rows):
            input_ids[r, :len(ids[i])] = torch.tensor(ids[i])
            mask[r, :len(ids[i])] = 1
        batches.append(Batch(rows, input_ids.to(device), mask.to(device)))
    tokens = np.array([max(len(x) - 1, 0) for x in ids], dtype=np.int64)
    return EvalSet(name, [t.category for t in texts], tokens, batches)


@torch.inference_mode()
def per_text_nll(model: torch.nn.Module, eval_set: EvalSet, chunk: int = 0) -> np.ndarray:
    """Sum of next-token NLL of each text (float64); padding never counts. `chunk` > 0: the
    logits are formed `chunk` positions at a time (models.loss.chunked_token_nll)."""
    out = np.zeros(len(eval_set.categories), dtype=np.float64)
    for batch in eval_set.batches:
        if chunk:
            nll = chunked_token_nll(model, batch.input_ids, batch.attention_mask, chunk)
        else:
            logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits
            nll = token_nll(logits, batch.input_ids, batch.attention_mask)
        out[batch.rows] = nll.double().sum(dim=1).cpu().numpy()
    return out


@torch.inference_mode()
def usable_chunk(model: torch.nn.Module, sets: dict[str, EvalSet], chunk: int) -> int:
    """`chunk` when the chunked loss matches the plain one on the first text of the first set
    (one plain forward of one text), else 0 with a warning: an architecture whose output head
    or logit post-processing the chunked path does not cover falls back to full logits."""
    batch = next((s.batches[0] for s in sets.values() if s.batches), None)
    if not chunk or batch is None:
        return chunk
    problem = check_chunked(model, batch.input_ids[:1], batch.attention_mask[:1], chunk)
    if problem:
        print(f"eval.logit_chunk: {problem}; computing full logits instead", flush=True)
        return 0
    return chunk


def summarize(eval_set: EvalSet, nll: np.ndarray) -> dict:
    """Set loss and category losses from per-text sums (loss = Σ NLL / Σ tokens)."""
    def entry(mask: np.ndarray) -> dict:
        total, count = float(nll[mask].sum()), int(eval_set.tokens[mask].sum())
        loss = total / count if count else float("nan")
        return {"loss": loss, "nll_sum": total, "tokens": count}

    cats = np.array(eval_set.categories)
    result = entry(np.ones(len(cats), dtype=bool))
    if len(eval_set.category_names) > 1:
        result["categories"] = {c: entry(cats == c) for c in eval_set.category_names}
    return result
