"""Bootstrap intervals of a search's chosen point on each half of the texts (the paired text
bootstrap of `uncertainty.bootstrap`, restricted to that half's texts or items).

A loss is Σ nll / Σ tokens over the half's texts and an accuracy is Σ correct / Σ 1 over its
items: the same ratio, so both are resampled by `replicate_losses` (per-item values over
per-item weights). Several points resampled with the same counts give paired replicates: the
interval of their difference is that of the same texts under both."""
from __future__ import annotations

import numpy as np

from .uncertainty.bootstrap import DEFAULT_LEVEL, percentile_interval, replicate_losses, resample_counts


def _values(per_item) -> np.ndarray:
    return np.asarray([np.nan if v is None else v for v in per_item], dtype=float)


def half_replicates(rows, weights, indices, replicates: int, rng: np.random.Generator) -> np.ndarray:
    """[replicates × rows]: each row's Σ value / Σ weight over the items `indices`, resampled
    with replacement (the same draw for every row)."""
    values = np.stack([_values(r)[indices] for r in rows])
    if replicates == 0:             # no bootstrap asked for: no intervals
        return np.empty((0, len(rows)))
    w = np.asarray(weights, dtype=float)[indices]
    return replicate_losses(values, w, resample_counts(len(indices), replicates, rng))


def half_interval(per_text_nll, tokens, indices, replicates: int = 1000, seed: int = 0,
                  level: float = DEFAULT_LEVEL) -> list[float]:
    """[lo, hi] of the loss over the texts `indices`, texts resampled with replacement."""
    reps = half_replicates([per_text_nll], tokens, indices, replicates, np.random.default_rng(seed))
    lo, hi = percentile_interval(reps[:, 0], level)
    return [float(lo), float(hi)]


def interval(samples: np.ndarray, level: float = DEFAULT_LEVEL) -> list[float] | None:
    """[lo, hi] of replicate values, None when none is finite (or there are none)."""
    if not np.isfinite(samples).any():
        return None
    lo, hi = percentile_interval(samples, level)
    return [float(lo), float(hi)]
