"""Loss barrier of a line on which 0 and 1 are sampled (linear mode connectivity).

On the path ``M(α) = M_base + αT`` (with ``T = ft2 − ft1`` from ``sitv taskvector --base ft1
--finetuned ft2``, the interpolation between two fine-tunes) the barrier is

    B = max_{α ∈ [0, 1]} L(α) − ((1 − α) L(0) + α L(1)),

taken over the sampled α in [0, 1], both ends included (where the bracket is 0), so B ≥ 0,
with the α where it is reached (the smallest such α on ties). Every evaluated point of the line
counts (the α grid, 2α and α+α² points, refinement points: the results' ``index.all``), each
loss only where its eval set was evaluated. A non-finite loss inside [0, 1] makes the barrier
unknown (``value`` null, ``nonfinite`` > 0). The bootstrap interval over eval texts is added by
:mod:`..uncertainty.run_bootstrap` (same draws at every point, so it is paired).

Pure numpy on a results dict; no imports from the rest of the package (the analysis imports it).
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

_EMPTY = {"value": None, "alpha": None, "interval": None}


def _finite(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def barrier_values(alpha: Sequence[float], losses: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Barrier and its α for each row of ``losses`` ([rows × samples], samples at ``alpha``,
    which must include 0 and 1); NaN where a sample in [0, 1] is NaN."""
    a = np.asarray(alpha, dtype=float)
    y = np.atleast_2d(np.asarray(losses, dtype=float))
    inside = (a >= 0.0) & (a <= 1.0)
    a, y = a[inside], y[:, inside]
    i0, i1 = int(np.flatnonzero(a == 0.0)[0]), int(np.flatnonzero(a == 1.0)[0])
    excess = y - ((1.0 - a)[None, :] * y[:, [i0]] + a[None, :] * y[:, [i1]])
    order = np.argsort(a, kind="stable")
    excess, a = excess[:, order], a[order]
    k = np.argmax(excess, axis=1)
    value = excess[np.arange(len(k)), k]
    bad = ~np.isfinite(y).all(axis=1)
    value[bad] = np.nan
    where = a[k].astype(float)
    where[bad] = np.nan
    return value, where


def line_samples(results: dict, loss: str) -> tuple[list[float], list[int], list[float | None]]:
    """(α, point index, loss) of every point of the line in [0, 1] where ``loss`` was evaluated;
    ``loss`` is "general" or a task name."""
    points, index = results["points"], results["index"]
    idx = index.get("all") or index["line"]
    xs, ids, ys = [], [], []
    for i in dict.fromkeys(int(j) for j in idx):
        p = points[i]
        entry = p.get("general") if loss == "general" else (p.get("tasks") or {}).get(loss)
        c = float(p["coefficients"][0])
        if entry is None or not 0.0 <= c <= 1.0:
            continue
        xs.append(c)
        ids.append(i)
        ys.append(_finite(entry.get("loss")))
    return xs, ids, ys


def loss_names(results: dict) -> list[str]:
    """"general" and every task present at some point of the line."""
    tasks: list[str] = []
    for p in results["points"]:
        tasks += [t for t in (p.get("tasks") or {}) if t not in tasks]
    return ["general"] + tasks


def barrier(xs: Sequence[float], ys: Sequence[float | None]) -> dict:
    """The barrier of one loss from its samples (see the module docstring)."""
    if 0.0 not in xs or 1.0 not in xs or not any(0.0 < x < 1.0 for x in xs):
        return dict(_EMPTY)                 # without both ends and a point between, 0 by construction
    y = np.array([np.nan if v is None else v for v in ys], dtype=float)
    value, where = barrier_values(xs, y[None, :])
    out = {"value": _finite(value[0]), "alpha": _finite(where[0]), "interval": None,
           "samples": len(xs), "nonfinite": int((~np.isfinite(y)).sum())}
    i0, i1 = list(xs).index(0.0), list(xs).index(1.0)
    out.update(loss_0=_finite(y[i0]), loss_1=_finite(y[i1]))
    return out


def line_barriers(results: dict) -> dict | None:
    """``{"general": B, "tasks": {task: B}}`` with ``B = {"value", "alpha", "interval", ...}``
    for the general and every task loss, or None when 0 or 1 is not a sampled coefficient."""
    xs, _, _ = line_samples(results, "general")
    if 0.0 not in xs or 1.0 not in xs:
        return None
    names = loss_names(results)
    out: dict[str, Any] = {"general": barrier(*line_samples(results, "general")[::2]), "tasks": {}}
    for name in names[1:]:
        sx, _, sy = line_samples(results, name)
        out["tasks"][name] = barrier(sx, sy)
    return out


def each(barriers: dict | None):
    """(loss label, barrier entry) pairs: ("general", B), (task, B), ..."""
    if not barriers:
        return []
    return [("general", barriers["general"])] + list(barriers["tasks"].items())
