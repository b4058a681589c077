"""The protocol every score of a sweep point implements; the scores are listed in `.scores_registry`.

A score is one kind of number the sweep records at a point: the loss of each eval set, the
native multiple-choice accuracy, lm-eval metrics. Its hooks run at different times, in
different processes, but live in one class, so one module says everything a score does:

  settings(cfg)                   planning: what its numbers depend on, into the fingerprint
  setup(cfg, eval_sets, resident) once per worker: what every point reuses (tokenized items…)
  evaluate(sets, record)          once per point, on the worker, with the point's parameters
  reduce_set / reduce_point       reduce: what of the point record goes into results/<sweep>.json
  report_section                  the Markdown section, named by path: `sweep` never imports
                                  `results` (the layer above), `results` resolves the name

Hooks take eval-set names, not the plan or its points: the plan imports the fingerprint and
the fingerprint imports the registry, so a score that imported the plan would be a cycle."""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, ClassVar

from ...config import ExperimentConfig

if TYPE_CHECKING:
    from ..resident import Resident


class Score(ABC):
    name: ClassVar[str]                   # the registry key
    report_section: ClassVar[str] = ""    # "module:function" of sitv_dist.results (an → lines); "" none

    @classmethod
    @abstractmethod
    def settings(cls, cfg: ExperimentConfig) -> dict:
        """Fingerprint entries: everything beyond the model, the vectors and the eval texts that
        changes this score's numbers. A point whose fingerprint matches is reused, never
        recomputed, so a setting left out lets stale numbers in. Deterministic (same config,
        same dict, same key order); {} when the score is not configured, so the fingerprints of
        runs without it do not change. Runs before any model loads: no torch work here."""

    @classmethod
    @abstractmethod
    def setup(cls, cfg: ExperimentConfig, eval_sets: list[str], resident: Resident) -> Score | None:
        """Once per worker, after the model is resident and before its first point: build what
        every point reuses (`eval_sets`: every set of the plan). None when the score has
        nothing to do in this run; the worker then never calls it."""

    @abstractmethod
    def evaluate(self, sets: list[str], record: dict) -> None:
        """At one point, its parameters written in place: add this score's entries to `record`
        (per eval set under record["sets"][name], or a top-level key). `sets` are the eval sets
        this point evaluates. JSON values only (non-finite numbers as None); the same
        parameters give the same entries, and nothing carries over from an earlier point."""

    @classmethod
    def reduce_set(cls, entry: dict, out: dict) -> None:
        """Reduce: from a set's entry in a point record, add what results/<sweep>.json keeps of
        this score to that set's summary `out` (per-item data stay in the point files)."""

    @classmethod
    def reduce_point(cls, record: dict, out: dict) -> None:
        """Reduce: from a point record, add this score's point-level entries to the point `out`."""
