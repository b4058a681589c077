"""lm-evaluation-harness tasks at a point (`eval.lm_eval`), at every point that evaluates all
the plan's eval sets (line, grid, base and refinement points, not the squaring/compositional-
only ones unless sweep.derived_sets is 'all'). The worker's resident model is wrapped once in
lm-eval's `HFLM` (so the point's parameters, written in place, are what lm-eval scores), and
`simple_evaluate` runs at each point with no cache of model answers (`use_cache=None`) and no
request cache (`cache_requests=False`): nothing computed at one point is reused at another.
Needs the `lm-eval` extra (imported only when tasks are configured)."""
from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import os
from contextlib import contextmanager
from pathlib import Path

import torch

from ...config import ConfigError, ExperimentConfig, LmEvalConfig
from .score import Score


class LmEvalTasks(Score):
    name = "lm_eval"
    report_section = "sitv_dist.results.accuracy_report:accuracy_section"

    def __init__(self, runner: LmEvalRunner, eval_sets: list[str]):
        self.runner, self.all_sets = runner, set(eval_sets)

    @classmethod
    def settings(cls, cfg: ExperimentConfig) -> dict:
        """The tasks and how they run, lm-eval's version, and the task files by content."""
        lm = cfg.eval.lm_eval
        if not lm.tasks:
            return {}
        return {"lm_eval": {"tasks": list(lm.tasks), "include_path": lm.include_path, "limit": lm.limit,
                            "num_fewshot": lm.num_fewshot, "seed": cfg.seed, "version": _version("lm-eval"),
                            "include_files": _tree_hash(Path(lm.include_path).expanduser()) if lm.include_path else ""}}

    @classmethod
    def setup(cls, cfg, eval_sets, resident) -> LmEvalTasks | None:
        if not cfg.eval.lm_eval.tasks:
            return None
        return cls(LmEvalRunner(resident.model, resident.tokenizer, cfg.eval.lm_eval, cfg.eval.batch_size, cfg.seed),
                   eval_sets)

    def evaluate(self, sets: list[str], record: dict) -> None:
        """`lm_eval`: {task: {metric: value}}, at points with every eval set of the plan."""
        if self.all_sets <= set(sets):
            record["lm_eval"] = self.runner()

    @classmethod
    def reduce_point(cls, record: dict, out: dict) -> None:
        if "lm_eval" in record:
            out["lm_eval"] = record["lm_eval"]


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


class LmEvalRunner:
    """One `HFLM` around the resident model and one `TaskManager` (indexing tasks is slow), built
    once per worker; `__call__` evaluates the configured tasks on the model as it is now."""

    def __init__(self, model: torch.nn.Module, tokenizer, cfg: LmEvalConfig, batch_size: int, seed: int = 0):
        from lm_eval.models.huggingface import HFLM
        self.cfg, self.seed = cfg, seed
        self.tasks = task_manager(cfg)
        self.lm = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=batch_size)

    def __call__(self) -> dict[str, dict[str, float]]:
        import lm_eval
        with _as_local_rank_zero():
            res = lm_eval.simple_evaluate(
                model=self.lm, tasks=list(self.cfg.tasks), task_manager=self.tasks,
                num_fewshot=None if self.cfg.num_fewshot < 0 else self.cfg.num_fewshot,
                limit=self.cfg.limit or None, use_cache=None, cache_requests=False, bootstrap_iters=0,
                log_samples=False, random_seed=self.seed, numpy_random_seed=self.seed, torch_random_seed=self.seed,
                fewshot_random_seed=self.seed, verbosity="WARNING")
        return metrics(res["results"])


@contextmanager
def _as_local_rank_zero():
    """lm-eval returns results only where LOCAL_RANK is 0 (it reads other values as tensor-parallel
    followers); each torchrun rank here is its own single-process evaluation (HFLM world size 1,
    so lm-eval runs no collectives), so it evaluates as local rank 0."""
    saved = os.environ.get("LOCAL_RANK")
    os.environ["LOCAL_RANK"] = "0"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("LOCAL_RANK", None)
        else:
            os.environ["LOCAL_RANK"] = saved


def task_manager(cfg: LmEvalConfig):
    """lm-eval's TaskManager for the configured tasks; a ConfigError (before any model loads, from
    the preflight) when lm-eval is missing or a task is unknown. Only `include_path` is indexed
    when it holds every task (indexing lm-eval's own ~15k tasks takes seconds)."""
    try:
        from lm_eval.tasks import TaskManager
    except ImportError:
        raise ConfigError("eval.lm_eval.tasks: needs lm-evaluation-harness; pip install 'sitv-dist[lm-eval]'") \
            from None
    for name in ("lm-eval", "lm_eval"):
        logging.getLogger(name).setLevel(logging.WARNING)
    manager = TaskManager(include_path=cfg.include_path, include_defaults=False) if cfg.include_path else None
    if manager is None or not set(cfg.tasks) <= set(manager.all_tasks):
        manager = TaskManager(include_path=cfg.include_path or None)
    unknown = [t for t in cfg.tasks if t not in manager.all_tasks]
    if unknown:
        raise ConfigError(f"eval.lm_eval.tasks: unknown lm-eval task(s) {', '.join(unknown)}; check the names "
                          "or eval.lm_eval.include_path")
    return manager


def metrics(results: dict) -> dict[str, dict[str, float]]:
    """{task: {metric: value}} from lm-eval's results: numbers only, standard errors left out;
    a metric under lm-eval's default filter ('acc,none') keeps its bare name ('acc')."""
    out = {}
    for task, entry in results.items():
        values = {}
        for key, value in entry.items():
            metric, _, filt = key.partition(",")
            if metric.endswith("_stderr") or isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            values[metric if filt in ("", "none") else key] = float(value)
        out[task] = values
    return out
