"""Native multiple-choice scoring at a point, from the same machinery as the losses (the
machinery of the `native_mc` score: tokenizing the items once, log-likelihoods, acc/acc_norm).

Each choice is scored by its log-likelihood given the context, exactly as
lm-evaluation-harness scores `multiple_choice` tasks with a causal `HFLM` (checked against
lm-eval itself in tests/unit/test_multiple_choice.py): the pair is encoded as in its
`_encode_pair` (trailing spaces of the context move to the choice, `whole = tok(context +
choice)`, `context_enc = tok(context)`, continuation = `whole[len(context_enc):]`), with the
tokenizer's default special tokens unless the string already starts with the prefix (BOS)
token, as its `tok_encode` does; the input is context_enc + continuation, left-truncated to
the model's window. `acc` takes the argmax of the log-likelihoods, `acc_norm` of the
log-likelihoods divided by each choice's length in characters.

A shared context is encoded once per item, tokens and forward pass: items are batched
longest first, their contexts left-padded (explicit positions) and run once with a KV cache,
which is then copied to one row per choice (`Cache.reorder_cache`, as beam search does) for
the continuations. That cuts the tokens run by 28 % on the embedded sets (47 % on
qa_factual); the result equals whole (context + choice) rows to float32 rounding (tested to
1e-5). An item with a choice too long for the window goes whole, left-truncated per choice
as lm-eval does; `share_context=False` runs every item whole.
"""
from __future__ import annotations

import copy
import inspect
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ...mc_items import Item


@dataclass
class MCBatch:
    """Whole (context + choice) rows."""
    rows: list[int]
    input_ids: torch.Tensor
    attention_mask: torch.Tensor         # the real tokens (counted by bench/; the forward needs no mask)
    targets: torch.Tensor                # the next token at each position
    scored: torch.Tensor                 # 1 where the target is a continuation token


@dataclass
class ContinuationChunk:
    """Choices of a SharedBatch's items, one row each."""
    rows: list[int]
    row_item: torch.Tensor               # per row: its item's position in the batch's contexts
    cont_ids: torch.Tensor
    cont_mask: torch.Tensor


@dataclass
class SharedBatch:
    """Items whose context runs once: left-padded contexts, then chunks of one row per choice."""
    ctx_ids: torch.Tensor
    ctx_mask: torch.Tensor
    chunks: list[ContinuationChunk]


@dataclass
class MCSet:
    name: str
    answers: np.ndarray                  # per item
    choice_chars: list[np.ndarray]       # per item: characters of each choice (acc_norm)
    row_of: list[list[int]]              # per item: the row of each choice
    batches: list[MCBatch | SharedBatch]
    rows: int


def model_window(model: torch.nn.Module) -> int:
    """The longest input the model takes (lm-eval's resolve_max_length order), 2048 when unknown."""
    for attr in ("n_positions", "max_position_embeddings", "n_ctx"):
        value = getattr(model.config, attr, None)
        if isinstance(value, int) and value > 0:
            return value
    return 2048


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
                 device: torch.device, share_context: bool = True) -> MCSet:
    """Tokenize every (context, choice) pair once; `window` is the model's maximum length. With
    `share_context`, items whose every choice fits the window run their context once (then its
    KV cache serves each choice); the others, and all items without it, run each pair whole."""
    prefix = prefix_string(tokenizer)
    pad = 0     # never scored nor attended; id 0 is always inside the embedding (a tokenizer's pad id may not be)
    plain, shared, row_of, rows = [], [], [], 0
    for it in items:
        context = it.context[:len(it.context.rstrip())]
        context_enc = _encode(tokenizer, context, prefix)        # once per item
        conts = []
        for choice in it.choices:
            ctx, cont = encode_pair(tokenizer, it.context, choice, context_enc, prefix)
            if not cont:
                raise ValueError(f"{name}: choice {choice!r} of context {it.context[:40]!r}... encodes to no tokens")
            conts.append(cont)
        row_of.append(list(range(rows, rows + len(conts))))
        if share_context and all(len(ctx) + len(c) <= window + 1 for c in conts):
            shared.append((ctx, list(zip(row_of[-1], conts))))
        else:      # lm-eval's left truncation differs per choice: each pair whole
            plain += [(r, (ctx + c)[-(window + 1):], len(c)) for r, c in zip(row_of[-1], conts)]
        rows += len(conts)
    batches = _plain_batches(plain, batch_size, pad, device) + _shared_batches(shared, batch_size, pad, device)
    return MCSet(name, np.array([it.answer for it in items]),
                 [np.array([len(c) for c in it.choices], dtype=float) for it in items], row_of, batches, rows)


def _plain_batches(rows: list, batch_size: int, pad: int, device: torch.device) -> list[MCBatch]:
    """(row, sequence, scored tokens): input sequence[:-1], targets sequence[1:], length-sorted."""
    rows = sorted(rows, key=lambda r: (-len(r[1]), r[0]))
    batches = []
    for start in range(0, len(rows), batch_size):
        part = rows[start:start + batch_size]
        width = max(len(seq) for _, seq, _ in part) - 1
        ids, attn = torch.full((len(part), width), pad, dtype=torch.long), torch.zeros((len(part), width), dtype=torch.long)
        target, scored = torch.full((len(part), width), pad, dtype=torch.long), torch.zeros((len(part), width))
        for r, (_, seq, n_cont) in enumerate(part):
            n = len(seq) - 1
            ids[r, :n], target[r, :n] = torch.tensor(seq[:-1]), torch.tensor(seq[1:])
            attn[r, :n] = 1
            scored[r, n - n_cont:n] = 1
        batches.append(MCBatch([row for row, _, _ in part], ids.to(device), attn.to(device), target.to(device),
                               scored.to(device)))
    return batches


def _shared_batches(items: list, batch_size: int, pad: int, device: torch.device) -> list[SharedBatch]:
    """(context, [(row, continuation)]) per item. Contexts are sorted by length and run
    `batch_size` at a time, left-padded (so every continuation starts at the same cache
    position); the choices of those items are sorted by continuation length and run in
    chunks of `batch_size` rows, right-padded: little padding on either side."""
    items = sorted(items, key=lambda it: (-len(it[0]), it[1][0][0]))
    batches = []
    for start in range(0, len(items), batch_size):
        group = items[start:start + batch_size]
        lc = len(group[0][0])
        ctx_ids, ctx_mask = torch.full((len(group), lc), pad, dtype=torch.long), torch.zeros((len(group), lc), dtype=torch.long)
        for i, (ctx, _) in enumerate(group):
            ctx_ids[i, lc - len(ctx):], ctx_mask[i, lc - len(ctx):] = torch.tensor(ctx), 1
        flat = sorted(((i, row, cont) for i, (_, choices) in enumerate(group) for row, cont in choices),
                      key=lambda r: (-len(r[2]), r[1]))
        chunks = []
        for k in range(0, len(flat), batch_size):
            part = flat[k:k + batch_size]
            lk = len(part[0][2])
            ids, mask = torch.full((len(part), lk), pad, dtype=torch.long), torch.zeros((len(part), lk), dtype=torch.long)
            for r, (_, _, cont) in enumerate(part):
                ids[r, :len(cont)], mask[r, :len(cont)] = torch.tensor(cont), 1
            chunks.append(ContinuationChunk([row for _, row, _ in part],
                                            torch.tensor([i for i, _, _ in part], device=device), ids.to(device),
                                            mask.to(device)))
        batches.append(SharedBatch(ctx_ids.to(device), ctx_mask.to(device), chunks))
    return batches


def _nll(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Per-position NLL of `targets` (the loss of models/loss.py, without the shift)."""
    flat = F.cross_entropy(logits.float().flatten(0, 1), targets.flatten(), reduction="none")
    return flat.view(targets.shape)


def _plain_loglikelihoods(model: torch.nn.Module, b: MCBatch) -> torch.Tensor:
    # Rows are right-padded, so causal attention never lets a scored position see a pad: no mask
    # is needed (lm-eval passes none either), and without one attention takes the causal fast path.
    logits = model(input_ids=b.input_ids).logits
    return -(_nll(logits, b.targets).double() * b.scored).sum(dim=1)


def _cache_kwarg(model: torch.nn.Module) -> str:
    """transformers 5.24 renamed `past_key_values` to `cache` (the old name goes in 5.40)."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def _shared_loglikelihoods(model: torch.nn.Module, b: SharedBatch) -> list[tuple[list[int], torch.Tensor]]:
    """The contexts once, with a cache (logits of their last position only); for each chunk of
    choices, the cache copied to one row per choice, then the continuations."""
    positions = (b.ctx_mask.cumsum(1) - 1).clamp(min=0)
    keep = {"logits_to_keep": 1} if "logits_to_keep" in inspect.signature(model.forward).parameters else {}
    out = model(input_ids=b.ctx_ids, attention_mask=b.ctx_mask, position_ids=positions, use_cache=True, **keep)
    cache = getattr(out, "cache", None)
    cache = out.past_key_values if cache is None else cache
    lengths, results = b.ctx_mask.sum(1), []
    for k, c in enumerate(b.chunks):
        ll = -_nll(out.logits[c.row_item, -1:], c.cont_ids[:, :1]).double()[:, 0]     # first continuation tokens
        if c.cont_ids.shape[1] > 1:
            rows_cache = cache if k == len(b.chunks) - 1 else copy.deepcopy(cache)
            rows_cache.reorder_cache(c.row_item)
            inputs, mask = c.cont_ids[:, :-1], c.cont_mask[:, :-1]
            positions = lengths[c.row_item][:, None] + torch.arange(inputs.shape[1], device=inputs.device)
            logits = model(input_ids=inputs, attention_mask=torch.cat([b.ctx_mask[c.row_item], mask], dim=1),
                           position_ids=positions, use_cache=True, **{_cache_kwarg(model): rows_cache}).logits
            ll -= (_nll(logits, c.cont_ids[:, 1:]).double() * c.cont_mask[:, 1:]).sum(dim=1)
        results.append((c.rows, ll))
    return results


@torch.inference_mode()
def choice_loglikelihoods(model: torch.nn.Module, mc: MCSet) -> list[np.ndarray]:
    """Per item, the log-likelihood of each choice given the context (float64)."""
    ll = np.zeros(mc.rows, dtype=np.float64)
    for batch in mc.batches:
        if isinstance(batch, SharedBatch):
            for rows, values in _shared_loglikelihoods(model, batch):
                ll[rows] = values.cpu().numpy()
        else:
            ll[batch.rows] = _plain_loglikelihoods(model, batch).cpu().numpy()
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
