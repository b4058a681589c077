"""The done-index, OUT/points/done.jsonl: one JSON line per point file written, so that
finding which points are done reads one small file and stats each point file instead of
parsing every point file (per-text arrays included) several times per sweep.

    {"id": "p…", "fingerprint": "…", "sets": ["general", …], "size": 91234, "mtime_ns": …, "ino": …}

The point files stay the truth; the index only caches what parsing one would say. A line
counts for a point only while the point file's size, mtime and inode are those on the line,
so a point file rewritten, replaced or deleted since is read again (or is missing). A point
file without a matching line (the index lost, a crash between the point file and its line, a
line garbled by concurrent appends on a shared filesystem) is parsed once and its line
appended: the index catches up by itself and a crash loses nothing. A file that does not
parse is indexed with no fingerprint and no sets (never done) so it is not parsed again while
unchanged. Lines are appended with O_APPEND, one write each, so concurrent workers' lines
stay whole on a local filesystem; a line that does not parse is ignored.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

NAME = "done.jsonl"


def parse_point(data: bytes, pid: str) -> dict | None:
    """A point record from its file's bytes, or None if truncated, corrupt or not point `pid`'s."""
    try:
        record = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    if not isinstance(record, dict) or record.get("id") != pid or not isinstance(record.get("sets"), dict):
        return None
    return record


def _key(st: os.stat_result) -> tuple[int, int, int]:
    return st.st_size, st.st_mtime_ns, st.st_ino


class DoneIndex:
    """The done-index of one points folder."""

    def __init__(self, points_dir: Path):
        self.points_dir = Path(points_dir)
        self.path = self.points_dir / NAME

    def append(self, pid: str, record: dict | None, st: os.stat_result) -> None:
        """One line for the point file whose stat is `st` (record None: it does not parse)."""
        entry = {"id": pid, "fingerprint": record.get("fingerprint") if record else None,
                 "sets": sorted(record["sets"]) if record else [], "size": st.st_size,
                 "mtime_ns": st.st_mtime_ns, "ino": st.st_ino}
        line = (json.dumps(entry, separators=(",", ":")) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)   # mode: the umask decides
        try:
            os.write(fd, line)
        finally:
            os.close(fd)

    def written(self, record: dict, path: Path) -> None:
        """After the atomic write of `record` to `path`. If another process replaced the file in
        between, the line does not match the file's stat and the file is parsed at next read."""
        try:
            self.append(record["id"], record, os.stat(path))
        except OSError:         # the index is a cache: a failed append costs one parse later
            pass

    def entries(self) -> dict[tuple[str, int, int, int], tuple]:
        """(id, size, mtime_ns, ino) -> (fingerprint, frozenset of sets), over every whole line."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        out = {}
        for line in data.split(b"\n"):
            try:
                e = json.loads(line)
                key = (e["id"], int(e["size"]), int(e["mtime_ns"]), int(e["ino"]))
                value = (e["fingerprint"], frozenset(e["sets"]))
            except (ValueError, TypeError, KeyError, UnicodeDecodeError):
                continue        # the empty tail, or a truncated or garbled line
            if isinstance(key[0], str):
                out[key] = value
        return out

    def lookup(self, pids) -> dict[str, tuple]:
        """pid -> (fingerprint, sets) of each point file of `pids` on disk, from the index where
        a line matches the file's stat, else parsed (and appended to the index)."""
        known = self.entries()
        found = {}
        for pid in pids:
            path = self.points_dir / f"{pid}.json"
            try:
                st = os.stat(path)
            except OSError:
                continue
            hit = known.get((pid, *_key(st)))
            found[pid] = hit if hit is not None else self._catch_up(pid, path)
        return {pid: v for pid, v in found.items() if v is not None}

    def _catch_up(self, pid: str, path: Path) -> tuple | None:
        """Parse one point file not (or no longer) in the index and append its line; the stat
        comes from the open file, so the line describes the very bytes that were parsed."""
        try:
            with open(path, "rb") as f:
                st = os.fstat(f.fileno())
                record = parse_point(f.read(), pid)
        except OSError:
            return None
        try:
            self.append(pid, record, st)
        except OSError:
            pass
        return (record.get("fingerprint"), frozenset(record["sets"])) if record else (None, frozenset())
