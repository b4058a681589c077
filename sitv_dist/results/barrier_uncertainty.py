"""Bootstrap intervals of loss barriers (:mod:`.barrier`) over eval texts, from the per-point
files: every replicate redraws the texts of an eval set once (within categories, with the same
per-set seed as the line bootstrap of :mod:`.bootstrap_run`) and recomputes the barrier from the
same draw at every sampled α, so L(α), L(0) and L(1) move together (a paired bootstrap)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..outdir import OutDir
from .analysis.barrier import barrier_values, line_samples
from .bootstrap_run import PointFiles, Unavailable, _check_agrees, _set_seed
from .uncertainty import observed_losses, percentile_interval, replicate_losses, resample_counts


def barrier_interval(points: PointFiles, results: dict, loss: str, replicates: int, level: float,
                     seed: int) -> list[float] | None:
    """The percentile interval of one loss's barrier on one line; None where it has no value."""
    xs, ids, ys = line_samples(results, loss)
    if any(v is None for v in ys):
        return None
    set_name = "general" if loss == "general" else f"task:{loss}"
    pids = [results["points"][i]["id"] for i in ids]
    nll, tokens, cats = points.matrix(pids, set_name)
    _check_agrees(observed_losses(nll, tokens), ys, f"{results['sweep']} {set_name}")
    counts = resample_counts(nll.shape[1], replicates, _set_seed(seed, set_name), cats)
    values, _ = barrier_values(xs, replicate_losses(nll, tokens, counts))
    lo, hi = percentile_interval(values, level)
    return None if not (np.isfinite(lo) and np.isfinite(hi)) else [float(lo), float(hi)]


def add_barrier_intervals(out_dir: "Path | OutDir", results: dict[str, dict], analysis: dict, replicates: int,
                          level: float, seed: int = 0) -> None:
    """Fill ``interval`` (and ``level``, ``replicates``) of every barrier in ``analysis["sweeps"]``;
    a barrier whose per-text data are not on disk keeps ``interval: null`` and gets a ``reason``."""
    out = OutDir(out_dir)
    if replicates <= 0 or not out.points_dir.is_dir() or not out.eval_sets.is_file():
        return
    points = PointFiles(out)
    for name, res in results.items():
        barriers = (analysis["sweeps"].get(name) or {}).get("barrier")
        if not barriers:
            continue
        entries = [("general", barriers["general"])] + list(barriers["tasks"].items())
        for loss, entry in entries:
            if entry.get("value") is None:
                continue
            try:
                entry["interval"] = barrier_interval(points, res, loss, replicates, level, seed)
                entry.update(level=float(level), replicates=int(replicates))
            except Unavailable as exc:
                entry["reason"] = str(exc)
