"""Crossings and local minima of a line over every point on it (the α grid, 2α, α+α² and
refinement points all sample the same function of the coefficient), each with the width of
the bracket that locates it."""
from __future__ import annotations

import numpy as np

from .analysis import find_crossings


def refined_summary(results: dict) -> dict | None:
    """Crossings and local minima of a line over every point on it (grid, 2α, α+α² and
    refinement points), each with the width of the bracket that locates it."""
    if results["kind"] != "line" or "all" not in results["index"]:
        return None
    pts = [results["points"][i] for i in results["index"]["all"]]
    xs = np.array([p["coefficients"][0] for p in pts])

    def losses(get) -> np.ndarray:
        return np.array([np.nan if get(p) is None else get(p) for p in pts], dtype=float)

    def minima(ys: np.ndarray) -> list[dict]:
        """Interior local minima among the points where this loss was evaluated."""
        keep = np.isfinite(ys)
        x, y = xs[keep], ys[keep]
        return [{"x": float(x[i]), "loss": float(y[i]), "bracket": [float(x[i - 1]), float(x[i + 1])]}
                for i in range(1, len(x) - 1) if y[i] < y[i - 1] and y[i] <= y[i + 1]]

    general = losses(lambda p: p["general"]["loss"])
    crossings = [{"x": c["x"], "bracket": [c["left"][0], c["right"][0]], "width": c["right"][0] - c["left"][0],
                  "direction": c["direction"]} for c in find_crossings(xs, general, results["base_loss"])]
    task = next(iter(results.get("task_of", {}).values()), None)
    summary = {"samples": len(xs), "refined": len(results["index"].get("refined", [])),
               "crossings": crossings, "minima": minima(general)}
    if task:
        summary["task_minima"] = minima(losses(lambda p: p["tasks"].get(task, {}).get("loss")))
    return summary
