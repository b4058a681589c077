"""The loss: per eval set, the token-weighted NLL of its texts (and per text, per category),
one forward pass per set from `sweep.evaluation`. Every point has it; the other scores add to
the set entries it makes, so it comes first in the registry."""
from __future__ import annotations

import math

from ...config import ExperimentConfig
from ...io import finite_or_none
from ..evaluation import per_text_nll, summarize, usable_chunk
from .score import Score


class Loss(Score):
    name = "loss"
    report_section = ""      # the loss is the report's spine: its sections are results.report.line_sections & co.

    def __init__(self, model, eval_sets: dict, chunk: int, vocab: int):
        self.model, self.eval_sets, self.chunk, self.vocab = model, eval_sets, chunk, vocab

    @classmethod
    def settings(cls, cfg: ExperimentConfig) -> dict:
        """Nothing of its own: what the loss depends on (model.dtype, eval.max_length, …) every
        score depends on, and sweep.fingerprint.experiment_inputs records it for all of them."""
        return {}

    @classmethod
    def setup(cls, cfg, eval_sets, resident) -> Loss:
        return cls(resident.model, resident.sets, usable_chunk(resident.model, resident.sets, cfg.eval.logit_chunk),
                   resident.vocab)

    def evaluate(self, sets: list[str], record: dict) -> None:
        for name in sets:
            nll = per_text_nll(self.model, self.eval_sets[name], self.chunk)
            summary = summarize(self.eval_sets[name], nll)
            summary["loss"] = finite_or_none(summary["loss"])
            for cat in summary.get("categories", {}).values():
                cat["loss"] = finite_or_none(cat["loss"])
                cat["nll_sum"] = finite_or_none(cat["nll_sum"])
            summary["nll_sum"] = finite_or_none(summary["nll_sum"])
            summary["per_text_nll"] = [finite_or_none(x) for x in nll.tolist()]
            if uniform(summary["loss"], self.vocab):
                summary["degenerate"] = True
            record["sets"][name] = summary

    @classmethod
    def reduce_set(cls, entry: dict, out: dict) -> None:
        """A set's losses for the results; a degenerate one (see `uniform`) is not a loss: None."""
        out.update(loss=entry["loss"], nll_sum=entry["nll_sum"], tokens=entry["tokens"])
        if entry.get("degenerate"):
            out.update(loss=None, degenerate=True)
        if "categories" in entry:
            out["categories"] = entry["categories"]


def uniform(loss: float | None, vocab: int) -> bool:
    """A set loss equal to ln(vocabulary) to 1e-6 relative means uniform predictions on every
    token: in fp32 at |α| ≳ 1e6 the normalisation layers overflow and every logit becomes
    equal. No trained or random model lands there by chance (a random one is ~1e-2 away)."""
    return loss is not None and abs(loss - math.log(vocab)) <= 1e-6 * math.log(vocab)
