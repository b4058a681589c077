"""Slope and curvature in the analysis: from the per-text values of OUT/derivatives.json (see
:mod:`sitv_dist.stages.derivatives`) to each line sweep's ``derivatives`` entry, with paired
bootstrap intervals over eval texts (the same seeded draws per eval set as the losses'
bootstrap in :mod:`.run_bootstrap`), the quadratic's predicted minimum −g/h and return −2g/h,
the same numbers for the random controls, and each two-direction grid's gradient and 2×2
Hessian block."""
from __future__ import annotations

from typing import Any

import numpy as np

from ...outdir import OutDir
from ...sweep.derivative_jobs import SCHEMA, jobs
from ...sweep.plan import Plan
from ..analysis.landscape import to_jsonable
from .bootstrap import percentile_interval, resample_counts
from .run_bootstrap import _set_seed


def set_derivatives(per_text: dict[str, np.ndarray], tokens: np.ndarray) -> dict[str, np.ndarray]:
    """The token-weighted mean's loss, gradient and Hessian block from per-text values."""
    total = float(np.asarray(tokens, dtype=float).sum())
    return {"loss": per_text["nll"].sum() / total, "grad": per_text["grad"].sum(axis=0) / total,
            "hess": per_text["hess"].sum(axis=0) / total}


def replicate_derivatives(per_text: dict[str, np.ndarray], tokens: np.ndarray,
                          counts: np.ndarray) -> dict[str, np.ndarray]:
    """Gradient [replicates × k] and Hessian [replicates × k × k] of the loss in every bootstrap
    replicate (``counts``: how often each text is drawn, as ``results.uncertainty.bootstrap.resample_counts``)."""
    w = counts.astype(float)
    denom = w @ np.asarray(tokens, dtype=float)
    k = per_text["grad"].shape[1]
    grad = (w @ per_text["grad"]) / denom[:, None]
    hess = (w @ per_text["hess"].reshape(len(tokens), k * k)).reshape(-1, k, k) / denom[:, None, None]
    return {"grad": grad, "hess": hess}


def quadratic(slope: float, curvature: float) -> dict[str, float | None]:
    """Where the quadratic L(0) + g·α + h·α²/2 has its minimum (−g/h, only when h > 0) and
    comes back to L(0) (−2g/h, whenever h ≠ 0 and g ≠ 0)."""
    g, h = float(slope), float(curvature)
    return {"predicted_min": -g / h if h > 0 else None,
            "predicted_return": -2 * g / h if h != 0 and g != 0 else None}


def stationary_min(full: dict) -> list[float] | None:
    """The quadratic model's minimum −H⁻¹g of a grid (None unless H is positive definite)."""
    g, h = np.asarray(full["gradient"], dtype=float), np.asarray(full["hessian"], dtype=float)
    if not (np.all(np.isfinite(h)) and np.all(np.isfinite(g))) or np.linalg.eigvalsh(h).min() <= 0:
        return None
    return (-np.linalg.solve(h, g)).tolist()


def _arrays(entry: dict) -> dict[str, np.ndarray]:
    return {"nll": np.asarray(entry["nll"], dtype=float), "grad": np.asarray(entry["grad"], dtype=float),
            "hess": np.asarray(entry["hess"], dtype=float)}


def _draws(set_name: str, entry: dict, replicates: int, seed: int) -> np.ndarray:
    cats = entry.get("categories")
    strata = cats if cats and len(set(cats)) > 1 else None
    return resample_counts(len(entry["tokens"]), replicates, _set_seed(seed, set_name), strata)


def _ci(samples: np.ndarray, level: float) -> Any:
    lo, hi = percentile_interval(samples, level, axis=0)
    return np.stack([lo, hi], axis=-1).tolist()


def set_entry(set_name: str, entry: dict, replicates: int, level: float, seed: int) -> dict:
    """One eval set's loss, gradient and Hessian (k directions) with percentile intervals."""
    per_text, tokens = _arrays(entry), np.asarray(entry["tokens"], dtype=float)
    obs = set_derivatives(per_text, tokens)
    out = {"loss": float(obs["loss"]), "gradient": obs["grad"].tolist(), "hessian": obs["hess"].tolist()}
    if replicates > 0:
        reps = replicate_derivatives(per_text, tokens, _draws(set_name, entry, replicates, seed))
        out["gradient_interval"] = _ci(reps["grad"], level)
        out["hessian_interval"] = _ci(reps["hess"], level)
    return out


def line_entry(full: dict) -> dict:
    """The one-direction view: slope, curvature, their intervals, the quadratic's predictions."""
    g, h = full["gradient"][0], full["hessian"][0][0]
    out = {"slope": g, "curvature": h, "slope_interval": (full.get("gradient_interval") or [None])[0],
           "curvature_interval": (full.get("hessian_interval") or [[None]])[0][0], "loss": full["loss"]}
    return out | quadratic(g, h)


def _beyond(t: dict, controls: list[dict], key: str) -> bool | None:
    """T's interval lies outside every control's interval (None without intervals or controls)."""
    ci = t.get(f"{key}_interval")
    cis = [c.get(f"{key}_interval") for c in controls]
    if not ci or not cis or any(c is None for c in cis):
        return None
    return all(ci[0] > c[1] or ci[1] < c[0] for c in cis)


def add_derivatives(out: OutDir, an: dict, replicates: int = 1000, level: float = 0.95, seed: int = 0) -> None:
    """Put each sweep's derivatives into the analysis ``an`` (in place) when the file exists."""
    out = OutDir(out)
    data, plan = out.read_optional(out.derivatives), out.read_optional(out.plan)
    if not data or not plan or data.get("schema") != SCHEMA:
        return
    entries = data.get("entries", {})
    current = {j["key"]: j["fingerprint"] for j in jobs(Plan.from_json(plan), len(entries))}
    stale = sorted(k for k, e in entries.items() if current.get(k) != e.get("fingerprint"))
    if stale:       # computed for other inputs (a changed direction, model or eval set): not shown
        an["derivatives_stale"] = stale
    sweeps = an.get("sweeps", {})
    for key, e in entries.items():
        sweep = sweeps.get(e["sweep"])
        if sweep is None or key in stale:
            continue
        full = {name: set_entry(name, s, replicates, level, seed) for name, s in e["sets"].items()}
        if sweep["kind"] == "line":
            view = {name: line_entry(f) for name, f in full.items()}
            if e["control"] is None:
                sweep["derivatives"] = view
            else:
                sweep.setdefault("derivative_controls", []).append(
                    {"seed": e["control"]["seed"], "normalize": e["control"]["normalize"], "sets": view})
        else:
            # gradient and Hessian in the order of the grid's own "directions"
            sweep["derivatives"] = {name: {k: f[k] for k in f if k != "loss"} | {"predicted_min": stationary_min(f)}
                                    for name, f in full.items()}
    for sweep in sweeps.values():
        d, controls = sweep.get("derivatives"), sweep.get("derivative_controls")
        if sweep["kind"] == "line" and d and controls:
            for name, t in d.items():
                c = [x["sets"][name] for x in controls if name in x["sets"]]
                t["slope_beyond_controls"] = _beyond(t, c, "slope")
                t["curvature_beyond_controls"] = _beyond(t, c, "curvature")
    an["sweeps"] = to_jsonable(sweeps)
