"""Refinement rounds: after the planned sweep, add points where they pay — inside each
bracketed sign change of L(c) − L(0) and around each interior minimum — until the bracket
is narrower than the tolerance.

Every point on a line (the α grid, 2α, α + α², earlier refinements) samples the same
function of the coefficient c, so brackets are taken over all of them. A round proposes,
per bracket, its secant (regula falsi) point and its midpoint; per minimum, the parabola's
vertex through it and its neighbours and a golden-section point in the wider side. New
points join the plan (marked with their round and origin) and go through the same shards,
workers and reducer; a proposal that is already a point is never evaluated again.
"""
from __future__ import annotations

import numpy as np

from ..outdir import OutDir
from .crossings import find_crossings
from .plan import Plan, coef, point_id

GOLDEN = 0.381966011250105


def line_samples(plan: Plan, out: OutDir, direction: str, set_name: str = "general",
                 task: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(c, loss) of every evaluated point on the line of `direction`, sorted by c."""
    col = plan.directions.index(direction)
    xs, ys = [], []
    for p in plan.points:
        if any(c != 0.0 for i, c in enumerate(p.coefficients) if i != col):
            continue
        record = out.read_point(p.id, p.fingerprint)
        name = f"task:{task}" if task else set_name
        if record is None or name not in record["sets"]:
            continue
        loss = record["sets"][name]["loss"]
        xs.append(p.coefficients[col])
        ys.append(np.nan if loss is None else loss)
    order = np.argsort(xs)
    return np.asarray(xs)[order], np.asarray(ys, dtype=float)[order]


def crossing_proposals(xs: np.ndarray, ys: np.ndarray, ref: float, tol: float) -> list[float]:
    """Secant point and midpoint of every sign-change bracket wider than `tol`."""
    out = []
    for c in find_crossings(xs, ys, ref):
        (a, _), (b, _) = c["left"], c["right"]
        if c.get("exact") or b - a <= tol:
            continue
        out += [c["x"], 0.5 * (a + b)]
    return out


def minimum_proposals(xs: np.ndarray, ys: np.ndarray, tol: float) -> list[float]:
    """Around every interior local minimum of the samples, the parabola's vertex through it
    and its neighbours and a golden-section point in the wider side, until the bracket
    (the two neighbours) is narrower than 2·tol."""
    out = []
    for i in range(1, len(xs) - 1):
        (a, m, b), (fa, fm, fb) = xs[i - 1:i + 2], ys[i - 1:i + 2]
        if not (np.isfinite([fa, fm, fb]).all() and fm < fa and fm <= fb) or b - a <= 2 * tol:
            continue
        denom = (m - a) * (fm - fb) - (m - b) * (fm - fa)
        if denom != 0:
            vertex = m - 0.5 * ((m - a) ** 2 * (fm - fb) - (m - b) ** 2 * (fm - fa)) / denom
            if a < vertex < b:
                out.append(vertex)
        out.append(m + GOLDEN * (b - m) if b - m > m - a else m - GOLDEN * (m - a))
    return out


def propose(plan: Plan, out: OutDir, tol: float, task_of: dict[str, str]) -> dict[str, list[tuple[float, str]]]:
    """Per line direction: new coefficients with their origin, none of them planned yet."""
    line_dirs = [s.directions[0] for s in plan.sweeps if s.kind == "line"]
    planned = {p.id for p in plan.points}
    proposals: dict[str, list[tuple[float, str]]] = {}
    for d in line_dirs:
        wanted: list[tuple[float, str]] = []
        xs, ys = line_samples(plan, out, d)
        base = ys[xs == 0.0]
        if len(base):
            wanted += [(c, "crossing") for c in crossing_proposals(xs, ys, float(base[0]), tol)]
        wanted += [(c, "minimum") for c in minimum_proposals(xs, ys, tol)]
        if d in task_of:
            tx, ty = line_samples(plan, out, d, task=task_of[d])
            wanted += [(c, "task minimum") for c in minimum_proposals(tx, ty, tol)]
        seen, fresh = set(), []
        for c, origin in wanted:
            c = coef(c)
            pid = point_id(plan.directions, plan.line_vector(d, c))
            if pid not in planned and pid not in seen:
                seen.add(pid)
                fresh.append((c, origin))
        if fresh:
            proposals[d] = fresh
    return proposals


def add_round(plan: Plan, proposals: dict[str, list[tuple[float, str]]], round_no: int,
              sets: list[str] | None = None) -> int:
    """Append the proposals to the plan as points of round `round_no` (on `sets`, default every
    eval set); returns how many."""
    added = 0
    for d, items in proposals.items():
        for c, origin in items:
            plan.add_point(plan.line_vector(d, c), [plan.line_sweep(d)], round_no, origin, sets)
            added += 1
    return added
