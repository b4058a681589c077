"""The search's honest comparison: paired intervals on each half from synthetic point records,
and the verdict for every way the two halves can disagree."""
import numpy as np
import pytest

from sitv_dist.results.analysis.search_analysis import compare_points, verdict
from sitv_dist.sweep.search.halves import split
from sitv_dist.sweep.search.objective import Objective


def _record(nll, correct=None):
    sets = {"general": {"per_text_nll": list(nll)}}
    if correct is not None:
        sets["task:qa"] = {"per_text_nll": list(nll), "mc": {"correct": list(correct)}}
    return {"sets": sets}


def test_paired_halves_and_accuracy_terms():
    rng = np.random.default_rng(0)
    tokens = list(rng.integers(5, 20, size=40))
    base = rng.uniform(1.0, 3.0, size=40) * tokens
    a, b = _record(base * 0.9, [1] * 30 + [0] * 10), _record(base, [1] * 20 + [0] * 20)
    objective = Objective({"general": 1.0, "accuracy:qa": 0.5}, {"general": tokens, "task:qa": tokens}, 3)
    out = compare_points([a, b], objective, 500, 0.95, 0)
    search_idx, held_idx = split(40, 3)
    for half, idx in (("search", search_idx), ("held_out", held_idx)):
        loss = [float(np.sum(r[idx]) / np.sum(np.asarray(tokens)[idx])) for r in (base * 0.9, base)]
        assert out["terms"]["general"][half]["values"] == pytest.approx(loss, abs=1e-12)
        acc = [float(np.mean(np.asarray(c)[idx])) for c in ([1] * 30 + [0] * 10, [1] * 20 + [0] * 20)]
        assert out["terms"]["accuracy:qa"][half]["values"] == pytest.approx(acc, abs=1e-12)
        objective_values = [loss[k] - 0.5 * acc[k] for k in (0, 1)]
        assert out["objective"][half]["values"] == pytest.approx(objective_values, abs=1e-12)
        d = out["objective"][half]["difference"]
        assert d["value"] == pytest.approx(objective_values[0] - objective_values[1], abs=1e-12)
        # every text is 10% lower under a: the paired interval excludes 0, on both halves
        assert d["interval"][1] < 0 and d["resolved"]
        lo, hi = out["terms"]["general"][half]["intervals"][0]
        assert lo <= loss[0] <= hi
    assert verdict(out["objective"]).startswith("lower on the held-out half too")


def _halves(search, s_res, held, h_res):
    return {"search": {"difference": {"value": search, "resolved": s_res}},
            "held_out": {"difference": {"value": held, "resolved": h_res}}}


def test_verdicts():
    assert verdict(_halves(0.01, True, 0.02, True)).startswith("within its budget the search found no point below")
    assert verdict(_halves(-0.02, True, -0.01, True)).startswith("lower on the held-out half too")
    assert verdict(_halves(-0.02, True, 0.01, True)).endswith("the gain is on the texts it was selected on only")
    assert verdict(_halves(-0.02, True, -0.001, False)).startswith("lower on the search half only")
    assert verdict(_halves(-0.001, False, 0.001, False)) == "no resolved difference on either half"
    assert verdict({"search": {}, "held_out": {}}).startswith("no comparison")
