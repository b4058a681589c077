"""Content digests of files, computed once: a file is re-read only when its size or
modification time changed (the cache lives in OUT, so nothing is written elsewhere).

A safetensors file is digested by its tensors (names, dtypes, shapes and data bytes), not by
its metadata, which holds names and notes that do not change a loss."""
from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

from ..io import write_json

CHUNK = 16 << 20


def _stream(f, h) -> None:
    while block := f.read(CHUNK):
        h.update(block)


def file_digest(path: Path) -> str:
    """sha256 of the bytes a loss depends on (safetensors: header without metadata, then data)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        if path.suffix == ".safetensors":
            raw = f.read(8)
            if len(raw) == 8:
                (n,) = struct.unpack("<Q", raw)
                try:
                    header = json.loads(f.read(n))
                except (ValueError, UnicodeDecodeError):
                    header = None
                if isinstance(header, dict):
                    header.pop("__metadata__", None)
                    h.update(json.dumps(header, sort_keys=True).encode())
                    _stream(f, h)
                    return h.hexdigest()
            f.seek(0)           # not a well-formed safetensors file: every byte counts
        _stream(f, h)
    return h.hexdigest()


class FileHashes:
    """Digests cached by absolute path, size and mtime_ns in one JSON file."""

    def __init__(self, cache_file: Path | None):
        self.cache_file = cache_file
        self.entries: dict[str, dict] = {}
        self.dirty = False
        if cache_file is not None and cache_file.is_file():
            try:
                self.entries = json.loads(cache_file.read_text())
            except (ValueError, UnicodeDecodeError):
                self.entries = {}            # a corrupt cache only costs a re-read
            if not isinstance(self.entries, dict):
                self.entries = {}

    def digest(self, path: Path) -> str:
        path = Path(path).resolve()
        st = path.stat()
        key = str(path)
        entry = self.entries.get(key)
        if isinstance(entry, dict) and entry.get("size") == st.st_size and entry.get("mtime_ns") == st.st_mtime_ns:
            return entry["sha256"]
        value = file_digest(path)
        self.entries[key] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": value}
        self.dirty = True
        return value

    def save(self) -> None:
        if self.dirty and self.cache_file is not None:
            write_json(self.cache_file, self.entries)
            self.dirty = False
