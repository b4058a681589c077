"""Native multiple-choice scoring at a point, from the same machinery as the losses.

Each choice is scored by its log-likelihood given the context, exactly as
lm-evaluation-harness scores `multiple_choice` tasks with a causal `HFLM` (checked against
lm-eval itself in tests/unit/test_multiple_choice.py): the pair is encoded as in its
`_encode_pair` (trailing spaces of the context move to the choice, `whole = tok(context +
choice)`, `context_enc = tok(context)`, continuation = `whole[len(context_enc):]`), with the
tokenizer's default special tokens unless the string already starts with the prefix (BOS)
token, as its `tok_encode` does; the input is context_enc + continuation, left-truncated to
the model's window. `acc` takes the argmax of the log-likelihoods, `acc_norm` of the
log-likelihoods divided by each choice's length in characters. The context of an item is
encoded once; its (context, choice) rows are length-sorted and batched like the eval sets,
padding masked out.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..models.loss import token_nll
from ..multiple_choice import Item


@dataclass
class MCBatch:
    rows: list[int]
    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    target_mask: torch.Tensor            # 1 on the continuation's tokens: the only ones scored


@dataclass
class MCSet:
    name: str
    answers: np.ndarray                  # per item
    choice_chars: list[np.ndarray]       # per item: characters of each choice (acc_norm)
    row_of: list[list[int]]              # per item: the row of each choice
    batches: list[MCBatch]
    rows: int


def _encode(tokenizer, text: str, prefix: str) -> list[int]:
    """lm-eval's HFLM.tok_encode with add_bos_token unset: default special tokens, none when the
    text already starts with the prefix token."""
    if prefix and text.startswith(prefix):
        return tokenizer.encode(text, add_special_tokens=False)
    return tokenizer.encode(text)


def encode_pair(tokenizer, context: str, continuation: str, context_enc: list[int] | None = None,
                prefix: str | None = None) -> tuple[list[int], list[int]]:
    """(context tokens, continuation tokens) as lm-eval's `_encode_pair` makes them for causal LMs."""
    prefix = prefix_string(tokenizer) if prefix is None else prefix
    n_spaces = len(context) - len(context.rstrip())
    if n_spaces:
        continuation = context[-n_spaces:] + continuation
        context = context[:-n_spaces]
    whole = _encode(tokenizer, context + continuation, prefix)
    if context_enc is None:
        context_enc = _encode(tokenizer, context, prefix)
    return context_enc, whole[len(context_enc):]


def prefix_string(tokenizer) -> str:
    """The text of lm-eval's prefix token (BOS, else EOS)."""
    pid = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    return tokenizer.decode(pid) if pid is not None else ""


def build_mc_set(name: str, items: list[Item], tokenizer, batch_size: int, window: int,
                 device: torch.device) -> MCSet:
    """Tokenize every (context, choice) pair once; `window` is the model's maximum length."""
    prefix = prefix_string(tokenizer)
    seqs, scored = [], []
    row_of = []
    for it in items:
        context = it.context[:len(it.context.rstrip())]
        context_enc = _encode(tokenizer, context, prefix)        # once per item
        rows = []
        for choice in it.choices:
            ctx, cont = encode_pair(tokenizer, it.context, choice, context_enc, prefix)
            if not cont:
                raise ValueError(f"{name}: choice {choice!r} of context {it.context[:40]!r}... encodes to no tokens")
            full = (ctx + cont)[-(window + 1):]
            rows.append(len(seqs))
            seqs.append(full)
            scored.append(len(cont))
        row_of.append(rows)
    order = sorted(range(len(seqs)), key=lambda i: (-len(seqs[i]), i))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    batches = []
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        width = max(len(seqs[i]) for i in rows)
        ids = torch.full((len(rows), width), pad, dtype=torch.long)
        attn = torch.zeros((len(rows), width), dtype=torch.long)
        target = torch.zeros((len(rows), width), dtype=torch.long)
        for r, i in enumerate(rows):
            n = len(seqs[i])
            ids[r, :n] = torch.tensor(seqs[i])
            attn[r, :n] = 1
            target[r, n - scored[i]:n] = 1
        batches.append(MCBatch(rows, ids.to(device), attn.to(device), target.to(device)))
    return MCSet(name, np.array([it.answer for it in items]),
                 [np.array([len(c) for c in it.choices], dtype=float) for it in items], row_of, batches, len(seqs))


@torch.inference_mode()
def choice_loglikelihoods(model: torch.nn.Module, mc: MCSet) -> list[np.ndarray]:
    """Per item, the log-likelihood of each choice given the context (float64)."""
    ll = np.zeros(mc.rows, dtype=np.float64)
    for batch in mc.batches:
        logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits
        nll = token_nll(logits, batch.input_ids, batch.target_mask)     # only continuation tokens count
        ll[batch.rows] = -nll.double().sum(dim=1).cpu().numpy()
    return [ll[rows] for rows in mc.row_of]


def score(mc: MCSet, lls: list[np.ndarray]) -> dict:
    """acc, acc_norm, the item count, and per item the log-likelihoods and whether each metric
    got it right (what the bootstrap resamples)."""
    correct = np.array([int(np.argmax(ll)) == a for ll, a in zip(lls, mc.answers)], dtype=int)
    correct_norm = np.array([int(np.argmax(ll / n)) == a for ll, n, a in zip(lls, mc.choice_chars, mc.answers)],
                            dtype=int)
    return {"acc": float(correct.mean()), "acc_norm": float(correct_norm.mean()), "items": len(lls),
            "correct": correct.tolist(), "correct_norm": correct_norm.tolist(),
            "loglikelihoods": [ll.tolist() for ll in lls]}
