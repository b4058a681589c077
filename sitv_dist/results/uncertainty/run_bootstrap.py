"""Bootstrap uncertainty of a finished sweep, read from its OUT directory: the per-text NLL
sums and token counts stored with every point, checked against the reduced results, then
resampled by :mod:`.bootstrap` (the statistics live there; this module only reads): the
curves and findings of each line (:func:`run_uncertainty`) and the intervals of its loss
barriers (:func:`add_barrier_intervals`)."""
from __future__ import annotations

import math
import zlib
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ...outdir import OutDir
from ..analysis.barrier import barrier_values, line_samples
from ..analysis.landscape import general_loss, task_loss, to_jsonable
from .bootstrap import (DEFAULT_LEVEL, DEFAULT_REPLICATES, curve_uncertainty, observed_losses, percentile_interval,
                        replicate_losses, resample_counts)

REL_TOL = 1e-9          # per-text sums must reproduce the results' losses to this relative tolerance


class Unavailable(Exception):
    """The per-text data needed for the bootstrap is not on disk (or does not match the results)."""


def _set_seed(seed: int, set_name: str) -> np.random.Generator:
    """One stream per eval set, independent of the order the sets are processed in."""
    return np.random.default_rng([int(seed), zlib.crc32(set_name.encode())])


class PointFiles:
    """Reads each point's file once, through :class:`OutDir`; checks the fingerprint the plan
    expects for the point when there is a plan (a record without a fingerprint is accepted)."""

    def __init__(self, out_dir: "Path | OutDir"):
        self.out = OutDir(out_dir)
        self.expected: dict[str, str] = {}      # point id -> the fingerprint the plan expects
        try:
            plan = self.out.read_optional(self.out.plan)
        except ValueError:      # a corrupt plan: no expectations, every record is read as it is
            plan = None
        if isinstance(plan, dict):
            self.expected = {p["id"]: p.get("fingerprint", "") for p in plan.get("points", []) if isinstance(p, dict)}
        self._cache: dict[str, dict] = {}
        self.eval_sets = self.out.read_eval_sets()

    def get(self, pid: str) -> dict:
        if pid not in self._cache:
            path = self.out.point(pid)
            rec = self.out.read_point(pid, None)
            if rec is None:
                if not path.is_file():
                    raise Unavailable(f"{path} is missing")
                raise Unavailable(f"{path} does not parse as a point record")
            if pid in self.expected and rec.get("fingerprint") not in (None, self.expected[pid]):
                raise Unavailable(f"{path} belongs to another experiment (fingerprint differs from "
                                  f"{self.out.plan.name})")
            self._cache[pid] = rec
        return self._cache[pid]

    def matrix(self, pids: Sequence[str], set_name: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """[points × texts] per-text NLL sums of one eval set, its token counts and categories."""
        if self.eval_sets is None:
            raise Unavailable(f"{self.out.eval_sets} is missing")
        info = self.eval_sets.get(set_name)
        if info is None or "tokens" not in info:
            raise Unavailable(f"{self.out.eval_sets.name} has no per-text token counts for {set_name!r}")
        tokens = np.asarray(info["tokens"], dtype=float)
        rows = []
        for pid in pids:
            entry = (self.get(pid).get("sets") or {}).get(set_name) or {}
            per = entry.get("per_text_nll")
            if per is None:
                raise Unavailable(f"point {pid} has no per_text_nll for {set_name!r}")
            if len(per) != len(tokens):
                raise Unavailable(f"point {pid}: {len(per)} per-text NLLs for {len(tokens)} texts of {set_name!r}")
            rows.append([np.nan if v is None else float(v) for v in per])
        cats = list(info.get("categories") or ["all"] * len(tokens))
        return np.asarray(rows, dtype=float).reshape(len(pids), len(tokens)), tokens, cats


def _check_agrees(observed: np.ndarray, expected: Sequence[Any], what: str) -> None:
    for o, e in zip(observed, expected):
        if e is None:
            if math.isfinite(o):
                raise Unavailable(f"{what}: per-text sums give {o!r} where the results have a non-finite loss")
        elif not (math.isfinite(o) and abs(o - float(e)) <= REL_TOL * max(1.0, abs(float(e)))):
            raise Unavailable(f"{what}: per-text sums give {o!r}, the results {e!r}")


def sweep_uncertainty(out_dir: Path, results: dict, replicates: int = DEFAULT_REPLICATES,
                      level: float = DEFAULT_LEVEL, seed: int = 0, stratify: bool = True,
                      max_distance: float | None = None, points: PointFiles | None = None,
                      line_index: str = "auto") -> dict:
    """Paired bootstrap of one line sweep from the per-point files of ``out_dir``.

    General loss: the line ``L(α)``, and the squaring/compositional curves when planned (all
    from the same draws, so their crossings of L(0) are resampled coherently). Task loss (the
    task of the swept direction): intervals and arg-min, no crossings (the analysis reports
    none). The observed values are the results' own losses; the per-text sums must reproduce
    them or the bootstrap is reported unavailable. Returns ``{"available": False, "reason"}``
    when the data are not on disk.

    ``line_index`` picks the samples of L: "line" (the planned α grid), "all" (every evaluated
    point on the line, refinement points included, sorted by coefficient; the x's are then the
    points' coefficients) or "auto" ("all" where the results have it: the samples the analysis
    takes its findings from). The task curve stays on "line".
    """
    if results.get("kind") != "line":
        return {"available": False, "reason": "only line sweeps are bootstrapped"}
    points = points or PointFiles(out_dir)
    pts, index = results["points"], results["index"]
    alpha = [float(a) for a in results["alpha"]]
    bp = int(results["base_point"])
    direction = results["directions"][0]
    task = (results.get("task_of") or {}).get(direction)
    if line_index == "auto":
        line_index = "all" if index.get("all") else "line"
    if line_index not in ("line", "all") or index.get(line_index) is None:
        return {"available": False, "reason": f"no index {line_index!r} in the results"}
    out: dict[str, Any] = {"available": True, "replicates": int(replicates), "level": float(level),
                           "seed": int(seed), "stratified": bool(stratify), "max_distance": max_distance,
                           "line_index": line_index}
    try:
        keys = ("line", "squaring", "compositional", line_index)
        used = sorted({int(i) for key in keys for i in (index.get(key) or [])} | {bp})
        col = {p: j for j, p in enumerate(used)}
        nll, tokens, cats = points.matrix([pts[p]["id"] for p in used], "general")
        _check_agrees(observed_losses(nll, tokens), [general_loss(pts[p]) for p in used], f"{results['sweep']} general")
        strata = cats if stratify else None
        counts = resample_counts(nll.shape[1], replicates, _set_seed(seed, "general"), strata)
        reps = replicate_losses(nll, tokens, counts)
        base, ref_reps = general_loss(pts[bp]), reps[:, col[bp]]
        gen: dict[str, Any] = {"texts": int(nll.shape[1])}
        for key, excl, label in (("line", (0.0,), "L(α)"), ("squaring", (0.0,), "L(2α)"),
                                 ("compositional", (0.0, -1.0), "L(α+α²)")):
            idx = index.get(line_index if key == "line" else key)
            if idx is None:
                gen[key] = None
                continue
            xs = (alpha if key != "line" or line_index == "line"
                  else [float(pts[int(i)]["coefficients"][0]) for i in idx])
            cols = [col[int(i)] for i in idx]
            gen[key] = curve_uncertainty(xs, [general_loss(pts[int(i)]) for i in idx], base, reps[:, cols],
                                         ref_reps, level, max_distance, excl, label=label)
        out["general"] = gen
        out["task"] = None
        if task:
            name = f"task:{task}"
            line = [int(i) for i in index["line"]]
            try:
                tn, tt, tc = points.matrix([pts[p]["id"] for p in line + [bp]], name)
            except Unavailable as exc:
                out["task_reason"] = str(exc)
            else:
                _check_agrees(observed_losses(tn, tt), [task_loss(pts[p], task) for p in line + [bp]],
                              f"{results['sweep']} {name}")
                tcounts = resample_counts(tn.shape[1], replicates, _set_seed(seed, name),
                                          tc if stratify else None)
                treps = replicate_losses(tn, tt, tcounts)
                out["task"] = curve_uncertainty(alpha, [task_loss(pts[p], task) for p in line],
                                                task_loss(pts[bp], task), treps[:, :-1], treps[:, -1],
                                                level, max_distance, crossings=False, label="task loss")
                out["task"].update(task=task, texts=int(tn.shape[1]))
    except Unavailable as exc:
        return {"available": False, "reason": str(exc)}
    return to_jsonable(out)


def run_uncertainty(out_dir: Path, results: dict[str, dict], replicates: int = DEFAULT_REPLICATES,
                    level: float = DEFAULT_LEVEL, seed: int = 0, stratify: bool = True,
                    max_distance: float | None = None) -> dict[str, dict]:
    """:func:`sweep_uncertainty` for every line sweep of a run; {} when there are no per-point files."""
    out = OutDir(out_dir)
    if not out.points_dir.is_dir() or not out.eval_sets.is_file():
        return {}
    points = PointFiles(out)
    return {name: sweep_uncertainty(out, res, replicates, level, seed, stratify, max_distance, points)
            for name, res in results.items() if res.get("kind") == "line"}


# ----------------------------------------------------------------------------- barriers
# Bootstrap intervals of loss barriers (:mod:`..analysis.barrier`) over eval texts, from the per-point
# files: every replicate redraws the texts of an eval set once (within categories, with the same
# per-set seed as the line bootstrap of :func:`sweep_uncertainty`) and recomputes the barrier from the
# same draw at every sampled α, so L(α), L(0) and L(1) move together (a paired bootstrap).
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
