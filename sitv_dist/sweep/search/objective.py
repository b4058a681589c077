"""The search objective: a weighted sum of terms a point already holds, each measured on one
half of its texts (multiple-choice accuracy: of its items).

A loss term is the token-weighted mean NLL over the half's texts (from the point's stored
per-text NLL sums, `halves.half_loss`); an accuracy term is the fraction of the half's items
answered correctly (`mc.correct`) and enters with a minus sign. The halves come from one seed,
so the optimiser only ever sees the search half and the held-out half stays an honest test.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .halves import half_loss, split

HALVES = ("search", "held_out")


def term_set(term: str) -> str:
    """The eval set a term is measured on: `general`, or `task:NAME` for task and accuracy terms."""
    return "general" if term == "general" else "task:" + term.split(":", 1)[1]


@dataclass
class Objective:
    weights: dict[str, float]
    tokens: dict[str, list[int]]           # per eval set, per text (OUT/eval_sets.json)
    seed: int

    @property
    def sets(self) -> list[str]:
        """The eval sets a search point needs (general always: the report gives it)."""
        return list(dict.fromkeys(["general"] + [term_set(t) for t in self.weights]))

    def indices(self, term: str, n: int | None = None) -> dict[str, np.ndarray]:
        """{search, held_out} indices of the term's texts (or of its `n` items)."""
        count = len(self.tokens[term_set(term)]) if n is None else n
        return dict(zip(HALVES, split(count, self.seed)))

    def term_value(self, record: dict, term: str, half: str) -> float:
        """One term on one half of a point's record (NaN when the point has no finite value)."""
        entry = (record.get("sets") or {}).get(term_set(term))
        if entry is None:
            return math.nan
        if term.startswith("accuracy:"):
            correct = (entry.get("mc") or {}).get("correct")
            if not correct:
                return math.nan
            return float(np.mean(np.asarray(correct, dtype=float)[self.indices(term, len(correct))[half]]))
        if entry.get("per_text_nll") is None:
            return math.nan
        return half_loss(entry["per_text_nll"], self.tokens[term_set(term)], self.indices(term)[half])

    def value(self, record: dict, half: str = "search") -> float:
        """Σ weight · term (accuracy terms subtracted): what the search minimises on `half`."""
        total = 0.0
        for term, weight in self.weights.items():
            v = self.term_value(record, term, half)
            total += -weight * v if term.startswith("accuracy:") else weight * v
        return total
