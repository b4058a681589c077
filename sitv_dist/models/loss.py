"""The loss, everywhere (evaluation and training): next-token cross-entropy per position, with
padding excluded; a loss is Σ NLL / Σ predicted tokens."""
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
