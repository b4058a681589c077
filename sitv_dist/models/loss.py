"""The loss, everywhere (evaluation and training): next-token cross-entropy per position, with
padding excluded; a loss is Σ NLL / Σ predicted tokens.

`token_nll` takes the model's full logits. `chunked_token_nll` never holds them: it runs the
model's trunk once, keeps the final hidden states of the predicted (non-pad) positions and
pushes them through the model's own output head `chunk` positions at a time, with the same
logit post-processing the architecture's forward applies (Gemma's final soft-capping, Cohere's
scale, Granite's divisor). With a 262k vocabulary the full fp32 logits of one 16 × 256 batch
are 4.3 GB; a chunk of 512 positions is 0.5 GB. transformers has no public "head only" call,
so the post-processing is spelled out here and `check_chunked` compares both paths on a real
batch before a sweep trusts it.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def token_nll(logits: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Per-position NLL of predicting token t+1 from position t; 0 where the target is padding."""
    labels = input_ids[:, 1:].masked_fill(attention_mask[:, 1:] == 0, -100)
    # at least float32 (bf16/fp16 logits upcast); a float64 model keeps float64, so the loss of a
    # float64 check (finite differences of derivatives) is not rounded to float32
    wide = logits[:, :-1].to(torch.promote_types(logits.dtype, torch.float32))
    flat = F.cross_entropy(wide.flatten(0, 1), labels.flatten(), reduction="none",
                           ignore_index=-100)
    return flat.view(labels.shape)


def postprocess_logits(config, logits: torch.Tensor) -> torch.Tensor:
    """What a causal LM's forward does to `lm_head(h)` before returning it, in the same order
    and dtype (transformers 5.x: gemma2/gemma3 soft-capping, cohere logit_scale, granite
    logits_scaling); other architectures return the head's output as it is."""
    cap = getattr(config, "final_logit_softcapping", None)
    if cap is not None:
        logits = torch.tanh(logits / cap) * cap
    scale = getattr(config, "logit_scale", None)
    if scale is not None and "cohere" in getattr(config, "model_type", ""):
        logits = logits * scale
    divisor = getattr(config, "logits_scaling", None)
    if divisor is not None:
        logits = logits / divisor
    return logits


def trunk_and_head(model: torch.nn.Module) -> tuple[torch.nn.Module, torch.nn.Module]:
    """The decoder stack (returns final, normed hidden states) and the output head."""
    trunk = getattr(model, model.base_model_prefix, None)
    head = model.get_output_embeddings()
    if trunk is None or trunk is model or head is None:
        raise TypeError(f"{type(model).__name__}: no separate trunk and output head for chunked NLL")
    return trunk, head


def chunked_token_nll(model: torch.nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                      chunk: int) -> torch.Tensor:
    """`token_nll(model(...).logits, ...)` without the [batch, seq, vocab] logits: at most
    `chunk` positions of fp32 logits exist at a time, and padded positions are never projected."""
    trunk, head = trunk_and_head(model)
    hidden = trunk(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state[:, :-1]
    valid = attention_mask[:, 1:] != 0
    targets = input_ids[:, 1:][valid]
    picked = hidden[valid]                              # [n, d]: predicted positions only
    parts = []
    for start in range(0, targets.shape[0], chunk):
        part = slice(start, start + chunk)
        logits = postprocess_logits(model.config, head(picked[part].to(head.weight.device)))
        wide = logits.to(torch.promote_types(logits.dtype, torch.float32))      # as token_nll
        parts.append(F.cross_entropy(wide, targets[part].to(logits.device), reduction="none").to(hidden.device))
    dtype = parts[0].dtype if parts else torch.float32
    nll = torch.cat(parts) if parts else torch.zeros(0, dtype=dtype, device=hidden.device)
    # out of place (no writes into a preallocated tensor), so forward-mode AD runs through it too
    # (sweep.forward_ad differentiates this function)
    return torch.zeros(valid.shape, dtype=dtype, device=hidden.device).masked_scatter(valid, nll)


@torch.no_grad()
def check_chunked(model: torch.nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor, chunk: int,
                  rtol: float = 1e-5) -> str:
    """'' when the chunked path gives the plain path's per-text NLL sums on this batch (to
    `rtol`), else why not (an architecture whose head or post-processing is not covered)."""
    try:
        fast = chunked_token_nll(model, input_ids, attention_mask, chunk).double().sum(dim=1)
    except TypeError as exc:
        return str(exc)
    plain = token_nll(model(input_ids=input_ids, attention_mask=attention_mask).logits, input_ids,
                      attention_mask).double().sum(dim=1)
    if not torch.allclose(fast, plain.to(fast.device), rtol=rtol, atol=0.0):
        worst = float(((fast - plain.to(fast.device)).abs() / plain.to(fast.device).abs().clamp_min(1e-30)).max())
        return f"chunked and plain NLL differ by {worst:.2e} (relative) on {type(model).__name__}"
    return ""
