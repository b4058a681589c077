"""Bootstrap over eval texts: how much of a line sweep's shape is eval-set sampling noise.

A loss is a ratio of sums over texts, ``L = Σ nll_t / Σ tokens_t``. One bootstrap replicate
draws the texts of an eval set again, with replacement (within each category when
stratified, so the set keeps its composition), and recomputes every loss of a curve as
``Σ w_t nll_t / Σ w_t tokens_t`` with the *same* draw ``w`` at every point: the bootstrap is
paired, so differences such as ``L(α) − L(0)`` are resampled coherently (much of the noise of
``L(α)`` and ``L(0)`` is shared and cancels in the difference).

From B replicates (default 1000, seeded numpy ``Generator``) this module gives percentile
intervals for

- ``L(α)`` and ``L(α) − L(0)`` at every sampled α;
- each zero-crossing of ``L(α) − L(0)``: crossings are recomputed in every replicate with
  :func:`sitv_dist.sweep.crossings.find_crossings` (same rules as the analysis) and matched to the
  observed ones (below); the interval is over the replicates in which the crossing exists,
  and the fraction of replicates in which it exists is reported beside it;
- the arg-min α (a sampled α, so its interval's ends are sampled α's);

and a plain statement per crossing of whether ``L(α) − L(0)`` at the samples on either side
of it is distinguishable from 0 at the chosen level (:mod:`.verdicts`).

Matching replicate crossings to an observed crossing k: a replicate crossing matches when it
has the same direction ("touch" matches either), lies in k's window, and is the nearest such
crossing to k. The window is the unbroken run of samples k lies in (runs are split, as in the
analysis, at the base point and at non-finite samples), clipped halfway to the neighbouring
observed crossings so that windows never overlap, and optionally to ``max_distance`` from k.
The window is not a fixed number of sample intervals: on a fine α grid a crossing moves
across several samples from replicate to replicate, and a narrow window would truncate its
interval. ``count_distribution`` (how many crossings the replicates have) and
``unmatched_fraction`` (replicates with crossings that match no observed one) show when the
crossing structure itself is unstable.

What this does not cover: only the finite eval set is resampled. Interpolation error
between samples (a crossing is located by linear interpolation inside its bracket), the
randomness of fine-tuning and the choice of eval distribution are not part of these
intervals.

The functions here work on arrays (``nll`` as points × texts, ``tokens`` per text);
:mod:`.run_bootstrap` loads a line sweep's per-text data from an output directory (each
point's ``sets[name]["per_text_nll"]`` and the eval sets' token counts, through
:class:`sitv_dist.outdir.OutDir`).
"""
from __future__ import annotations

import math
import warnings
from collections import Counter
from contextlib import contextmanager
from typing import Any, Sequence

import numpy as np

from ...sweep.crossings import as_array, find_crossings
from ..analysis.landscape import find_minimum, to_jsonable
from .verdicts import returns_to_base

DEFAULT_REPLICATES = 1000
DEFAULT_LEVEL = 0.95


# ----------------------------------------------------------------------------- resampling
def resample_counts(n_texts: int, replicates: int, rng: np.random.Generator,
                    strata: Sequence[Any] | None = None) -> np.ndarray:
    """How often each text is drawn in each replicate: an int64 array [replicates × n_texts].

    Without ``strata`` every replicate draws ``n_texts`` texts with replacement from all of
    them; with ``strata`` (one label per text) each stratum of size m draws m texts from itself,
    so every replicate has the eval set's composition. Vectorised: one ``rng.integers`` draw and
    one ``bincount`` per stratum.
    """
    n, b = int(n_texts), int(replicates)
    if n <= 0 or b <= 0:
        raise ValueError(f"need at least one text and one replicate, got {n} texts, {b} replicates")
    if strata is None:
        groups = [np.arange(n)]
    else:
        labels = np.asarray(strata)
        if labels.shape != (n,):
            raise ValueError(f"strata has {labels.shape} labels for {n} texts")
        groups = [np.flatnonzero(labels == s) for s in np.unique(labels)]
    offsets = (np.arange(b, dtype=np.int64) * n)[:, None]
    counts = np.zeros(b * n, dtype=np.int64)
    for g in groups:
        draw = g[rng.integers(0, len(g), size=(b, len(g)))]
        counts += np.bincount((offsets + draw).ravel(), minlength=b * n)
    return counts.reshape(b, n)


def observed_losses(nll: np.ndarray, tokens: np.ndarray) -> np.ndarray:
    """Token-weighted loss of each point: Σ_t nll[p, t] / Σ_t tokens[t] (NaN if any text is non-finite)."""
    nll, tokens = np.asarray(nll, dtype=float), np.asarray(tokens, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return nll.sum(axis=1) / tokens.sum()


def replicate_losses(nll: np.ndarray, tokens: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Losses of every point in every replicate, [replicates × points]: (W nllᵀ) / (W tokens).

    A point with a non-finite per-text NLL is NaN in every replicate (as the observed loss of
    that point is non-finite), whether or not that text was drawn.
    """
    nll = np.asarray(nll, dtype=float)
    tokens = np.asarray(tokens, dtype=float)
    if nll.ndim != 2 or nll.shape[1] != tokens.shape[0] or counts.shape[1] != tokens.shape[0]:
        raise ValueError(f"shapes do not fit: nll {nll.shape}, tokens {tokens.shape}, counts {counts.shape}")
    w = counts.astype(float)
    bad = ~np.isfinite(nll).all(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (w @ np.where(np.isfinite(nll), nll, 0.0).T) / (w @ tokens)[:, None]
    out[:, bad] = np.nan
    return out


def percentile_interval(samples: np.ndarray, level: float = DEFAULT_LEVEL, axis: int = 0,
                        method: tuple[str, str] = ("linear", "linear")) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval ((1−level)/2, (1+level)/2) along ``axis``, NaN where all samples are NaN."""
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    a = np.asarray(samples, dtype=float)
    q = ((1 - level) / 2, (1 + level) / 2)
    with _quiet():
        lo = np.nanquantile(a, q[0], axis=axis, method=method[0])
        hi = np.nanquantile(a, q[1], axis=axis, method=method[1])
    return lo, hi


@contextmanager
def _quiet():
    """Silence numpy's 'All-NaN slice' warning: an all-NaN column simply has no interval."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def _interval(lo: float, hi: float) -> list[float] | None:
    return [float(lo), float(hi)] if math.isfinite(lo) and math.isfinite(hi) else None


def _excludes_zero(ci: list[float] | None) -> bool | None:
    return None if ci is None else bool(ci[0] > 0 or ci[1] < 0)


# ----------------------------------------------------------------------------- crossings
def _compatible(a: str, b: str) -> bool:
    return a == b or "touch" in (a, b)


def _segment_bounds(xs: np.ndarray, usable: np.ndarray, excl: Sequence[float], left: float,
                    right: float) -> tuple[float, float]:
    """Ends of the unbroken run of usable samples (as analysis.find_crossings splits) around a bracket."""
    i = int(np.searchsorted(xs, left))
    j = int(np.searchsorted(xs, right))
    while i > 0 and usable[i - 1] and not any(xs[i - 1] < e < xs[i] for e in excl):
        i -= 1
    while j + 1 < len(xs) and usable[j + 1] and not any(xs[j] < e < xs[j + 1] for e in excl):
        j += 1
    return float(xs[i]), float(xs[j])


def match_windows(x: Sequence[float], y: Sequence[Any], crossings: list[dict],
                  exclude_at: Sequence[float] = (0.0,),
                  max_distance: float | None = None) -> list[tuple[float, float]]:
    """The window of each observed crossing: the unbroken run of samples it lies in (split,
    as in the analysis, at excluded x's and non-finite samples), clipped halfway to the
    neighbouring observed crossings, and to ``max_distance`` from it when given."""
    xs = np.asarray(x, dtype=float)
    ys = np.asarray([np.nan if v is None else float(v) for v in y], dtype=float)
    order = np.argsort(xs, kind="stable")
    xs, ys = xs[order], ys[order]
    excl = [float(e) for e in exclude_at]
    usable = np.isfinite(ys) & ~np.array([any(abs(v - e) <= 1e-12 for e in excl) for v in xs], dtype=bool)
    out = []
    for k, c in enumerate(crossings):
        lo, hi = _segment_bounds(xs, usable, excl, c["left"][0], c["right"][0])
        if k > 0:
            lo = max(lo, 0.5 * (crossings[k - 1]["x"] + c["x"]))
        if k + 1 < len(crossings):
            hi = min(hi, 0.5 * (c["x"] + crossings[k + 1]["x"]))
        if max_distance is not None:
            lo, hi = max(lo, c["x"] - max_distance), min(hi, c["x"] + max_distance)
        out.append((lo, hi))
    return out


def match_crossings(observed: list[dict], replicate: list[dict],
                    windows: list[tuple[float, float]]) -> list[float | None]:
    """For each observed crossing, the location of the matching replicate crossing (or None)."""
    out: list[float | None] = []
    for c, (lo, hi) in zip(observed, windows):
        cands = [r["x"] for r in replicate
                 if lo <= r["x"] <= hi and _compatible(r["direction"], c["direction"])]
        out.append(min(cands, key=lambda v: abs(v - c["x"])) if cands else None)
    return out


def crossing_intervals(x: Sequence[float], observed: Sequence[float], ref: float, reps: np.ndarray,
                       ref_reps: np.ndarray, level: float = DEFAULT_LEVEL, max_distance: float | None = None,
                       exclude_at: Sequence[float] = (0.0,)) -> dict:
    """Observed crossings of ``observed − ref`` with a bootstrap interval for each location.

    ``reps`` are the curve's replicate values [B × len(x)], ``ref_reps`` the reference's [B]
    from the same draws. Returns ``{"crossings": [...], "count_distribution": {n: fraction},
    "unmatched_fraction": ...}``; each crossing is the analysis' dict plus ``ci`` (percentile
    interval over the replicates where it exists, None if none), ``exists`` (fraction of
    replicates), ``median`` and ``window``.
    """
    xs = np.asarray(x, dtype=float)
    obs = find_crossings(xs, observed, ref, exclude_at=exclude_at)
    windows = match_windows(xs, observed, obs, exclude_at, max_distance)
    b = reps.shape[0]
    located = np.full((b, len(obs)), np.nan)
    counts: Counter = Counter()
    unmatched = 0
    for i in range(b):
        rc = find_crossings(xs, reps[i], ref_reps[i], exclude_at=exclude_at)
        counts[len(rc)] += 1
        m = match_crossings(obs, rc, windows)
        located[i] = [np.nan if v is None else v for v in m]
        unmatched += len(rc) > sum(v is not None for v in m)
    lo, hi = percentile_interval(located, level) if obs else ([], [])
    with _quiet():
        med = np.nanmedian(located, axis=0) if obs else []
    out = []
    for k, c in enumerate(obs):
        exists = float(np.isfinite(located[:, k]).mean())
        out.append(dict(c, ci=_interval(lo[k], hi[k]), exists=exists,
                        median=float(med[k]) if math.isfinite(med[k]) else None,
                        window=[windows[k][0], windows[k][1]]))
    return {"crossings": out,
            "count_distribution": {int(n): counts[n] / b for n in sorted(counts)},
            "unmatched_fraction": unmatched / b}


def argmin_interval(x: Sequence[float], observed: Sequence[float], reps: np.ndarray,
                    level: float = DEFAULT_LEVEL) -> dict:
    """The observed arg-min (analysis.find_minimum) and the distribution of the replicates' arg-min α.

    The interval's ends are sampled α's (lower/upper order statistics, no interpolation).
    """
    xs = np.asarray(x, dtype=float)
    obs = find_minimum(xs, observed)
    finite = np.isfinite(reps)
    if obs["index"] is None or not finite.any():
        return {"x": None, "y": None, "ci": None, "at_observed": None, "interior": None,
                "min_loss_ci": None, "distribution": {}}
    k = np.where(finite, reps, np.inf).argmin(axis=1)
    ax = xs[k]
    lo, hi = percentile_interval(ax, level, method=("lower", "higher"))
    vmin = reps[np.arange(len(k)), k]
    mlo, mhi = percentile_interval(vmin, level)
    span = xs[np.isfinite(as_array(observed))]
    values, freq = np.unique(ax, return_counts=True)
    top = sorted(zip(values.tolist(), (freq / len(ax)).tolist()), key=lambda t: -t[1])[:5]
    return {"x": obs["x"], "y": obs["y"], "ci": _interval(lo, hi),
            "at_observed": float(np.mean(ax == obs["x"])),
            "interior": float(np.mean((ax > span.min()) & (ax < span.max()))),
            "min_loss_ci": _interval(mlo, mhi),
            "distribution": {repr(float(v)): f for v, f in sorted(top)}}


def local_minima(x: Sequence[float], y: Sequence[Any]) -> list[int]:
    """Indices of interior local minima among the finite samples (strictly below the left
    neighbour, not above the right one, so a flat run counts once)."""
    ys = as_array(y)
    keep = np.flatnonzero(np.isfinite(ys))
    return [int(keep[i]) for i in range(1, len(keep) - 1)
            if ys[keep[i]] < ys[keep[i - 1]] and ys[keep[i]] <= ys[keep[i + 1]]]


def minima_intervals(x: Sequence[float], observed: Sequence[float], ref: float, reps: np.ndarray,
                     ref_reps: np.ndarray, level: float = DEFAULT_LEVEL) -> list[dict]:
    """Each interior local minimum of the curve with its depth L(x) − L(0), the paired
    interval of that depth, and the share of replicates that have a local minimum in its
    window (halfway to the neighbouring observed minima)."""
    xs = np.asarray(x, dtype=float)
    obs = as_array(observed)
    found = local_minima(xs, obs)
    depth = reps[:, found] - ref_reps[:, None] if found else np.zeros((reps.shape[0], 0))
    lo, hi = percentile_interval(depth, level) if found else ([], [])
    rep_minima = [xs[local_minima(xs, r)] for r in reps]
    out = []
    for k, i in enumerate(found):
        left = 0.5 * (xs[found[k - 1]] + xs[i]) if k > 0 else -math.inf
        right = 0.5 * (xs[i] + xs[found[k + 1]]) if k + 1 < len(found) else math.inf
        exists = float(np.mean([bool(((m >= left) & (m <= right)).any()) for m in rep_minima]))
        out.append({"x": float(xs[i]), "loss": float(obs[i]), "depth": float(obs[i] - ref),
                    "depth_ci": _interval(lo[k], hi[k]), "exists": exists})
    return out


# ----------------------------------------------------------------------------- one curve
def curve_uncertainty(x: Sequence[float], observed: Sequence[float], ref: float, reps: np.ndarray,
                      ref_reps: np.ndarray, level: float = DEFAULT_LEVEL, max_distance: float | None = None,
                      exclude_at: Sequence[float] = (0.0,), crossings: bool = True,
                      label: str = "L(α)") -> dict:
    """Intervals for one curve sampled at ``x`` against a reference (L(0)) from the same draws.

    ``observed``/``ref`` are the measured values (what the analysis used), ``reps`` [B × len(x)]
    and ``ref_reps`` [B] their replicates. Returns per-point intervals of the curve and of the
    difference to the reference, the crossings with intervals (``crossings=True``), the arg-min
    and the returns-to-base statement.
    """
    xs = [float(v) for v in x]
    obs = np.asarray([np.nan if v is None else float(v) for v in observed], dtype=float)
    reps = np.asarray(reps, dtype=float)
    ref_reps = np.asarray(ref_reps, dtype=float)
    if reps.shape != (ref_reps.shape[0], len(xs)):
        raise ValueError(f"replicates {reps.shape} do not fit {len(xs)} samples and {ref_reps.shape[0]} replicates")
    lo, hi = percentile_interval(reps, level)
    dreps = reps - ref_reps[:, None]
    dlo, dhi = percentile_interval(dreps, level)
    points, diff = [], []
    for i, a in enumerate(xs):
        ci = _interval(lo[i], hi[i])
        dci = _interval(dlo[i], dhi[i])
        value = float(obs[i]) if math.isfinite(obs[i]) else None
        points.append({"alpha": a, "value": value, "ci": ci})
        diff.append({"alpha": a, "value": None if value is None else value - float(ref), "ci": dci,
                     "excludes_zero": _excludes_zero(dci)})
    rlo, rhi = percentile_interval(ref_reps, level)
    out: dict[str, Any] = {"ref": float(ref), "ref_ci": _interval(rlo, rhi), "points": points, "difference": diff,
                           "argmin": argmin_interval(xs, obs, reps, level)}
    out["minima"] = minima_intervals(xs, obs, ref, reps, ref_reps, level)
    if crossings:
        ci = crossing_intervals(xs, obs, ref, reps, ref_reps, level, max_distance, exclude_at)
        out.update(ci)
        out["returns_to_base"] = returns_to_base(xs, diff, ci["crossings"], level, label)
    return out


def line_bootstrap(alpha: Sequence[float], nll: np.ndarray, tokens: np.ndarray, base_index: int,
                   replicates: int = DEFAULT_REPLICATES, level: float = DEFAULT_LEVEL, seed: int = 0,
                   strata: Sequence[Any] | None = None, max_distance: float | None = None) -> dict:
    """The paired bootstrap of one line from per-text arrays (nll: [len(alpha) × texts]).

    ``base_index`` is the position of α = 0 in ``alpha``; the reference is that row's loss.
    """
    nll = np.asarray(nll, dtype=float)
    tokens = np.asarray(tokens, dtype=float)
    rng = np.random.default_rng(seed)
    counts = resample_counts(nll.shape[1], replicates, rng, strata)
    reps = replicate_losses(nll, tokens, counts)
    obs = observed_losses(nll, tokens)
    out = curve_uncertainty(alpha, obs, float(obs[base_index]), reps, reps[:, base_index], level, max_distance)
    out.update(replicates=int(replicates), level=float(level), seed=int(seed), stratified=strata is not None)
    return to_jsonable(out)
