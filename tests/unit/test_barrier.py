"""Loss barrier of a line with 0 and 1 sampled: equal to a direct computation from the results file."""
from __future__ import annotations

import json

import numpy as np
import pytest
from test_uncertainty import build_run

from sitv_dist.results.analysis.landscape import analyse
from sitv_dist.results.analysis.barrier import barrier, barrier_values
from sitv_dist.results.report.run_report import write_report


def bump(a: float) -> float:
    """Concave on [0, 1]: L(α) − chord = 0.8·α(1−α) + 0.3·sin(3α)·α(1−α), largest near α ≈ 0.5."""
    return 3.0 + 0.4 * a + 0.8 * a * (1 - a) + 0.3 * np.sin(3 * a) * a * (1 - a)


def direct(results: dict, loss: str) -> tuple[float, float]:
    """The barrier straight from the results file: every point on the line with 0 ≤ c ≤ 1."""
    pts = []
    for p in results["points"]:
        entry = p["general"] if loss == "general" else p["tasks"].get(loss)
        if entry is not None and 0.0 <= p["coefficients"][0] <= 1.0:
            pts.append((p["coefficients"][0], entry["loss"]))
    pts.sort()
    l0 = next(v for c, v in pts if c == 0.0)
    l1 = next(v for c, v in pts if c == 1.0)
    best = max(pts, key=lambda cv: (cv[1] - ((1.0 - cv[0]) * l0 + cv[0] * l1), -cv[0]))
    return best[1] - ((1.0 - best[0]) * l0 + best[0] * l1), best[0]


def test_barrier_equals_a_direct_computation_from_the_results_file(tmp_path):
    out = build_run(tmp_path / "run", shape={"alpha_task": bump})
    res = json.loads((out / "results" / "line_alpha_task.json").read_text())
    b = analyse(res)["barrier"]
    value, alpha = direct(res, "general")
    assert b["general"]["value"] == pytest.approx(value, rel=0, abs=1e-12) and b["general"]["alpha"] == alpha
    assert 0.2 < value < 0.3 and 0.4 <= alpha <= 0.6       # the bump, seen through the per-text noise
    # α grid, 2α and α+α² points all sample the line: more general samples than task samples
    task_value, task_alpha = direct(res, "alpha_task")
    t = b["tasks"]["alpha_task"]
    assert t["value"] == pytest.approx(task_value, rel=0, abs=1e-12) and t["alpha"] == task_alpha
    assert b["general"]["samples"] > t["samples"] == 11
    # the task loss 2 + (α − 0.8)² is convex: the chord is above it, the barrier is 0 at an end
    assert t["value"] == 0.0 and t["alpha"] == 0.0
    assert b["general"]["loss_0"] == res["base_loss"]


def test_report_has_barriers_with_bootstrap_intervals(tmp_path):
    out = build_run(tmp_path / "run", shape={"alpha_task": bump})
    an = write_report(out, bootstrap=200)
    b = json.loads((out / "analysis.json").read_text())["sweeps"]["line_alpha_task"]["barrier"]
    assert b == an["sweeps"]["line_alpha_task"]["barrier"]
    g = b["general"]
    assert g["replicates"] == 200 and g["level"] == 0.95
    assert g["interval"][0] <= g["value"] <= g["interval"][1] and g["interval"][1] - g["interval"][0] < 0.05
    assert b["tasks"]["alpha_task"]["interval"] is not None
    md = (out / "report.md").read_text()
    section = md.split("## Loss barriers\n", 1)[1].split("\n## ", 1)[0]
    assert f"| line_alpha_task | general | {g['loss_0']:.4f} | {g['loss_1']:.4f} | {g['value']:.4f} | " \
           f"{g['alpha']:.4f} | {g['interval'][0]:.4f} .. {g['interval'][1]:.4f} |" in section
    # the same bootstrap again gives the same interval (seeded)
    assert write_report(out, bootstrap=200)["sweeps"]["line_alpha_task"]["barrier"] == b


def test_no_barrier_unless_0_and_1_are_sampled(tmp_path):
    out = build_run(tmp_path / "run", alpha=(-0.45, 0.95, 15))       # neither 1 nor 2α = 1 nor α+α² = 1
    res = json.loads((out / "results" / "line_alpha_task.json").read_text())
    assert 1.0 not in [p["coefficients"][0] for p in res["points"]]
    assert analyse(res)["barrier"] is None
    write_report(out, bootstrap=0)
    section = (out / "report.md").read_text().split("## Loss barriers\n", 1)[1].split("\n## ", 1)[0]
    assert "No line sweep samples both α = 0 and α = 1" in section


def test_barrier_values_per_replicate_and_nonfinite():
    xs = [0.0, 0.25, 0.5, 1.0, 1.5, -0.5]           # samples outside [0, 1] are ignored
    rows = np.array([[1.0, 1.5, 1.2, 2.0, 9.0, 9.0], [1.0, 1.1, 1.4, 1.0, 0.0, 0.0], [1.0, np.nan, 1.0, 1.0, 0, 0]])
    value, alpha = barrier_values(xs, rows)
    assert value[0] == pytest.approx(1.5 - 1.25) and alpha[0] == 0.25
    assert value[1] == pytest.approx(0.4) and alpha[1] == 0.5
    assert np.isnan(value[2]) and np.isnan(alpha[2])
    assert barrier([0.0, 0.5, 1.0], [1.0, None, 1.0]) | {} == {"value": None, "alpha": None, "interval": None,
                                                              "samples": 3, "nonfinite": 1, "loss_0": 1.0,
                                                              "loss_1": 1.0}
    assert barrier([0.0, 0.5], [1.0, 2.0])["value"] is None
