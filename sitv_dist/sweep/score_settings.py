"""What the scores beyond the loss (multiple-choice sets, lm-eval tasks) depend on, for the
fingerprint: kept apart from the scoring (sweep.scores) so the fingerprint needs neither torch
nor the plan."""
from __future__ import annotations

import hashlib
import importlib.metadata
from pathlib import Path

from ..config import ExperimentConfig
from ..mc_items import items_hash, mc_sets


def score_settings(cfg: ExperimentConfig) -> dict:
    """What these scores depend on beyond the model and vectors (empty when none are configured,
    so the fingerprints of runs without them do not change)."""
    out: dict = {f"mc:{task}": items_hash(items) for task, items in mc_sets(cfg).items()}
    lm = cfg.eval.lm_eval
    if lm.tasks:
        out["lm_eval"] = {"tasks": list(lm.tasks), "include_path": lm.include_path, "limit": lm.limit,
                          "num_fewshot": lm.num_fewshot, "seed": cfg.seed, "version": _version("lm-eval"),
                          "include_files": _tree_hash(Path(lm.include_path).expanduser()) if lm.include_path else ""}
    return out


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return ""


def _tree_hash(root: Path) -> str:
    """Hash of every file under a task directory (YAML, and data kept beside it): an edited task
    makes old points stale. Data files elsewhere are not covered; keep them beside the YAML."""
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        h.update(f"{path.relative_to(root)}\0".encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]
