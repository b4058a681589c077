"""Native multiple-choice accuracy: each task with a multiple-choice set
(`tasks.N.multiple_choice`, items read and checked by `sitv_dist.mc_items`) is scored, acc and
acc_norm as lm-evaluation-harness scores it, at every point that evaluates the task's eval set.
The scoring itself is `.mc_scoring`; this module is what the sweep needs of it."""
from __future__ import annotations

from ...config import ExperimentConfig
from ...io import finite_or_none
from ...mc_items import items_hash, mc_sets
from .score import Score
from .mc_scoring import MCSet, build_mc_set, choice_loglikelihoods, model_window, score


class NativeMultipleChoice(Score):
    name = "mc"
    report_section = "sitv_dist.results.accuracy_report:accuracy_section"

    def __init__(self, model, sets: dict[str, MCSet]):
        self.model, self.sets = model, sets          # eval-set name ("task:<task>") → its tokenized items

    @classmethod
    def settings(cls, cfg: ExperimentConfig) -> dict:
        """Each set by content: an edited item makes the old points stale."""
        return {f"mc:{task}": items_hash(items) for task, items in mc_sets(cfg).items()}

    @classmethod
    def setup(cls, cfg, eval_sets, resident) -> NativeMultipleChoice | None:
        """Every item tokenized once and batched for this worker's model window."""
        window = model_window(resident.model)
        sets = {f"task:{task}": build_mc_set(task, items, resident.tokenizer, cfg.eval.batch_size, window,
                                             resident.device)
                for task, items in mc_sets(cfg).items() if f"task:{task}" in eval_sets}
        return cls(resident.model, sets) if sets else None

    def evaluate(self, sets: list[str], record: dict) -> None:
        """`mc` in each task set of the record that has a multiple-choice set."""
        for name, mc in self.sets.items():
            if name in record["sets"]:
                result = score(mc, choice_loglikelihoods(self.model, mc))
                result["loglikelihoods"] = [[finite_or_none(x) for x in ll] for ll in result["loglikelihoods"]]
                record["sets"][name]["mc"] = result

    @classmethod
    def reduce_set(cls, entry: dict, out: dict) -> None:
        """The accuracies and the item count; per-item data stay in the point file (the bootstrap reads them)."""
        if "mc" in entry:
            out["mc"] = {k: entry["mc"][k] for k in ("acc", "acc_norm", "items")}
