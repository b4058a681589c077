"""lm-evaluation-harness tasks at a point: the worker's resident model wrapped once in lm-eval's
`HFLM` (so the point's parameters, written in place, are what lm-eval scores), and
`simple_evaluate` run at each point with no cache of model answers (`use_cache=None`) and no
request cache (`cache_requests=False`): nothing computed at one point is reused at another.
Needs the `lm-eval` extra."""
from __future__ import annotations

import logging
import os
from contextlib import contextmanager

import torch

from ..config import ConfigError, LmEvalConfig


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
