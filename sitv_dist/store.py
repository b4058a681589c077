"""Per-point result files: `OUT/points/<id>.json`, one per evaluated point, written
atomically, so a killed worker loses at most the point it was evaluating and a rerun
skips everything on disk. A file that does not parse or belongs to another experiment
counts as missing and is recomputed."""
from __future__ import annotations

import json
import os
import socket
import time
from collections import Counter
from pathlib import Path

from .io import read_json, write_json


def points_dir(out_dir: Path) -> Path:
    return Path(out_dir) / "points"


def point_path(out_dir: Path, pid: str) -> Path:
    return points_dir(out_dir) / f"{pid}.json"


def write_point(out_dir: Path, record: dict) -> None:
    write_json(point_path(out_dir, record["id"]), record, indent=None)


def log_evaluation(out_dir: Path, pid: str, shard: int) -> None:
    """Append one line per evaluation to OUT/logs/evaluations.tsv (an audit trail: a point
    that appears twice was recomputed). O_APPEND keeps concurrent workers' lines whole."""
    path = Path(out_dir) / "logs" / "evaluations.tsv"
    path.parent.mkdir(parents=True, exist_ok=True)
    line = f"{pid}\t{shard}\t{socket.gethostname()}:{os.getpid()}\t{time.time():.3f}\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def evaluation_counts(out_dir: Path) -> Counter:
    """How often each point id was evaluated, from the audit trail."""
    path = Path(out_dir) / "logs" / "evaluations.tsv"
    if not path.is_file():
        return Counter()
    return Counter(line.split("\t", 1)[0] for line in path.read_text().splitlines() if line)


def read_point(out_dir: Path, pid: str, fingerprint: str) -> dict | None:
    """The stored record, or None if absent, truncated, corrupt or from another experiment."""
    path = point_path(out_dir, pid)
    try:
        record = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    if not isinstance(record, dict) or record.get("fingerprint") != fingerprint or record.get("id") != pid:
        return None
    if not isinstance(record.get("sets"), dict):
        return None
    return record


def done_ids(out_dir: Path, plan: dict) -> set[str]:
    """Ids of planned points whose valid result is on disk with every set the plan asks for."""
    done = set()
    for p in plan["points"]:
        record = read_point(out_dir, p["id"], plan["fingerprint"])
        if record is not None and all(s in record["sets"] for s in p["sets"]):
            done.add(p["id"])
    return done


def load_plan(out_dir: Path) -> dict:
    path = Path(out_dir) / "plan.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: run `sitv sweep` (or `sitv run`) for this out_dir first")
    return read_json(path)
