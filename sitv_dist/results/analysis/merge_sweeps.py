"""Merge sweeps put together: the line results of one merge sweep (one per density, marked
``"merge": {"sweep", "op", "of", "density"}`` by the reducer) as L(α, density) for the general
and every task loss, the overall minimum, and per density the minimum along α and the barrier
(when 0 and 1 are sampled). Pure numpy on the results dicts."""
from __future__ import annotations

from typing import Any

import numpy as np

from ...sweep.crossings import as_array
from .barrier import line_barriers
from .landscape import general_loss, task_loss, to_jsonable


def merge_groups(results: dict[str, dict]) -> dict[str, list[dict]]:
    """Line results of each merge sweep, in density order."""
    groups: dict[str, list[dict]] = {}
    for res in results.values():
        if res.get("kind") == "line" and res.get("merge"):
            groups.setdefault(res["merge"]["sweep"], []).append(res)
    return {name: sorted(lines, key=lambda r: float(r["merge"]["density"])) for name, lines in groups.items()}


def _tasks(lines: list[dict]) -> list[str]:
    names: list[str] = []
    for res in lines:
        for p in res["points"]:
            names += [t for t in (p.get("tasks") or {}) if t not in names]
    return names


def _matrix(lines: list[dict], fn) -> np.ndarray:
    """[density × α] of ``fn(point)`` on each line's α grid."""
    return np.array([as_array(fn(res["points"][int(i)]) for i in res["index"]["line"]) for res in lines])


def _minimum(densities: list[float], alpha: list[float], values: np.ndarray) -> dict | None:
    if not np.isfinite(values).any():
        return None
    i, j = np.unravel_index(int(np.nanargmin(values)), values.shape)
    return {"density": densities[i], "alpha": alpha[j], "loss": float(values[i, j])}


def analyse_merge(lines: list[dict]) -> dict:
    """L(α, density) of one merge sweep (see the module docstring)."""
    first = lines[0]
    alpha = [float(a) for a in first["alpha"]]
    for res in lines[1:]:
        if [float(a) for a in res["alpha"]] != alpha:
            raise ValueError(f"merge sweep {first['merge']['sweep']}: {res['sweep']} has another α grid")
    densities = [float(r["merge"]["density"]) for r in lines]
    general = _matrix(lines, general_loss)
    tasks = {t: _matrix(lines, lambda p, t=t: task_loss(p, t)) for t in _tasks(lines)}
    per_density = []
    for k, res in enumerate(lines):
        row = general[k]
        best = int(np.nanargmin(row)) if np.isfinite(row).any() else None
        barriers = line_barriers(res)
        per_density.append({
            "density": densities[k], "sweep": res["sweep"], "direction": res["directions"][0],
            "general_min": None if best is None else {"alpha": alpha[best], "loss": float(row[best])},
            "task_min": {t: _minimum([densities[k]], alpha, m[k:k + 1]) for t, m in tasks.items()},
            "barrier": None if barriers is None else barriers["general"]["value"]})
    out: dict[str, Any] = {
        "kind": "merge", "sweep": first["merge"]["sweep"], "op": first["merge"]["op"],
        "of": list(first["merge"]["of"]), "densities": densities, "alpha": alpha,
        "base_loss": general_loss(first["points"][int(first["base_point"])]),
        "lines": [r["sweep"] for r in lines], "general": general, "tasks": tasks,
        "min": _minimum(densities, alpha, general),
        "task_min": {t: _minimum(densities, alpha, m) for t, m in tasks.items()},
        "per_density": per_density,
    }
    return to_jsonable(out)


def analyse_merges(results: dict[str, dict]) -> dict[str, dict]:
    """:func:`analyse_merge` for every merge sweep of a run."""
    return {name: analyse_merge(lines) for name, lines in merge_groups(results).items()}
