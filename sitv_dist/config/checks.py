"""The config's vocabulary and its small validators: the error type, the dtypes, the embedded
task names, and checks that phrase every problem as 'key: what is wrong; how to fix it'.
Imports nothing of the project (the config package is a leaf of the import graph)."""
from __future__ import annotations

import math
import re
from pathlib import Path

EMBEDDED_TASKS = ("sentiment_positive", "sentiment_negative", "qa_factual", "instruction_following")
"""The tasks with embedded data (sitv_dist/embedded/data); the corpus generator uses this list too."""
DTYPES = ("float32", "bfloat16", "float16")


class ConfigError(ValueError):
    """A config problem, phrased as 'key: what is wrong; how to fix it'."""


def require(value: str, key: str, fix: str) -> None:
    if not value:
        raise ConfigError(f"{key}: must not be empty; {fix}")


def positive(value: float, key: str) -> None:
    if not (value > 0 and math.isfinite(value)):
        raise ConfigError(f"{key}: must be > 0 and finite, got {value}")


def non_negative(value: float, key: str, meaning: str = "") -> None:
    if not (value >= 0 and math.isfinite(value)):
        raise ConfigError(f"{key}: must be >= 0{f' ({meaning})' if meaning else ''}, got {value}")


_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


def path_name(value: str, key: str) -> None:
    """Names that become file or folder names under OUT (tasks, directions, grids) must stay
    one plain path part: no '/', no '..', no leading dot, nothing a shell or a filesystem reads
    specially."""
    if not isinstance(value, str) or not _NAME.fullmatch(value) or len(value) > 120:
        raise ConfigError(f"{key}: {value!r} cannot be used as a name (it becomes a file name under out_dir); "
                          "use up to 120 letters, digits, '_', '.' and '-', starting with a letter, digit or '_'")


def choice(value: str, options: tuple[str, ...], key: str) -> None:
    if value not in options:
        raise ConfigError(f"{key}: {value!r} is not one of {', '.join(options)}")


def check_source(source: str, key: str) -> None:
    """Local files must exist now; hub datasets are checked when loaded."""
    if source == "embedded" or source.startswith("hf:"):
        if source.startswith("hf:") and len(source.split(":")) < 3:
            raise ConfigError(f"{key}: {source!r}: write hub data as hf:DATASET[:CONFIG]:SPLIT")
        return
    path = Path(source).expanduser()
    if path.suffix not in (".jsonl", ".json", ".txt"):
        raise ConfigError(f"{key}: {source!r}: use a .jsonl, .json or .txt file, 'embedded', or hf:DATASET:SPLIT")
    if not path.is_file():
        raise ConfigError(f"{key}: file {source!r} does not exist")

