"""Known failures as one line for the `sitv` CLI: what happened and what to do, no traceback
(`sitv --debug ...` shows it). Kept apart from cli.py so new subcommands never touch it."""
from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

import yaml
from safetensors import SafetensorError


def _size(n: float) -> str:
    if n >= 2**20:
        return f"{n / 2**20:.1f} MiB"
    return f"{n / 1024:.0f} KiB" if n >= 10 * 1024 else f"{n:,.0f} bytes"


def _free_space(path: str | None) -> str:
    """Free bytes on the filesystem of `path` (or of its nearest existing parent), for the message."""
    p = Path(path or ".").absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        return f"{_size(shutil.disk_usage(p).free)} free"
    except OSError:
        return "free space unknown"


def _os_line(exc: OSError) -> str | None:
    path = exc.filename
    where = f" writing {path}" if path else ""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        needed = getattr(exc, "needed", None)
        need = f", {_size(needed)} needed" if needed else ""
        return (f"error: no space left on device{where} ({_free_space(path)}{need}); free space on that filesystem "
                "(or raise the quota) and rerun: finished files are kept and nothing half-written is reused")
    if exc.errno == errno.EROFS:
        return f"error: read-only filesystem{where}; choose an out_dir on a writable filesystem"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"error: permission denied{where}; fix its permissions or choose another out_dir"
    if exc.errno == errno.ENOLCK:
        return f"error: the filesystem{where} has no file locks; use an out_dir on a filesystem with locks"
    return None


def one_line(exc: BaseException) -> str | None:
    """The line to print for a known failure, or None when it is a bug that deserves its traceback."""
    if isinstance(exc, OSError) and exc.errno is not None:
        line = _os_line(exc)
        if line:
            return line
    if isinstance(exc, SafetensorError):
        return (f"error: a safetensors file is corrupt or truncated ({str(exc).splitlines()[0][:160]}); "
                "delete it and rerun the stage that writes it")
    if isinstance(exc, yaml.YAMLError):
        return f"error: a YAML file is not valid ({str(exc).splitlines()[0][:160]}); fix or remove it"
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted: finished files are kept; rerun the same command to continue"
    return None


def exit_code(exc: BaseException) -> int:
    return 130 if isinstance(exc, KeyboardInterrupt) else 1


def debug_requested(argv: list[str]) -> tuple[bool, list[str]]:
    """`--debug` anywhere before the subcommand's own arguments, or SITV_DEBUG=1."""
    debug = "--debug" in argv or os.environ.get("SITV_DEBUG") == "1"
    return debug, [a for a in argv if a != "--debug"]
