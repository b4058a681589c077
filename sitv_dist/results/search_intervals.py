"""Bootstrap intervals of a search's chosen point on each half of the texts (the paired text
bootstrap of `uncertainty.bootstrap`, restricted to that half's texts)."""
from __future__ import annotations

import numpy as np

from .uncertainty.bootstrap import DEFAULT_LEVEL, percentile_interval, replicate_losses, resample_counts


def half_interval(per_text_nll, tokens, indices, replicates: int = 1000, seed: int = 0,
                  level: float = DEFAULT_LEVEL) -> list[float]:
    """[lo, hi] of the loss over the texts `indices`, texts resampled with replacement."""
    nll = np.asarray([np.nan if v is None else v for v in per_text_nll], dtype=float)[indices][None, :]
    tok = np.asarray(tokens, dtype=float)[indices]
    counts = resample_counts(len(indices), replicates, np.random.default_rng(seed))
    lo, hi = percentile_interval(replicate_losses(nll, tok, counts)[:, 0], level)
    return [float(lo), float(hi)]
