"""Scores beyond the loss at a point: native multiple-choice accuracy of each task with a
multiple-choice set (`tasks.N.multiple_choice`, at every point that evaluates the task's eval
set) and lm-evaluation-harness tasks (`eval.lm_eval`, at every point that evaluates all the
plan's eval sets: line, grid, base and refinement points, not the squaring/compositional-only
ones unless sweep.derived_sets is 'all'). The worker builds one `PointScores` and lets it add
its entries to each point record; what they depend on is in `score_settings`."""
from __future__ import annotations

import torch

from ..config import ExperimentConfig
from ..io import finite_or_none
from ..mc_items import mc_sets
from .multiple_choice import build_mc_set, choice_loglikelihoods, score
from .plan import Plan, PlannedPoint


def model_window(model: torch.nn.Module) -> int:
    """The longest input the model takes (lm-eval's resolve_max_length order), 2048 when unknown."""
    for attr in ("n_positions", "max_position_embeddings", "n_ctx"):
        value = getattr(model.config, attr, None)
        if isinstance(value, int) and value > 0:
            return value
    return 2048


class PointScores:
    def __init__(self, cfg: ExperimentConfig, plan: Plan, model: torch.nn.Module, tokenizer,
                 device: torch.device):
        self.model, self.all_sets = model, set(plan.eval_sets)
        window = model_window(model)
        self.mc = {f"task:{task}": build_mc_set(task, items, tokenizer, cfg.eval.batch_size, window, device)
                   for task, items in mc_sets(cfg).items() if f"task:{task}" in plan.eval_sets}
        self.lm_eval = None
        if cfg.eval.lm_eval.tasks:
            from .lm_eval_point import LmEvalRunner
            self.lm_eval = LmEvalRunner(model, tokenizer, cfg.eval.lm_eval, cfg.eval.batch_size, cfg.seed)

    def add(self, point: PlannedPoint, record: dict) -> None:
        """Add `mc` to each task set of the record that has a multiple-choice set, and `lm_eval`."""
        for name, mc in self.mc.items():
            if name in record["sets"]:
                result = score(mc, choice_loglikelihoods(self.model, mc))
                result["loglikelihoods"] = [[finite_or_none(x) for x in ll] for ll in result["loglikelihoods"]]
                record["sets"][name]["mc"] = result
        if self.lm_eval is not None and self.all_sets <= set(point.sets):
            record["lm_eval"] = self.lm_eval()
