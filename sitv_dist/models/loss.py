"""The loss, everywhere (evaluation and training): next-token cross-entropy per position, with
padding excluded; a loss is Σ NLL / Σ predicted tokens."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def token_nll(logits: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Per-position NLL of predicting token t+1 from position t; 0 where the target is padding."""
    labels = input_ids[:, 1:].masked_fill(attention_mask[:, 1:] == 0, -100)
    flat = F.cross_entropy(logits[:, :-1].float().flatten(0, 1), labels.flatten(), reduction="none",
                           ignore_index=-100)
    return flat.view(labels.shape)
