"""Honest selection: an eval set's texts split (seeded) into a search half and a held-out half.

The search minimises the loss on the search half only; the held-out half, never seen by the
optimiser, tells whether the chosen coefficients generalise. Both losses come from a point's
stored per-text NLL sums (`sets[name]["per_text_nll"]`) and the texts' token counts, so the
split changes no point and no fingerprint: every point stays shared with the line/grid sweeps.
"""
from __future__ import annotations

import numpy as np


def split(n_texts: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(search, held_out) text indices, sorted: a seeded permutation cut in half."""
    if n_texts < 2:
        raise ValueError(f"an eval set needs at least 2 texts to split into search and held-out halves, got {n_texts}")
    order = np.random.default_rng(seed).permutation(n_texts)
    half = n_texts // 2
    return np.sort(order[:half]), np.sort(order[half:])


def half_loss(per_text_nll, tokens, indices) -> float:
    """Token-weighted mean NLL over the texts `indices` (Σ nll / Σ tokens; NaN if any is non-finite)."""
    nll = np.asarray([np.nan if v is None else v for v in per_text_nll], dtype=float)[indices]
    tok = np.asarray(tokens, dtype=float)[indices]
    return float(nll.sum() / tok.sum()) if np.isfinite(nll).all() else float("nan")
