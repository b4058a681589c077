"""The run's own record of its peak memory, per stage (OUT/peak_memory.json), so that a page
can state the peak RSS a run reached from the run's files rather than from an outside tool.

The kernel keeps one high-water mark per process and cannot be asked for a stage's peak
without resetting it (which would also falsify what `/usr/bin/time` reports), so each stage
records the process's peak before and after it: a stage that raised the peak reached exactly
`after`; one that did not stayed at or below `before` (its own peak is then unknown and left
null). The process's own mark is VmHWM of /proc/self/status, not getrusage's ru_maxrss:
ru_maxrss of a process started by fork (or vfork) and exec keeps the parent's high-water mark
from before the exec (a worker of a large parent would report the parent's peak); VmHWM
belongs to the process's own memory map. Elsewhere than Linux, ru_maxrss. The children's is
getrusage(RUSAGE_CHILDREN): the largest waited-for child's ru_maxrss.
"""
from __future__ import annotations

import resource
import sys
from pathlib import Path

from .io import read_json, write_json

NAME = "peak_memory.json"
# ru_maxrss is KiB on Linux and bytes on macOS (getrusage(2) on each)
_UNIT = 1 if sys.platform == "darwin" else 1024


def _own_peak() -> int:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024          # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * _UNIT


def peak_rss_bytes() -> dict:
    """The peak resident set size so far of this process and of its waited-for children, in bytes."""
    return {"self": _own_peak(), "children": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * _UNIT}


def stage_entry(before: dict, after: dict) -> dict:
    """One stage's record from the peaks before and after it."""
    return {"process_peak_rss_bytes": after["self"],
            "stage_peak_rss_bytes": after["self"] if after["self"] > before["self"] else None,
            "children_peak_rss_bytes": after["children"]}


def merged(previous: dict | None, entry: dict) -> dict:
    """A stage timed again (a resumed run, a second phase) keeps the largest of each peak."""
    if not isinstance(previous, dict):
        return entry
    out = {}
    for key, value in entry.items():
        old = previous.get(key)
        known = [v for v in (old, value) if isinstance(v, int)]
        out[key] = max(known) if known else None
    return out


def run_peak(record: dict | None) -> int | None:
    """The largest peak RSS in bytes any stage of the run recorded (its process or its children), or None."""
    values = [v for entry in (record or {}).values() if isinstance(entry, dict)
              for k, v in entry.items() if k in ("process_peak_rss_bytes", "children_peak_rss_bytes")
              and isinstance(v, int)]
    return max(values) if values else None


def record(path: Path, stage: str, before: dict) -> None:
    """Add the stage's entry (its peaks from ``before`` to now) to the record at ``path``."""
    try:
        memory = read_json(path) if path.is_file() else {}
    except (ValueError, UnicodeDecodeError):
        memory = {}                     # a corrupt record only loses the record
    memory = memory if isinstance(memory, dict) else {}
    memory[stage] = merged(memory.get(stage), stage_entry(before, peak_rss_bytes()))
    write_json(path, memory)


def path_in(root: Path) -> Path:
    return Path(root) / NAME
