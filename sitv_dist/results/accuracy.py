"""Accuracy along the sweeps: multiple-choice accuracy (`tasks.<name>.mc` of the results) and
lm-eval metrics (`lm_eval` of each point). For a line, the curves against α and the α of best
accuracy (the first, where several tie); for a grid, the accuracy arrays and their best cell.
Bootstrap intervals resample the items (the same draw at every α, like the loss bootstrap
resamples texts) from the per-item results kept in the point files."""
from __future__ import annotations

import zlib
from typing import Any

import numpy as np

from ..outdir import OutDir
from .analysis.landscape import to_jsonable
from .uncertainty.bootstrap import percentile_interval

METRICS = ("acc", "acc_norm")
LOWER_IS_BETTER = ("perplexity", "word_perplexity", "byte_perplexity", "bits_per_byte")   # lm-eval's metrics


def _mc_tasks(results: dict) -> list[str]:
    """Tasks with accuracy in this sweep; the tasks of the swept directions first."""
    base = results["points"][int(results["base_point"])]
    own = [(results.get("task_of") or {}).get(d) for d in results["directions"]]
    return sorted((t for t, v in (base.get("tasks") or {}).items() if "mc" in v),
                  key=lambda t: (own.index(t) if t in own else len(own), t))


def _value(point: dict, task: str, metric: str) -> float | None:
    mc = ((point.get("tasks") or {}).get(task) or {}).get("mc")
    return None if mc is None else mc.get(metric)


def _best(xs: list, ys: list, metric: str = "acc", base: float | None = None) -> dict:
    """The best value (the lowest for perplexities) and where; the first of equal values. A
    best that only ties the base value is no change: x None, ``no_change`` True (a "best" at
    some α equal to α = 0's value is not a finding)."""
    pairs = [(x, y) for x, y in zip(xs, ys) if y is not None]
    if not pairs:
        return {"x": None, "y": None, "no_change": False}
    sign = -1.0 if metric in LOWER_IS_BETTER else 1.0
    x, y = max(pairs, key=lambda p: sign * p[1])
    if base is not None and sign * y <= sign * base:
        return {"x": None, "y": base, "no_change": True}
    return {"x": x, "y": y, "no_change": False}


def _lm_eval_metrics(results: dict) -> dict[str, list[str]]:
    base = results["points"][int(results["base_point"])]
    return {task: sorted(m) for task, m in (base.get("lm_eval") or {}).items()}


def accuracy_analysis(results: dict) -> dict | None:
    """Accuracy curves (line) or arrays (grid), best α or cell; None when the sweep has none."""
    tasks, lm = _mc_tasks(results), _lm_eval_metrics(results)
    if not tasks and not lm:
        return None
    points, index = results["points"], results["index"]
    base = points[int(results["base_point"])]
    series: dict[str, dict[str, Any]] = {}
    for task in tasks:
        series[f"mc:{task}"] = {"task": task, "items": base["tasks"][task]["mc"]["items"],
                                "values": {m: (lambda p, m=m, t=task: _value(p, t, m)) for m in METRICS}}
    for task, metrics in lm.items():
        series[f"lm_eval:{task}"] = {"task": task, "values": {
            m: (lambda p, m=m, t=task: ((p.get("lm_eval") or {}).get(t) or {}).get(m)) for m in metrics}}
    out: dict[str, Any] = {"kind": results["kind"], "sweep": results.get("sweep"),
                           "directions": results["directions"], "series": {}}
    if results["kind"] == "line":
        alpha = [float(a) for a in results["alpha"]]
        out["alpha"] = alpha
        for key, s in series.items():
            entry = {"task": s["task"], **({"items": s["items"]} if "items" in s else {}), "metrics": {}}
            for metric, fn in s["values"].items():
                curve = [fn(points[i]) for i in index["line"]]
                entry["metrics"][metric] = {"curve": curve, "base": fn(base), "best": _best(alpha, curve, metric, fn(base))}
            out["series"][key] = entry
    else:
        out["axes"] = results["axes"]
        flat = np.asarray(index["grid"]).ravel().tolist()
        shape = [len(a) for a in results["axes"]]
        for key, s in series.items():
            entry = {"task": s["task"], **({"items": s["items"]} if "items" in s else {}), "metrics": {}}
            for metric, fn in s["values"].items():
                values = [fn(points[i]) for i in flat]
                cells = [p["coefficients"] for p in (points[i] for i in flat)]
                best = _best(cells, values, metric)
                entry["metrics"][metric] = {"grid": np.asarray(values, dtype=object).reshape(shape).tolist(),
                                            "base": fn(base), "best": {"coefficients": best["x"], "y": best["y"]}}
            out["series"][key] = entry
    return to_jsonable(out)


def accuracy_uncertainty(out_dir: OutDir, results: dict, replicates: int, level: float, seed: int) -> dict | None:
    """Bootstrap over items of each multiple-choice curve of a line sweep: percentile intervals of
    acc and acc_norm at every α, and of the α of best accuracy. None without per-item data."""
    if results["kind"] != "line":
        return None
    out = OutDir(out_dir)
    points, line = results["points"], [int(i) for i in results["index"]["line"]]
    alpha = np.asarray(results["alpha"], dtype=float)
    found: dict[str, Any] = {}
    for task in _mc_tasks(results):
        records = [out.read_point(points[i]["id"], None) for i in line]
        mcs = [((r or {}).get("sets") or {}).get(f"task:{task}", {}).get("mc") for r in records]
        if any(m is None or "correct" not in m for m in mcs):
            continue
        rng = np.random.default_rng([int(seed), zlib.crc32(f"mc:{task}".encode())])
        n = len(mcs[0]["correct"])
        draws = rng.integers(0, n, size=(replicates, n))          # the same items at every α
        entry = {"items": n, "replicates": replicates, "level": level, "seed": seed}
        for metric, field in (("acc", "correct"), ("acc_norm", "correct_norm")):
            correct = np.asarray([m[field] for m in mcs], dtype=float)          # [α × items]
            reps = correct[:, draws].mean(axis=2).T                              # [replicates × α]
            lo, hi = percentile_interval(reps, level)
            best = alpha[np.argmax(reps, axis=1)]
            blo, bhi = percentile_interval(best, level)
            entry[metric] = {"ci": [[a, b] for a, b in zip(lo, hi)], "best_alpha_ci": [blo, bhi]}
        found[task] = entry
    return to_jsonable(found) if found else None


def chance_levels(out_dir: OutDir, results: dict) -> dict[str, float]:
    """Per multiple-choice task, the accuracy of guessing: the mean over items of 1/(number of
    choices), read from the base point's per-item log-likelihoods (one per choice). acc_norm
    picks among the same choices, so its chance level is the same. {} without point files."""
    base = results["points"][int(results["base_point"])]
    record = OutDir(out_dir).read_point(base["id"], None) if base.get("id") else None
    found = {}
    for task in _mc_tasks(results):
        lls = ((((record or {}).get("sets") or {}).get(f"task:{task}") or {}).get("mc") or {}).get("loglikelihoods")
        if lls:
            found[task] = float(np.mean([1.0 / len(ll) for ll in lls]))
    return found


def add_chance_levels(out_dir: OutDir, results: dict, acc: dict) -> None:
    """``chance`` (None where unknown) in every series of one sweep's accuracy analysis; lm-eval
    series get None (their metrics are not all accuracies)."""
    chance = chance_levels(out_dir, results)
    for key, s in acc["series"].items():
        s["chance"] = chance.get(s["task"]) if key.startswith("mc:") else None
