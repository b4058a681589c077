"""Plan an experiment as a set of unique coefficient points.

`2α` and `α + α²` are coefficients on the same line as `α`, and a grid axis coincides
with line points of that direction, so the planner collects every point every curve
needs, evaluates each unique point once, and records which curves use it.
"""
from __future__ import annotations

import hashlib
import itertools
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from ..config import ConfigError, ExperimentConfig
from ..outdir import OutDir
from ..vectors.ops.ops_registry import merge_sweep_specs
from .fingerprint import experiment_fingerprint, point_fingerprint

DECIMALS = 10   # coefficients are rounded so that 2·0.35 and 0.7 are the same point
SEARCH = "search"   # the sweep name of the coefficient search's points (sitv_dist.stages.search)


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
    merge: dict = field(default_factory=dict)              # a line of a merge sweep: {sweep, op, of, density}

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
    for m in s.merge_sweeps:         # one line per density (the curves L(α) at that density)
        for (d, spec), density in zip(merge_sweep_specs(m).items(), m.densities()):
            out.append(Sweep(f"line_{d}", "line", [d], axis(m.alpha.start, m.alpha.stop, m.alpha.num),
                             merge={"sweep": m.sweep_name(), "op": m.op, "of": list(m.of), "density": density,
                                    "spec": spec}))
    return out


def requested_count(cfg: ExperimentConfig) -> dict[str, int]:
    """Evaluations each sweep asks for, counted from the config without enumerating a point (a
    grid of num=100000 must be refused before its product is built)."""
    s = cfg.sweep
    per_line = s.alpha.num * (1 + s.squaring + s.compositional)
    counts = {f"line_{d}": per_line for d in s.directions}
    for i, g in enumerate(s.grids):
        counts[g.name or f"sweep.grids.{i}"] = g.range.num ** len(g.directions)
    return counts


def check_size(cfg: ExperimentConfig, confirmed: bool) -> int:
    """At most sweep.max_points evaluations unless `confirmed` (`--confirm-large`)."""
    counts = requested_count(cfg)
    total = sum(counts.values()) + 1
    if total > cfg.sweep.max_points and not confirmed:
        biggest = max(counts, key=counts.get)
        raise ConfigError(f"sweep: this config asks for up to {total:,} point evaluations ({biggest}: "
                          f"{counts[biggest]:,}), above sweep.max_points={cfg.sweep.max_points:,}; check the "
                          "`num` settings, or pass --confirm-large (or raise sweep.max_points) to run it")
    return total


def eval_set_names(cfg: ExperimentConfig) -> list[str]:
    return ["general"] + [f"task:{t.name}" for t in cfg.tasks]


@dataclass
class PlannedPoint:
    """One unique coefficient vector (over `Plan.directions`), the eval sets it needs, its
    shard, the sweeps that use it, and for refinement points their round and origin."""
    id: str
    coefficients: list[float]
    sets: list[str]
    shard: int
    sweeps: list[str]
    round: int = 0
    origin: str = "planned"
    fingerprint: str = ""        # what its losses depend on (sitv_dist.sweep.fingerprint); "" matches nothing

    def to_json(self) -> dict:
        out = {"id": self.id, "coefficients": self.coefficients, "sets": self.sets, "shard": self.shard,
               "sweeps": self.sweeps, "fingerprint": self.fingerprint}
        if self.round:
            out.update(round=self.round, origin=self.origin)
        return out


@dataclass
class Plan:
    """Every unique point of an experiment and how they are dealt out to shards (OUT/plan.json),
    with the content digests of its inputs (`inputs`) to tell what changed between runs."""
    inputs: dict
    directions: list[str]
    eval_sets: list[str]
    num_shards: int
    requested_evaluations: int
    unique_points: int
    points: list[PlannedPoint]
    sweeps: list[Sweep]
    refined_points: int | None = None       # counted once refinement rounds touch the plan
    searched: bool = False                  # sweep.search is configured: its points are kept


    SCHEMA = "sitv-dist/plan/2"

    @property
    def fingerprint(self) -> str:
        return experiment_fingerprint(self.inputs)

    def point_fingerprint(self, vector: list[float], sets: list[str]) -> str:
        return point_fingerprint(self.inputs, self.directions, vector, sets)

    def to_json(self) -> dict:
        out = {"schema": self.SCHEMA, "fingerprint": self.fingerprint, "inputs": self.inputs,
               "directions": self.directions,
               "eval_sets": self.eval_sets, "num_shards": self.num_shards,
               "requested_evaluations": self.requested_evaluations, "unique_points": self.unique_points,
               "points": [p.to_json() for p in self.points], "sweeps": [asdict(s) for s in self.sweeps]}
        if self.refined_points is not None:
            out["refined_points"] = self.refined_points
        if self.searched:
            out["searched"] = True
        return out

    @classmethod
    def from_json(cls, data: dict) -> "Plan":
        # a plan of schema 1 has no inputs: nothing of it is comparable or reusable
        return cls(data.get("inputs") or {}, data["directions"], data["eval_sets"], data["num_shards"],
                   data["requested_evaluations"], data["unique_points"],
                   [PlannedPoint(**p) for p in data["points"]], [Sweep(**s) for s in data["sweeps"]],
                   data.get("refined_points"), data.get("searched", False))

    def shard_points(self, shard: int) -> list[PlannedPoint]:
        return [p for p in self.points if p.shard == shard]

    def by_id(self) -> dict[str, PlannedPoint]:
        return {p.id: p for p in self.points}

    def coefficients(self, point: PlannedPoint) -> dict[str, float]:
        """A point's coefficients by direction name."""
        return dict(zip(self.directions, point.coefficients))

    def line_vector(self, direction: str, c: float) -> list[float]:
        """The coefficient vector of coefficient `c` on the line of `direction`."""
        return [c if name == direction else 0.0 for name in self.directions]

    def line_sweep(self, direction: str) -> str:
        return next(s.name for s in self.sweeps if s.kind == "line" and s.directions[0] == direction)

    def add_point(self, vector: list[float], sweeps: list[str], round: int, origin: str,
                  sets: list[str] | None = None) -> PlannedPoint:
        """Append a refinement point (on `sets`, default every eval set), dealt to the next shard
        round-robin."""
        sets = [s for s in self.eval_sets if sets is None or s in sets]
        point = PlannedPoint(point_id(self.directions, vector), vector, sets,
                             len(self.points) % self.num_shards, sweeps, round, origin,
                             self.point_fingerprint(vector, sets))
        self.points.append(point)
        self.count_refined()
        return point

    def count_refined(self) -> None:
        self.refined_points = sum(bool(p.round) and p.origin != SEARCH for p in self.points)

    def last_round(self) -> int:
        """The last refinement round (search batches are numbered apart)."""
        return max([p.round for p in self.points if p.origin != SEARCH] or [0])

    def keep_refinements(self, old: "Plan") -> None:
        """Points added by earlier refinement rounds stay in the plan (with this plan's direction
        order and eval sets) while the sweeps they refine are still in it."""
        ids = {p.id for p in self.points}
        names = {s.name for s in self.sweeps} | ({SEARCH} if self.searched else set())
        for p in old.points:
            moved = {d for d, c in zip(old.directions, p.coefficients) if c != 0.0}
            if p.round and p.id not in ids and set(p.sweeps) <= names and moved <= set(self.directions):
                vector = [dict(zip(old.directions, p.coefficients)).get(d, 0.0) for d in self.directions]
                sets = [s for s in self.eval_sets if s in p.sets] or list(self.eval_sets)
                self.points.append(replace(p, coefficients=vector, sets=sets, shard=len(self.points) % self.num_shards,
                                           fingerprint=self.point_fingerprint(vector, sets)))
                ids.add(p.id)
        self.count_refined()

    def reshard(self, num_shards: int) -> "Plan":
        """The same points over another number of shards (ids, and so results, are unchanged)."""
        return replace(self, num_shards=num_shards,
                       points=[replace(p, shard=i % num_shards) for i, p in enumerate(self.points)])


def make_plan(cfg: ExperimentConfig, inputs: dict | None, min_shards: int = 1,
              parts: list[str] = ()) -> Plan:
    """Unique points with the eval sets each needs, assigned round-robin to at least
    `min_shards` shards (one per worker of the launch). `inputs` None: a plan to count with
    (the memory plan), whose points match no result. `parts`: the search's per-layer (or
    per-group) directions, columns of the plan that only search points move."""
    directions = cfg.direction_names() + [p for p in parts if p not in cfg.direction_names()]
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
    planned = []
    for i, v in enumerate(ordered):
        sets = [s for s in all_sets if s in points[v]["sets"]]
        planned.append(PlannedPoint(point_id(directions, list(v)), list(v), sets, i % n, sorted(points[v]["sweeps"]),
                                    fingerprint=point_fingerprint(inputs, directions, list(v), sets) if inputs else ""))
    return Plan(inputs or {}, directions, all_sets, n, requested, len(ordered), planned, sweeps,
                searched=bool(cfg.sweep.search.directions))


def load_plan(out: OutDir | str) -> Plan:
    """The plan in OUT/plan.json."""
    return Plan.from_json(OutDir(out).read_plan())
