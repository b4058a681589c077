"""The line/grid sweeps' best point by the search's own rule (lowest objective on the search
half), among the points that move only the searched directions: the comparison the report makes,
and the search's warm start (every part of a direction at that direction's coefficient)."""
from __future__ import annotations

import math

from ...outdir import OutDir
from ..plan import Plan
from .objective import Objective
from ...vectors.ops import layer_split


def candidates(plan: Plan, sources: list[str]) -> list:
    """Points of the line and grid sweeps that move only `sources` (the base included)."""
    names = {s.name for s in plan.sweeps}
    return [p for p in plan.points if names & set(p.sweeps)
            and {d for d, c in zip(plan.directions, p.coefficients) if c != 0.0} <= set(sources)]


def best(out: OutDir, plan: Plan, sources: list[str], objective: Objective):
    """(point, record) of the lowest search-half objective among `candidates`, or None."""
    found = None
    for p in candidates(plan, sources):
        if not set(objective.sets) <= set(p.sets):
            continue
        record = out.read_point(p.id, p.fingerprint)
        if record is None:
            continue
        y = objective.value(record, "search")
        if math.isfinite(y) and (found is None or y < found[0]):
            found = (y, p, record)
    return None if found is None else found[1:]


def start(plan: Plan, point, coords: list[str]) -> list[float]:
    """The search coordinates of a sweep point: each part at its direction's coefficient."""
    by_direction = plan.coefficients(point)
    out = []
    for name in coords:
        parsed = layer_split.split_name(name)
        out.append(by_direction.get(parsed[0] if parsed else name, 0.0))
    return out
