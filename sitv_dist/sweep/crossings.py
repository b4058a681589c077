"""Crossings of a sampled curve with a reference level: sign changes of y − ref between
neighbouring samples, located by linear interpolation (:func:`find_crossings`), and the JSON
convention for missing values it rests on (:func:`finite`, :func:`as_array`).

Pure numpy, no I/O. It lives in sweep/ because the refinement rounds (:mod:`.refine`) bracket
crossings while the sweep runs; the analysis of finished results (``sitv_dist.results``)
imports it from here.
"""
from __future__ import annotations

import math
from typing import Any, Iterable, Sequence

import numpy as np

_X_TOL = 1e-12


def finite(v: Any) -> float | None:
    """A finite float, or None for missing/NaN/inf (the JSON convention of the layout)."""
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def as_array(values: Iterable[Any]) -> np.ndarray:
    """Float array with NaN for missing/non-finite entries, so numpy can mask them."""
    return np.array([np.nan if finite(v) is None else float(v) for v in values], dtype=float)


def _split_segments(xs: np.ndarray, ys: np.ndarray, excl: Sequence[float]) -> list[list[int]]:
    """Runs of usable neighbouring samples: NaNs, excluded x's, and gaps spanning one split."""
    segments: list[list[int]] = []
    current: list[int] = []
    for i, (xv, yv) in enumerate(zip(xs, ys)):
        if not np.isfinite(yv) or not np.isfinite(xv) or any(abs(xv - e) <= _X_TOL for e in excl):
            if current:
                segments.append(current)
            current = []
            continue
        if current and any(xs[current[-1]] < e < xv for e in excl):
            segments.append(current)
            current = []
        current.append(i)
    if current:
        segments.append(current)
    return segments


def _sign(v: float) -> int:
    return 1 if v > 0 else (-1 if v < 0 else 0)


def _segment_crossings(xs: np.ndarray, ys: np.ndarray, ref: float) -> list[dict]:
    """Sign changes of ys − ref inside one unbroken segment; runs of exact hits count once."""
    d = ys - ref
    n, out, i = len(d), [], 0
    while i < n:
        if d[i] == 0.0:
            j = i
            while j + 1 < n and d[j + 1] == 0.0:
                j += 1
            lo, hi = (i - 1 if i > 0 else i), (j + 1 if j + 1 < n else j)
            s_left = _sign(d[i - 1]) if i > 0 else 0
            s_right = _sign(d[j + 1]) if j + 1 < n else 0
            direction = "up" if s_right > s_left else ("down" if s_right < s_left else "touch")
            out.append({"x": float(0.5 * (xs[i] + xs[j])), "left": [float(xs[lo]), float(ys[lo])],
                        "right": [float(xs[hi]), float(ys[hi])], "direction": direction,
                        "exact": True})
            i = j + 1
            continue
        if i + 1 < n and d[i] * d[i + 1] < 0:
            x = xs[i] + (xs[i + 1] - xs[i]) * d[i] / (d[i] - d[i + 1])
            out.append({"x": float(x), "left": [float(xs[i]), float(ys[i])],
                        "right": [float(xs[i + 1]), float(ys[i + 1])],
                        "direction": "up" if d[i] < 0 else "down", "exact": False})
        i += 1
    return out


def find_crossings(x: Sequence[float], y: Sequence[Any], ref: float,
                   exclude_at: Sequence[float] = (0.0,)) -> list[dict]:
    """Crossings of y − ref as sign changes between neighbouring samples, each counted once.

    Located by linear interpolation. A sample exactly equal to ``ref`` (or a run of them) is one
    crossing at that x (the run's midpoint), with the neighbouring samples as brackets; its
    direction is "touch" when both sides have the same sign. Samples at ``exclude_at`` (the
    base point, where y == ref by definition), NaN/None samples, and intervals that straddle an
    excluded x split the curve: nothing is reported at or across them.
    """
    ref_f = finite(ref)
    if ref_f is None:
        return []
    xs, ys = as_array(x), as_array(y)
    if xs.shape != ys.shape:
        raise ValueError(f"x and y differ in length: {xs.shape} vs {ys.shape}")
    order = np.argsort(xs, kind="stable")
    xs, ys = xs[order], ys[order]
    excl = [float(e) for e in exclude_at]
    out: list[dict] = []
    for seg in _split_segments(xs, ys, excl):
        out.extend(_segment_crossings(xs[seg], ys[seg], ref_f))
    return out
