"""Merge per-point files into one results file per sweep (schema: docs/layout.md).

Each sweep lists its unique points once, with index lists mapping every curve (line,
squaring, compositional, grid) onto them, so no point is ever counted twice. A sweep with
missing points is not written; the missing points are listed instead. What a point's scores
contribute (losses, accuracy, lm-eval metrics) each score says (`sweep.scores.scores_registry`)."""
from __future__ import annotations

from pathlib import Path

from ..outdir import OutDir, OutDirError
from ..results_inputs import inputs, sweep_points
from .plan import Plan, PlannedPoint, Sweep, coef, load_plan
from .scores.scores_registry import reduce_point, reduce_set


class MissingPoints(RuntimeError):
    def __init__(self, missing: dict[str, list[PlannedPoint]], written: list[Path]):
        self.missing, self.written = missing, written
        lines = []
        for sweep, points in missing.items():
            shown = ", ".join(f"{p.id} {p.coefficients} (shard {p.shard})" for p in points[:10])
            more = f" and {len(points) - 10} more" if len(points) > 10 else ""
            lines.append(f"sweep {sweep}: {len(points)} point(s) missing: {shown}{more}")
        super().__init__("incomplete results; rerun the sweep to evaluate them:\n  " + "\n  ".join(lines))


def sweep_results(plan: Plan, sweep: Sweep, records: dict[str, dict], eval_sets: dict) -> dict:
    """The results dict of one sweep from the point records it needs (all present)."""
    directions = plan.directions
    cols = [directions.index(d) for d in sweep.directions]
    by_vector = {tuple(p.coefficients): p for p in plan.points}
    zero = [0.0] * len(directions)

    def plan_point(local: tuple[float, ...]) -> PlannedPoint:
        vector = list(zero)
        for c, value in zip(cols, local):
            vector[c] = coef(value)
        return by_vector[tuple(vector)]

    order: list[str] = []
    position: dict[str, int] = {}

    def index_of(local: tuple[float, ...]) -> int:
        pid = plan_point(local).id
        if pid not in position:
            position[pid] = len(order)
            order.append(pid)
        return position[pid]

    index: dict = {}
    for curve, coords in sweep.curves().items():
        flat = [index_of(c) for c in coords]
        if curve == "grid":
            for n in reversed([len(a) for a in sweep.axes[1:]]):
                flat = [flat[i:i + n] for i in range(0, len(flat), n)]
        index[curve] = flat
    base = index_of(tuple(0.0 for _ in cols))
    if sweep.kind == "line":
        # every evaluated point on this line samples the same function of the coefficient
        on_line = [p for p in plan.points if sweep.name in p.sweeps]
        index["refined"] = [index_of((p.coefficients[cols[0]],)) for p in on_line if p.round]
        index["all"] = sorted({index_of((p.coefficients[cols[0]],)) for p in on_line},
                              key=lambda i: records[order[i]]["coefficients"][sweep.directions[0]])
    rounds = {p.id: (p.round, p.origin) for p in plan.points}
    points = []
    for pid in order:
        record = records[pid]
        tasks = {name[5:]: reduce_set(v) for name, v in record["sets"].items() if name.startswith("task:")}
        points.append(reduce_point(record, {
            "id": pid, "coefficients": [record["coefficients"][d] for d in sweep.directions],
            "general": reduce_set(record["sets"]["general"]), "tasks": tasks,
            "time_s": record["time_s"], "round": rounds[pid][0], "origin": rounds[pid][1]}))
    result = {"schema": "sitv-dist/results/1", "sweep": sweep.name, "kind": sweep.kind,
              "directions": sweep.directions,
              "task_of": {d: d for d in sweep.directions if f"task:{d}" in plan.eval_sets}}
    if sweep.merge:
        result["merge"] = sweep.merge
    if sweep.kind == "line":
        result["alpha"] = sweep.alpha
    else:
        result["axes"] = sweep.axes
    result.update({"index": index, "base_loss": points[base]["general"]["loss"], "base_point": base,
                   "eval_sets": {name: {"texts": info["texts"], "tokens": int(sum(info["tokens"])),
                                        **({"categories": sorted(set(info["categories"]))} if name == "general" else {})}
                                 for name, info in eval_sets.items()},
                   "points": points})
    return result


def read_records(out: OutDir, plan: Plan) -> tuple[dict[str, dict], set[str]]:
    """The complete point records on disk, and the ids of planned points that are missing."""
    records, missing = {}, set()
    for p in plan.points:
        record = out.read_point(p.id, p.fingerprint)
        if record is None or not all(s in record["sets"] for s in p.sets):
            missing.add(p.id)
        else:
            records[p.id] = record
    return records, missing


def reduce(out_dir: OutDir | Path) -> list[Path]:
    """Write OUT/results/<sweep>.json for every complete sweep; raise MissingPoints otherwise."""
    out = OutDir(out_dir)
    plan = load_plan(out)
    raw = plan.to_json()
    read_from = {s.name: inputs(out.points_dir, sweep_points(raw, s.name)) for s in plan.sweeps}  # stat, then read
    records, missing_ids = read_records(out, plan)
    eval_sets = out.read_eval_sets() if records else {}
    if eval_sets is None:
        raise OutDirError(f"{out.eval_sets} does not exist (workers write it); run `sitv sweep` for this "
                          "out_dir again: it rewrites the file without re-evaluating finished points")
    written, missing = [], {}
    for sweep in plan.sweeps:
        lost = [p for p in plan.points if sweep.name in p.sweeps and p.id in missing_ids]
        if lost:
            missing[sweep.name] = lost
            continue
        written.append(out.write_results(sweep.name, sweep_results(plan, sweep, records, eval_sets),
                                         read_from[sweep.name]))
    if missing:
        raise MissingPoints(missing, written)
    return written


def status(out_dir: OutDir | Path) -> dict:
    """Done / missing points per shard (and failures recorded by workers)."""
    out = OutDir(out_dir)
    plan = load_plan(out)
    shards = {s: {"done": 0, "missing": 0, "failed": 0} for s in range(plan.num_shards)}
    failures = out.failed_ids()
    done = out.done_ids(plan)        # the done-index: no point file parsed that it covers
    for p in plan.points:
        ok = p.id in done
        shards[p.shard]["done" if ok else "missing"] += 1
        shards[p.shard]["failed"] += (not ok and p.id in failures)
    counts = out.evaluation_counts()
    out_status = {"points": len(plan.points), "done": sum(s["done"] for s in shards.values()),
                  "evaluations": sum(counts.values()), "recomputed": sum(c - 1 for c in counts.values() if c > 1),
                  "shards": shards}
    search = out.read_optional(out.search_state) if out.search_state.is_file() else None
    if search:
        out_status["search"] = {"told": len(search["history"]), "budget": search["budget"],
                                "complete": search["complete"], "split": search["split"]}
    return out_status
