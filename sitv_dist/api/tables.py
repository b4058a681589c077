"""Results as one long table: a row per (sweep, point, eval set, category), the coefficients
in one column per direction (0 where a sweep does not move that direction), the loss, its
NLL sum and token count, and every score (`mc.acc`, `lm_eval.<metric>`, ...) as a column.
The JSON results stay the source of truth; this only rearranges their values."""
from __future__ import annotations

from typing import Any, Iterable

SET_KEYS = ("loss", "nll_sum", "tokens")
POINT_KEYS = {"id", "coefficients", "general", "tasks", "time_s", "round", "origin"}


def _flat(prefix: str, value: Any, row: dict) -> None:
    """Nested score entries as dotted columns (`mc` -> `mc.acc`, `mc.acc_norm`, `mc.items`)."""
    if isinstance(value, dict):
        for key, sub in value.items():
            _flat(f"{prefix}.{key}" if prefix else key, sub, row)
    else:
        row[prefix] = value


def _set_rows(common: dict, eval_set: str, entry: dict) -> Iterable[dict]:
    whole = {**common, "eval_set": eval_set, "category": "all", **{k: entry.get(k) for k in SET_KEYS}}
    for key, value in entry.items():
        if key not in SET_KEYS and key != "categories":
            _flat(key, value, whole)
    yield whole
    for category, sub in (entry.get("categories") or {}).items():
        yield {**common, "eval_set": eval_set, "category": category, **{k: sub.get(k) for k in SET_KEYS}}


def sweep_rows(results: dict, directions: list[str]) -> Iterable[dict]:
    """The rows of one results/<sweep>.json; `directions`: the coefficient columns, in order."""
    for point in results["points"]:
        coefficients = dict.fromkeys(directions, 0.0)
        coefficients.update(zip(results["directions"], point["coefficients"]))
        common = {"sweep": results["sweep"], "kind": results["kind"], "point": point["id"],
                  "round": point.get("round"), "origin": point.get("origin"), **coefficients}
        yield from _set_rows(common, "general", point["general"])
        for task, entry in point.get("tasks", {}).items():
            yield from _set_rows(common, f"task:{task}", entry)
        for key, value in point.items():          # point-level scores: lm_eval {task: {metric: value}}
            if key in POINT_KEYS:
                continue
            for task, metrics in (value.items() if isinstance(value, dict) else ()):
                row = {**common, "eval_set": f"{key}:{task}", "category": "all",
                       **dict.fromkeys(SET_KEYS)}
                _flat(key, metrics, row)
                yield row


def long_table(results: dict[str, dict]):
    """A pandas DataFrame of every sweep's rows (pandas: the `tables` extra)."""
    import pandas as pd
    directions: list[str] = []
    for res in results.values():
        directions += [d for d in res["directions"] if d not in directions]
    rows = [row for name in sorted(results) for row in sweep_rows(results[name], directions)]
    first = ["sweep", "kind", "point", "round", "origin", *directions, "eval_set", "category", *SET_KEYS]
    frame = pd.DataFrame(rows)
    return frame[[c for c in first if c in frame] + [c for c in frame if c not in first]]


def grid_array(results: dict, eval_set: str = "general", category: str = "all", value: str = "loss"):
    """An xarray DataArray of one grid sweep, one dimension per direction (xarray: the `tables` extra)."""
    import numpy as np
    import xarray as xr
    if results["kind"] != "grid":
        raise ValueError(f"{results['sweep']} is a {results['kind']} sweep; to_xarray takes a grid sweep")

    def pick(point: dict) -> float:
        entry = point["general"] if eval_set == "general" else point["tasks"].get(eval_set.removeprefix("task:"))
        if entry is not None and category != "all":
            entry = (entry.get("categories") or {}).get(category)
        got = None if entry is None else entry.get(value)
        return float("nan") if got is None else float(got)

    values = np.vectorize(lambda i: pick(results["points"][i]), otypes=[float])(np.array(results["index"]["grid"]))
    coords = {d: list(axis) for d, axis in zip(results["directions"], results["axes"])}
    return xr.DataArray(values, dims=list(results["directions"]), coords=coords, name=value,
                        attrs={"sweep": results["sweep"], "eval_set": eval_set, "category": category})
