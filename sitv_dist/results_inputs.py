"""What each results file was reduced from, so that a results file older than its points is
never served: a point evaluated again or added since the reduce (a refinement round, a file
copied in, a rerun after a deleted point) makes OUT/results/<sweep>.json stale.

The reduce records, in OUT/cache/results-inputs/<sweep>.json, the planned points of the sweep
(id, fingerprint, eval sets) and each point file's size, mtime and inode, taken before it reads
them: a file replaced in between disagrees with the record, so any error is on the side of a
rebuild. Readers compare the record with the disk now (a stat per point, no point file parsed):
the plan changed for the sweep, or a point file present differs from the one reduced, and the
results are stale. A point file deleted since is not newer than the results (they are its only
record now). A results file without a plan beside it (a copy, a hand-made fixture) or of a
sweep the plan no longer has is not checked: there is nothing to compare with.
"""
from __future__ import annotations

import os
from pathlib import Path


def sweep_points(plan: dict, sweep: str) -> list[dict]:
    """The planned points of `sweep` in a plan.json dict."""
    return [p for p in plan.get("points", []) if sweep in p.get("sweeps", [])]


def _stat(path: Path) -> list[int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def inputs(points_dir: Path, points: list[dict]) -> dict:
    """The record of what the reduce is about to read: each planned point and its file now."""
    return {"points": {p["id"]: [p.get("fingerprint"), sorted(p.get("sets", [])),
                                 _stat(Path(points_dir) / f"{p['id']}.json")] for p in points}}


def stale_reason(recorded: dict | None, points_dir: Path, plan: dict, sweep: str) -> str | None:
    """Why the results of `sweep` do not describe the points on disk now, or None if they do."""
    points = sweep_points(plan, sweep)
    if not points:
        return None
    if not recorded or not isinstance(recorded.get("points"), dict):
        return "no record of the point files it was reduced from"
    before = recorded["points"]
    now = inputs(points_dir, points)["points"]
    if {k: v[:2] for k, v in now.items()} != {k: v[:2] for k, v in before.items()}:
        return f"the plan has changed for it: {len(now)} points planned, it was reduced from {len(before)}"
    if any(v[2] is not None and v[2] != before[k][2] for k, v in now.items()):
        return "a point file was written again since the reduce"
    return None
