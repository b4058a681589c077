"""The report's Configuration section: the settings that say what was measured (experiment,
model, tasks, sweeps, eval and fine-tuning lengths) as named rows from the typed resolved
config, and a link to the whole file. A file that does not convert to the
dataclasses falls back to the first match of each key in the raw YAML."""
from __future__ import annotations

from typing import Any

from ..config import ExperimentConfig
from ..outdir import OutDir
from .markdown import table

CONFIG_FILE = OutDir(".").config.name       # the file name, as OutDir lays OUT out


def _resolved_rows(cfg: ExperimentConfig) -> list[list[Any]]:
    """Explicit rows: each names the setting it shows (eval and fine-tuning have their own max_length)."""
    grids = "; ".join((f"{g.name}: " if g.name else "") + " × ".join(g.directions) for g in cfg.sweep.grids)
    return [["experiment", cfg.name],
            ["model", f"name_or_path={cfg.model.name_or_path}, dtype={cfg.model.dtype}"],
            ["tasks", ", ".join(t.name for t in cfg.tasks) or "none"],
            ["sweep.directions", ", ".join(cfg.sweep.directions) or "none"],
            ["sweep.grids", grids or "none"],
            ["eval.max_length", cfg.eval.max_length],
            ["eval.batch_size", cfg.eval.batch_size],
            ["finetune.max_length", cfg.finetune.max_length]]


def _cfg_value(v: Any) -> str:
    """Compact one-cell rendering of a config entry."""
    if isinstance(v, dict):
        return ", ".join(f"{k}={w}" for k, w in v.items() if not isinstance(w, (dict, list)))[:160]
    if isinstance(v, list):
        return ", ".join(str(x.get("name", x)) if isinstance(x, dict) else str(x) for x in v)[:160]
    return str(v)


def _find_key(cfg: Any, key: str) -> Any:
    """First value of ``key`` anywhere in a nested mapping (depth-first)."""
    if isinstance(cfg, dict):
        if key in cfg:
            return cfg[key]
        for v in cfg.values():
            found = _find_key(v, key)
            if found is not None:
                return found
    return None


def _raw_rows(cfg: Any) -> list[list[Any]]:
    """The fallback for a file that does not convert: top-level keys, else the first match anywhere."""
    rows = []
    for key in ("experiment", "model", "tasks", "sweeps", "max_length"):
        v = cfg.get(key) if isinstance(cfg, dict) and key in cfg else _find_key(cfg, key)
        if v is not None:
            rows.append([key, _cfg_value(v)])
    return rows


def configuration(run: dict) -> list[str]:
    """The section's lines; ``run`` as :func:`.report.load_run` returns it."""
    lines = ["## Configuration", ""]
    text = run["config_text"]
    if text is None:
        return lines + [f"No {CONFIG_FILE} found.", ""]
    resolved = run.get("resolved")
    rows = _resolved_rows(resolved) if resolved is not None else _raw_rows(run["config"])
    if rows:
        lines += table(["field", "value"], rows)
    return lines + [f"Every setting: [{CONFIG_FILE}]({CONFIG_FILE}) (the resolved configuration, overrides "
                    "applied).", ""]
