"""Refinement rounds: analytic curves converge to their known roots and minima; on the toy
model refined points join the plan, are marked, and are never evaluated twice."""
import json

import numpy as np

from conftest import make_config
from sitv_dist.stages import sweep as pipeline
from sitv_dist.sweep.crossings import find_crossings
from sitv_dist.config import load_config
from sitv_dist.sweep.plan import coef
from sitv_dist.sweep.refine import crossing_proposals, minimum_proposals
from sitv_dist.outdir import OutDir
from sitv_dist.sweep.plan import load_plan


def refine_analytic(f, xs, tol, rounds=30):
    xs = sorted({coef(x) for x in xs})
    for _ in range(rounds):
        x = np.array(xs)
        y = f(x)
        new = {coef(c) for c in crossing_proposals(x, y, f(np.array([0.0]))[0], tol) + minimum_proposals(x, y, tol)}
        new -= set(xs)
        if not new:
            break
        xs = sorted(set(xs) | new)
    return np.array(xs)


def test_crossings_and_minimum_of_an_analytic_curve_converge_within_tolerance():
    f = lambda c: 3.0 + c * (c - 0.731) * (c - 1.4172)      # L - L(0) vanishes at the base and at two roots
    roots = np.array([0.731, 1.4172])
    grid = np.linspace(-0.25, 2.0, 10)                     # step 0.25: brackets much wider than tol
    xs = refine_analytic(f, grid, tol=1e-3)
    crossings = find_crossings(xs, f(xs), 3.0)
    assert len(crossings) == 2                              # each root once, base excluded
    for c, r in zip(crossings, roots):
        assert abs(c["x"] - r) < 1e-3 and c["right"][0] - c["left"][0] <= 1e-3 + 1e-12
    # the local minimum between the roots (f' = 0), refined to the tolerance
    fine = np.linspace(roots[0], roots[1], 200_001)
    true_min = fine[np.argmin(f(fine))]
    i = int(np.argmin(np.where((xs > roots[0]) & (xs < roots[1]), f(xs), np.inf)))
    assert abs(xs[i] - true_min) < 1e-3
    assert len(xs) - len(grid) < 60                         # refinement is cheap next to a dense grid


def test_no_proposals_where_nothing_to_refine():
    x = np.linspace(-1, 1, 9)
    assert crossing_proposals(x, x * x + 1, 1.0, 1e-3) == []          # only the base touches L(0)
    assert minimum_proposals(x, x, 1e-3) == []                        # minimum at the edge


def test_refinement_rounds_on_the_toy_model(toy, tmp_path):
    out = tmp_path / "refined"
    cfg = load_config(make_config(toy, tmp_path, out, alpha={"start": -3.0, "stop": 3.0, "num": 7}),
                      ["sweep.refine_rounds=3", "sweep.refine_tol=0.01"])
    assert pipeline.sweep(cfg, out, progress=False)["complete"]
    added = pipeline.refine(cfg, out, 3, 0.01, progress=False)
    assert added and all(n > 0 for n in added)
    plan = load_plan(out)
    rounds = [p.round for p in plan.points]
    assert sum(r > 0 for r in rounds) == sum(added) == plan.refined_points
    assert set(OutDir(out).evaluation_counts().values()) == {1}      # nothing evaluated twice
    assert pipeline.sweep(cfg, out, progress=False)["evaluated"] == 0   # refined points survive re-planning
    from sitv_dist.sweep.reduce import reduce
    reduce(out)
    res = json.loads((out / "results" / "line_mytask.json").read_text())
    refined = [res["points"][i] for i in res["index"]["refined"]]
    assert len(refined) == sum(added) and all(p["round"] >= 1 and p["origin"] != "planned" for p in refined)
    coeffs = [res["points"][i]["coefficients"][0] for i in res["index"]["all"]]
    assert coeffs == sorted(coeffs) and len(coeffs) == len(set(coeffs))


def test_findings_come_from_all_points_on_the_line_refinement_included(toy, tmp_path):
    from sitv_dist.results.analysis.landscape import analyse
    from sitv_dist.sweep.reduce import reduce
    out = tmp_path / "summary"
    cfg = load_config(make_config(toy, tmp_path, out, alpha={"start": -3.0, "stop": 3.0, "num": 7}))
    pipeline.sweep(cfg, out, progress=False)
    pipeline.refine(cfg, out, 4, 0.01, progress=False)
    reduce(out)
    res = json.loads((out / "results" / "line_mytask.json").read_text())
    an = analyse(res)
    assert an["samples"]["c"] == [res["points"][i]["coefficients"][0] for i in res["index"]["all"]]
    assert an["samples"]["refined"] == len(res["index"]["refined"]) > 0
    xs = [res["points"][i]["coefficients"][0] for i in res["index"]["all"]]
    ys = [res["points"][i]["general"]["loss"] for i in res["index"]["all"]]
    assert an["minima"] or an["crossings"]
    for m in an["minima"]:
        k = xs.index(m["x"])
        assert ys[k] == m["loss"] and ys[k] < ys[k - 1] and ys[k] <= ys[k + 1]
        assert m["bracket"] == [xs[k - 1], xs[k + 1]] and m["depth"] == m["loss"] - res["base_loss"]
    for c in an["crossings"]:
        assert c["left"][0] < c["x"] < c["right"][0] and xs.index(c["right"][0]) == xs.index(c["left"][0]) + 1


def test_rerun_adds_no_rounds_beyond_the_configured_total(toy, tmp_path):
    out = tmp_path / "idem"
    cfg = load_config(make_config(toy, tmp_path, out, alpha={"start": -3.0, "stop": 3.0, "num": 7}))
    pipeline.sweep(cfg, out, progress=False)
    first = pipeline.refine(cfg, out, 2, 1e-6, progress=False)
    assert len(first) == 2
    assert pipeline.refine(cfg, out, 2, 1e-6, progress=False) == []       # already 2 rounds: nothing new
    assert len(pipeline.refine(cfg, out, 3, 1e-6, progress=False)) == 1   # one more when asked for 3 in all
