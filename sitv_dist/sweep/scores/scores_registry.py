"""Every score of a sweep point, by name, and the three places that use them all: the
fingerprint (`score_settings`), the worker (`setup_scores`) and reduce (`reduce_set`,
`reduce_point`). A new score is one module in this package and one line here.

The order is part of the output: it is the order of the fingerprint's setting keys, of
evaluation at a point (the loss makes the set entries that later scores add to) and of keys in
the results. Add new scores at the end, so files of existing runs keep their bytes."""
from __future__ import annotations

from ...config import ExperimentConfig
from .score import Score
from .lm_eval_tasks import LmEvalTasks
from .nll import Loss
from .native_mc import NativeMultipleChoice

SCORES: dict[str, type[Score]] = {cls.name: cls for cls in (
    Loss,
    NativeMultipleChoice,
    LmEvalTasks,
)}


def score_settings(cfg: ExperimentConfig) -> dict:
    """What the scores depend on beyond the model, the vectors and the eval texts, for the
    fingerprint: `mc:<task>` per multiple-choice set, then `lm_eval`; empty when none are
    configured, so the fingerprints of runs without them do not change."""
    out: dict = {}
    for cls in SCORES.values():
        out.update(cls.settings(cfg))
    return out


def setup_scores(cfg: ExperimentConfig, eval_sets: list[str], resident) -> list[Score]:
    """The scores this worker evaluates at each point, in registry order, each set up once."""
    return [s for cls in SCORES.values() if (s := cls.setup(cfg, list(eval_sets), resident)) is not None]


def reduce_set(entry: dict) -> dict:
    """A set's summary in the results, from its entry in a point record."""
    out: dict = {}
    for cls in SCORES.values():
        cls.reduce_set(entry, out)
    return out


def reduce_point(record: dict, out: dict) -> dict:
    """`out` (a point of the results) with every score's point-level entries added."""
    for cls in SCORES.values():
        cls.reduce_point(record, out)
    return out
