"""What the derivatives step computes and the fingerprint of each entry (no torch here: the
report checks these fingerprints against the plan so that it never shows stale derivatives).

An entry is valid while its fingerprint holds: the digest the plan gives the point α = 1 on its
line (the base, the direction, the eval sets: `sweep.fingerprint.point_fingerprint`) plus what
the entry adds (which control, at which point, on which sets)."""
from __future__ import annotations

import hashlib
import json

from .fingerprint import point_fingerprint

SCHEMA = "sitv-dist/derivatives/1"
CONTROLS = 2            # random directions per line: enough to see whether T stands out, cheap


def jobs(plan, controls: int = CONTROLS) -> list[dict]:
    """What to differentiate: each line's direction and its `controls` random directions (seeds
    1..controls, scaled to ‖T‖), and each two-direction grid's pair; with fingerprints."""
    out = []
    for s in plan.sweeps:
        if s.kind == "line":
            unit = point_fingerprint(plan.inputs, plan.directions, plan.line_vector(s.directions[0], 1.0),
                                     plan.eval_sets)
            out.append({"key": s.name, "sweep": s.name, "directions": list(s.directions), "control": None,
                        "base": unit, "sets": list(plan.eval_sets)})
            # controls on the general set and the direction's own task set only: what "is T special?" asks
            own = [x for x in plan.eval_sets if x in ("general", f"task:{s.directions[0]}")]
            out += [{"key": f"{s.name}/random{k}", "sweep": s.name, "directions": list(s.directions),
                     "control": {"random": s.directions[0], "seed": k, "normalize": "global"}, "base": unit,
                     "sets": own} for k in range(1, controls + 1)]
        elif s.kind == "grid" and len(s.directions) == 2:
            vector = [1.0 if d in s.directions else 0.0 for d in plan.directions]
            out.append({"key": s.name, "sweep": s.name, "directions": list(s.directions), "control": None,
                        "base": point_fingerprint(plan.inputs, plan.directions, vector, plan.eval_sets),
                        "sets": list(plan.eval_sets)})
    for job in out:
        what = {"point": job["base"], "control": job["control"], "at": [0.0] * len(job["directions"]),
                "sets": job["sets"], "dtype": "float32"}
        job["fingerprint"] = hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:24]
    return out
