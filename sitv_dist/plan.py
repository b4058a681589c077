"""Plan an experiment as a set of unique coefficient points.

`2α` and `α + α²` are coefficients on the same line as `α`, and a grid axis coincides
with line points of that direction, so the planner collects every point every curve
needs, evaluates each unique point once, and records which curves use it.
"""
from __future__ import annotations

import hashlib
import itertools
from dataclasses import asdict, dataclass, field

import numpy as np

from .config import ExperimentConfig

DECIMALS = 10   # coefficients are rounded so that 2·0.35 and 0.7 are the same point


def coef(x: float) -> float:
    """Canonical coefficient: rounded, and -0.0 folded into 0.0."""
    return round(float(x), DECIMALS) + 0.0


def axis(start: float, stop: float, num: int) -> list[float]:
    return [coef(x) for x in np.linspace(start, stop, num)]


def point_id(directions: list[str], coefficients: list[float]) -> str:
    """Depends only on the non-zero (direction, coefficient) pairs: survives re-sharding and
    adding directions to an experiment."""
    key = ";".join(f"{d}={c!r}" for d, c in sorted(zip(directions, coefficients)) if c != 0.0)
    return "p" + hashlib.sha256(key.encode()).hexdigest()[:16]


@dataclass
class Sweep:
    name: str
    kind: str                                  # "line" | "grid"
    directions: list[str]
    alpha: list[float] = field(default_factory=list)       # line
    squaring: bool = False
    compositional: bool = False
    axes: list[list[float]] = field(default_factory=list)  # grid

    def curves(self) -> dict[str, list[tuple[float, ...]]]:
        """Each curve as the list of coefficient tuples (over self.directions) it needs."""
        if self.kind == "line":
            out = {"line": [(a,) for a in self.alpha]}
            if self.squaring:
                out["squaring"] = [(coef(2 * a),) for a in self.alpha]
            if self.compositional:
                out["compositional"] = [(coef(a + a * a),) for a in self.alpha]
            return out
        return {"grid": list(itertools.product(*self.axes))}


def sweeps_from_config(cfg: ExperimentConfig) -> list[Sweep]:
    s = cfg.sweep
    out = [Sweep(f"line_{d}", "line", [d], axis(s.alpha.start, s.alpha.stop, s.alpha.num),
                 s.squaring, s.compositional) for d in s.directions]
    for g in s.grids:
        name = g.name or "grid_" + "__".join(g.directions)
        out.append(Sweep(name, "grid", list(g.directions),
                         axes=[axis(g.range.start, g.range.stop, g.range.num) for _ in g.directions]))
    return out


def eval_set_names(cfg: ExperimentConfig) -> list[str]:
    return ["general"] + [f"task:{t.name}" for t in cfg.tasks]


def make_plan(cfg: ExperimentConfig, fingerprint: str, min_shards: int = 1) -> dict:
    """Unique points with the eval sets each needs, assigned round-robin to at least
    `min_shards` shards (one per worker of the launch)."""
    directions = cfg.direction_names()
    all_sets = eval_set_names(cfg)
    derived_sets = all_sets if cfg.sweep.derived_sets == "all" else ["general"]
    points: dict[tuple[float, ...], dict] = {}
    requested = 0

    def need(vector: tuple[float, ...], sets: list[str], sweep: str) -> None:
        entry = points.setdefault(vector, {"sets": set(), "sweeps": set()})
        entry["sets"].update(sets)
        entry["sweeps"].add(sweep)

    sweeps = sweeps_from_config(cfg)
    zero = tuple(0.0 for _ in directions)
    for sweep in sweeps:
        cols = [directions.index(d) for d in sweep.directions]
        for curve, coords in sweep.curves().items():
            sets = all_sets if curve in ("line", "grid") else derived_sets
            for local in coords:
                vector = list(zero)
                for c, value in zip(cols, local):
                    vector[c] = value
                need(tuple(vector), sets, sweep.name)
                requested += 1
        need(zero, all_sets, sweep.name)      # the base loss is the all-zero point, always
    ordered = sorted(points)
    n = max(cfg.sweep.num_shards, min_shards)
    return {
        "schema": "sitv-dist/plan/1",
        "fingerprint": fingerprint,
        "directions": directions,
        "eval_sets": all_sets,
        "num_shards": n,
        "requested_evaluations": requested,
        "unique_points": len(ordered),
        "points": [{"id": point_id(directions, list(v)), "coefficients": list(v),
                    "sets": [s for s in all_sets if s in points[v]["sets"]],
                    "shard": i % n, "sweeps": sorted(points[v]["sweeps"])}
                   for i, v in enumerate(ordered)],
        "sweeps": [asdict(s) for s in sweeps],
    }


def shard_points(plan: dict, shard: int) -> list[dict]:
    return [p for p in plan["points"] if p["shard"] == shard]


def reshard(plan: dict, num_shards: int) -> dict:
    """The same points over another number of shards (ids, and so results, are unchanged)."""
    plan = dict(plan, num_shards=num_shards)
    plan["points"] = [dict(p, shard=i % num_shards) for i, p in enumerate(plan["points"])]
    return plan
