"""Atomic file writes: a crash never leaves a half-written result behind."""
from __future__ import annotations

import errno
import fcntl
import json
import math
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any


def new_file_mode() -> int:
    """0666 minus the process umask: what open() would give a new file (mkstemp gives 0600)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temp file in the same directory, fsync, then rename over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, new_file_mode())        # mkstemp makes 0600; follow the umask like any other file
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise named_os_error(exc.errno, path, len(data)) from exc
        raise
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def os_error(exc: Exception, path: Path, needed: int | None = None) -> Exception:
    """An OSError naming `path` for a library error that wraps one ("... (os error 28) ..."), so
    a full disk reads the same whatever wrote the file; any other error is returned as it is."""
    if isinstance(exc, OSError) and exc.errno is not None:
        return exc if exc.filename else named_os_error(exc.errno, path, needed)
    match = re.search(r"os error (\d+)", str(exc))
    if not match:
        return exc
    return named_os_error(int(match.group(1)), path, needed)


def named_os_error(code: int, path: Path, needed: int | None) -> OSError:
    """OSError(code) naming the final path (not a temp name) and, for a full disk, the bytes needed."""
    err = OSError(code, os.strerror(code), str(path))
    err.needed = needed
    return err


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def finite_or_none(x: float | None) -> float | None:
    """JSON has no NaN/inf: non-finite losses are stored as null."""
    return x if x is not None and math.isfinite(x) else None


def write_json(path: Path, obj: Any, indent: int | None = 1) -> None:
    atomic_write_text(path, json.dumps(obj, indent=indent, allow_nan=False) + "\n")


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text())


class FileLock:
    """An exclusive flock on `path`, held until released or until the process dies (also by
    SIGKILL), so a crashed holder never leaves a stale lock. Works on local filesystems and on
    NFS (Linux maps flock to POSIX locks there) and Lustre mounted with `-o flock`; where the
    filesystem has no locks at all the lock is skipped with one warning (see docs/reliability.md)."""

    warned = False

    def __init__(self, path: Path):
        self.path = Path(path)
        self.fd: int | None = None

    def acquire(self, blocking: bool) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, new_file_mode())
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                os.close(fd)
                return False
            if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
                os.close(fd)
                raise
            if not FileLock.warned:
                print(f"warning: {self.path.parent} does not support file locks; concurrent sweeps on this "
                      "out_dir may evaluate points twice", file=sys.stderr)
                FileLock.warned = True
        self.fd = fd
        return True

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)           # closing the descriptor drops the flock
            self.fd = None

    def __enter__(self) -> "FileLock":
        self.acquire(blocking=True)
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def busy(self) -> bool:
        """Whether another process holds the lock now (the file is left as it was)."""
        if not self.path.is_file():
            return False
        if self.acquire(blocking=False):
            self.release()
            return False
        return True
