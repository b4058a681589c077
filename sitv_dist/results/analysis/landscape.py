"""Analysis of reduced sweep results: minima, crossings, squaring/compositional curves, 2D additivity.

Pure numpy on the reduced results dicts (docs/layout.md; ``OutDir.results(sweep)``). Everything
returned is JSON-serialisable: plain floats/ints/lists, non-finite values as ``None``.
The analysis states what was measured; it does not interpret it.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ...sweep.crossings import as_array, find_crossings, finite
from .barrier import line_barriers

SQUARING_NOTE = (
    "In a linear task-vector space L(2α) is the line itself evaluated at 2α, so a squaring "
    "return at α is a crossing of L at 2α; the tool reports it and does not interpret it."
)
COMPOSITIONAL_NOTE = (
    "The compositional curve is the line evaluated at λ+λ²; λ = 0 and λ = -1 map to the base "
    "point and are excluded from its crossings."
)
OPPOSITE_SENTIMENT = {"sentiment_positive": "sentiment_negative",
                      "sentiment_negative": "sentiment_positive"}


# ----------------------------------------------------------------------------- helpers
def to_jsonable(obj: Any) -> Any:
    """Recursively convert numpy scalars/arrays and non-finite floats to plain JSON values."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return finite(obj)
    return obj


def general_loss(point: dict) -> float | None:
    """General-set loss of one point (None where missing or non-finite)."""
    return finite((point.get("general") or {}).get("loss"))


def task_loss(point: dict, task: str) -> float | None:
    """Loss of one task's eval set at a point; None where that set was not evaluated there."""
    return finite(((point.get("tasks") or {}).get(task) or {}).get("loss"))


def category_loss(point: dict, category: str) -> float | None:
    """Loss of one general-set category at a point."""
    cats = (point.get("general") or {}).get("categories") or {}
    return finite((cats.get(category) or {}).get("loss"))


def check_base_loss(results: dict) -> float:
    """The base loss must be the general loss of the all-zero point (one base, one code path)."""
    points = results["points"]
    bp = int(results["base_point"])
    if not 0 <= bp < len(points):
        raise ValueError(f"base_point {bp} is out of range ({len(points)} points)")
    coeffs = points[bp].get("coefficients") or []
    if any(float(c) != 0.0 for c in coeffs):
        raise ValueError(f"base_point {bp} has non-zero coefficients {coeffs}")
    declared, measured = finite(results.get("base_loss")), general_loss(points[bp])
    if declared is None or declared != measured:
        raise ValueError(f"base_loss {results.get('base_loss')!r} != general loss of the "
                         f"base point {measured!r}")
    return declared


# ----------------------------------------------------------------------------- minima
def find_minimum(x: Sequence[float], y: Sequence[Any]) -> dict:
    """Arg-min ignoring NaN; interior = not at either end of the finite samples' range."""
    xs, ys = as_array(x), as_array(y)
    finite = np.flatnonzero(np.isfinite(ys))
    if finite.size == 0:
        return {"x": None, "y": None, "index": None, "interior": False}
    k = int(finite[np.argmin(ys[finite])])
    span = xs[finite]
    interior = bool(span.min() < xs[k] < span.max())
    return {"x": float(xs[k]), "y": float(ys[k]), "index": k, "interior": interior}


# ----------------------------------------------------------------------------- line sweeps
def _curve(points: list[dict], idx: Sequence[int] | None, fn) -> list[float | None] | None:
    """Values of ``fn(point)`` along an index list; None when the curve was not planned."""
    if idx is None:
        return None
    return [fn(points[int(i)]) for i in idx]


def _nonfinite(values: list | None) -> int:
    return 0 if values is None else sum(v is None for v in values)


def _categories(results: dict) -> list[str]:
    """Category names from eval_sets, else the union over points (order of first appearance)."""
    cats = list(((results.get("eval_sets") or {}).get("general") or {}).get("categories") or [])
    for p in results["points"]:
        for c in ((p.get("general") or {}).get("categories") or {}):
            if c not in cats:
                cats.append(c)
    return cats


def _preference(results: dict, task: str | None, general_min: dict) -> dict | None:
    """Sentiment preference: loss on the opposite sentiment's set minus loss on the task's own."""
    opp = OPPOSITE_SENTIMENT.get(task or "")
    if opp is None:
        return None
    points, line = results["points"], results["index"]["line"]

    def score(p: dict) -> float | None:
        own, other = task_loss(p, task), task_loss(p, opp)
        return None if own is None or other is None else other - own

    curve = [score(points[int(i)]) for i in line]
    on_line = results["index"].get("all") or line
    at = [points[int(i)] for i in on_line if float(points[int(i)]["coefficients"][0]) == general_min["x"]]
    at_min = score(at[0]) if at else None          # None where that point has no task losses
    return {"task": task, "opposite": opp, "at_base": score(points[int(results["base_point"])]),
            "at_general_min": at_min, "general_min_alpha": general_min["x"], "curve": curve}


def _on_line(crossings: list[dict], coefficient) -> list[dict]:
    """Add the line coefficient (2α, α+α²) at which a derived curve's crossing sits."""
    for c in crossings:
        c["coefficient"] = float(coefficient(c["x"]))
    return crossings


def line_samples(results: dict) -> tuple[list[float], list[float | None]]:
    """(c, L(c)) of every evaluated point on a line, sorted by c: the α grid, 2α, α+α² and
    refinement points all sample the same function, so every finding of a line comes from
    all of them (results without an "all" index: the α grid)."""
    points = results["points"]
    idx = results["index"].get("all")
    if not idx:
        return [float(a) for a in results["alpha"]], [general_loss(points[int(i)]) for i in results["index"]["line"]]
    pairs = sorted((float(points[int(i)]["coefficients"][0]), general_loss(points[int(i)])) for i in idx)
    return [c for c, _ in pairs], [v for _, v in pairs]


def interior_minima(x: Sequence[float], y: Sequence[Any]) -> list[dict]:
    """Interior local minima among the finite samples, each with its bracket (the neighbouring
    samples): strictly below the left neighbour and not above the right one."""
    xs, ys = as_array(x), as_array(y)
    keep = np.flatnonzero(np.isfinite(ys))
    return [{"x": float(xs[keep[i]]), "loss": float(ys[keep[i]]),
             "bracket": [float(xs[keep[i - 1]]), float(xs[keep[i + 1]])]}
            for i in range(1, len(keep) - 1) if ys[keep[i]] < ys[keep[i - 1]] and ys[keep[i]] <= ys[keep[i + 1]]]


def analyse_line(results: dict) -> dict:
    """Minima and crossings of L(c)−L(0) over every point on the line (one set of findings),
    the α-grid curves (squaring, compositional, task), categories, preference."""
    base = check_base_loss(results)
    points, index = results["points"], results["index"]
    alpha = [float(a) for a in results["alpha"]]
    direction = results["directions"][0]
    task = (results.get("task_of") or {}).get(direction)
    bp = points[int(results["base_point"])]

    general = _curve(points, index["line"], general_loss)
    squaring = _curve(points, index.get("squaring"), general_loss)
    compositional = _curve(points, index.get("compositional"), general_loss)
    task_curve = _curve(points, index["line"], lambda p: task_loss(p, task)) if task else None
    xs, ys = line_samples(results)
    gmin = find_minimum(xs, ys)

    out: dict[str, Any] = {
        "kind": "line", "sweep": results.get("sweep"), "direction": direction, "task": task,
        "base_loss": base, "general_min": gmin,
        "task_base_loss": task_loss(bp, task) if task else None,
        "task_min": find_minimum(alpha, task_curve) if task_curve else None,
        "crossings": find_crossings(xs, ys, base, exclude_at=(0.0,)),
        "minima": [dict(m, depth=m["loss"] - base) for m in interior_minima(xs, ys)],
        "samples": {"c": xs, "general": ys, "refined": len(index.get("refined") or [])},
        "curves": {"alpha": alpha, "general": general, "task": task_curve,
                   "squaring": squaring, "compositional": compositional},
        "squaring": None, "compositional": None,
        "nonfinite": {"general": _nonfinite(general), "task": _nonfinite(task_curve),
                      "squaring": _nonfinite(squaring), "compositional": _nonfinite(compositional)},
    }
    if squaring is not None:
        out["squaring"] = {"crossings": _on_line(find_crossings(alpha, squaring, base), lambda a: 2 * a),
                           "min": find_minimum(alpha, squaring), "note": SQUARING_NOTE}
    if compositional is not None:
        crossings = find_crossings(alpha, compositional, base, exclude_at=(0.0, -1.0))
        out["compositional"] = {"crossings": _on_line(crossings, lambda a: a + a * a),
                                "min": find_minimum(alpha, compositional), "note": COMPOSITIONAL_NOTE}
    out["categories"] = {}
    for c in _categories(results):
        curve = _curve(points, index["line"], lambda p, c=c: category_loss(p, c))
        m = find_minimum(alpha, curve)
        m["interior"] = m["interior"] and m["x"] != 0.0      # the base itself is no interior minimum
        out["categories"][c] = {"base_loss": category_loss(bp, c), "min": m}
    out["preference"] = _preference(results, task, gmin)
    out["barrier"] = line_barriers(results)         # None unless 0 and 1 are sampled
    return to_jsonable(out)


# ----------------------------------------------------------------------------- grid sweeps
def _grid_array(results: dict, fn) -> np.ndarray:
    """Nested index lists → float array (NaN where missing) of shape len(axes[i])."""
    points = results["points"]
    idx = np.asarray(results["index"]["grid"], dtype=int)
    flat = [fn(points[int(i)]) for i in idx.ravel()]
    return as_array(flat).reshape(idx.shape)


def _cell(axes: list[list[float]], where: tuple, value: float) -> dict:
    return {"coefficients": [float(axes[d][k]) for d, k in enumerate(where)],
            "index": [int(k) for k in where], "loss": float(value)}


def _extreme(axes: list, values: np.ndarray, fn) -> dict | None:
    """Cell of the NaN-ignoring min/max (``fn`` = np.nanargmin/np.nanargmax)."""
    if not np.isfinite(values).any():
        return None
    where = np.unravel_index(int(fn(values)), values.shape)
    return _cell(axes, where, values[where])


def _closest_to_base(axes: list, values: np.ndarray, base: float) -> dict | None:
    """Cell whose loss is closest to the base loss, the origin excluded."""
    dist = np.abs(values - base)
    origin = np.ones(values.shape, dtype=bool)
    for d, ax in enumerate(axes):
        shape = [1] * values.ndim
        shape[d] = len(ax)
        origin &= (np.asarray(ax, dtype=float) == 0.0).reshape(shape)
    dist[origin] = np.nan
    if not np.isfinite(dist).any():
        return None
    where = np.unravel_index(int(np.nanargmin(dist)), values.shape)
    cell = _cell(axes, where, values[where])
    cell["difference"] = float(values[where] - base)
    return cell


def additivity(axes: list, values: np.ndarray) -> dict | None:
    """Additive model L(α,0)+L(0,β)−L(0,0) vs observed, over off-axis cells with finite data.

    Cells on the α = 0 or β = 0 lines fit the model by construction, so they are left out of
    the RMS and R². Returns None unless there are exactly 2 axes, both containing 0.
    """
    if values.ndim != 2 or 0.0 not in axes[0] or 0.0 not in axes[1]:
        return None
    i0, j0 = list(axes[0]).index(0.0), list(axes[1]).index(0.0)
    pred = values[:, j0][:, None] + values[i0, :][None, :] - values[i0, j0]
    inter = values - pred
    mask = np.isfinite(inter)
    mask[i0, :] = False
    mask[:, j0] = False
    out = {"cells": int(mask.sum()), "interaction_rms": None, "max_abs_interaction": None,
           "r2": None, "interaction": to_jsonable(np.where(np.isfinite(inter), inter, np.nan))}
    if not mask.any():
        return out
    res = inter[mask]
    out["interaction_rms"] = float(np.sqrt(np.mean(res ** 2)))
    where = np.unravel_index(int(np.argmax(np.where(mask, np.abs(inter), -1.0))), inter.shape)
    out["max_abs_interaction"] = {"value": float(inter[where]), "abs": float(abs(inter[where])),
                                  "coefficients": [float(axes[0][where[0]]), float(axes[1][where[1]])]}
    obs = values[mask]
    ss_tot = float(np.sum((obs - obs.mean()) ** 2))
    out["r2"] = (1.0 - float(np.sum(res ** 2)) / ss_tot) if ss_tot > 0 else None
    return out


def analyse_grid(results: dict) -> dict:
    """Min, max, closest-to-base (origin excluded) and, for two axes through 0, additivity."""
    base = check_base_loss(results)
    axes = [[float(a) for a in ax] for ax in results["axes"]]
    values = _grid_array(results, general_loss)
    expected = tuple(len(ax) for ax in axes)
    if values.shape != expected:
        raise ValueError(f"grid index shape {values.shape} != axes lengths {expected}")
    task_minima = {}
    for direction, task in (results.get("task_of") or {}).items():
        tv = _grid_array(results, lambda p, t=task: task_loss(p, t))
        task_minima[direction] = {"task": task, "min": _extreme(axes, tv, np.nanargmin)}
    out = {
        "kind": "grid", "sweep": results.get("sweep"), "directions": list(results["directions"]),
        "axes": axes, "base_loss": base,
        "min": _extreme(axes, values, np.nanargmin), "max": _extreme(axes, values, np.nanargmax),
        "closest_to_base": _closest_to_base(axes, values, base),
        "additivity": additivity(axes, values) if len(axes) == 2 else None,
        "task_minima": task_minima,
        "nonfinite": {"general": int((~np.isfinite(values)).sum())},
        "general": values,
    }
    return to_jsonable(out)


def analyse(results: dict) -> dict:
    """Dispatch on the results file's kind ("line" or "grid")."""
    kind = results.get("kind")
    if kind == "line":
        return analyse_line(results)
    if kind == "grid":
        return analyse_grid(results)
    raise ValueError(f"unknown results kind {kind!r}")
