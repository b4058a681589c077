"""Bootstrap over eval texts: coverage on simulated data, crossings and arg-min, loading from an OUT dir."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from sitv_dist.results.uncertainty import bootstrap as U
from sitv_dist.results.uncertainty import run_bootstrap as S
from sitv_dist.results.analysis.landscape import analyse
from sitv_dist.sweep.crossings import find_crossings
from sitv_dist.config import ExperimentConfig, RangeConfig, SweepConfig, TaskConfig
from sitv_dist.sweep.evaluation import EvalSet, summarize
from sitv_dist.io import write_json
from sitv_dist.sweep.plan import make_plan
from sitv_dist.sweep.reduce import reduce

from conftest import synthetic_inputs

ALPHA = [round(k / 10, 10) + 0.0 for k in range(-5, 16)]   # contains 0, 2α on the grid
ROOT = 1.234                                              # f(α) = f(0) again here (not a sample)


def simulate(alpha, f, n, rng, u_sd=0.4, v_sd=0.3):
    """Per-text NLL sums of n texts whose token-weighted population loss at α is exactly f(α).

    Text i has t_i tokens and per-token loss f(α) + u_i + v_i α with u, v independent of t and
    of mean 0, so E[Σ t m] / E[Σ t] = f(α)."""
    a = np.asarray(alpha, dtype=float)
    tokens = rng.integers(10, 60, n).astype(float)
    u, v = rng.normal(0, u_sd, n), rng.normal(0, v_sd, n)
    per_token = np.asarray([f(x) for x in a])[:, None] + u[None, :] + v[None, :] * a[:, None]
    return per_token * tokens[None, :], tokens


def quad(a: float) -> float:
    return 3.0 + a * (a - ROOT)


# ----------------------------------------------------------------------------- resampling
def test_resample_counts_sizes_strata_and_seed():
    n, b = 12, 50
    strata = ["a"] * 3 + ["b"] * 5 + ["c"] * 4
    c1 = U.resample_counts(n, b, np.random.default_rng(7), strata)
    c2 = U.resample_counts(n, b, np.random.default_rng(7), strata)
    assert c1.shape == (b, n) and np.array_equal(c1, c2)
    assert (c1.sum(axis=1) == n).all()
    labels = np.array(strata)
    for s, size in (("a", 3), ("b", 5), ("c", 4)):
        assert (c1[:, labels == s].sum(axis=1) == size).all()
    plain = U.resample_counts(n, 2000, np.random.default_rng(1))
    assert (plain.sum(axis=1) == n).all()
    assert plain.mean() == pytest.approx(1.0) and plain.var() == pytest.approx(1 - 1 / n, abs=0.03)


def test_replicate_losses_equal_explicit_resamples():
    rng = np.random.default_rng(3)
    nll, tokens = simulate(ALPHA, quad, 30, rng)
    idx = rng.integers(0, 30, size=(5, 30))
    counts = np.stack([np.bincount(row, minlength=30) for row in idx])
    reps = U.replicate_losses(nll, tokens, counts)
    for b in range(5):
        explicit = nll[:, idx[b]].sum(axis=1) / tokens[idx[b]].sum()
        np.testing.assert_allclose(reps[b], explicit, rtol=1e-12)
    np.testing.assert_allclose(U.observed_losses(nll, tokens), nll.sum(1) / tokens.sum(), rtol=1e-15)


def test_nonfinite_text_makes_the_point_nan_in_every_replicate():
    rng = np.random.default_rng(0)
    nll, tokens = simulate(ALPHA, quad, 20, rng)
    nll[-1, 4] = np.nan
    reps = U.replicate_losses(nll, tokens, U.resample_counts(20, 100, rng))
    assert np.isnan(reps[:, -1]).all() and np.isfinite(reps[:, :-1]).all()
    out = U.line_bootstrap(ALPHA, nll, tokens, ALPHA.index(0.0), replicates=100)
    assert out["points"][-1]["ci"] is None and out["points"][-1]["value"] is None
    assert out["points"][0]["ci"] is not None


# ----------------------------------------------------------------------------- coverage
def test_intervals_cover_the_true_loss_at_the_nominal_rate():
    """200 simulated eval sets: the 95% interval of L(α) and of L(α) − L(0) holds the truth ≥ 90% of the time."""
    alpha = [-0.5, 0.0, 0.5, 1.0, 1.5]
    truth = np.array([quad(a) for a in alpha])
    rng = np.random.default_rng(2024)
    hits = np.zeros(len(alpha))
    dhits = np.zeros(len(alpha))
    trials = 200
    for _ in range(trials):
        nll, tokens = simulate(alpha, quad, 200, rng)
        reps = U.replicate_losses(nll, tokens, U.resample_counts(200, 500, rng))
        lo, hi = U.percentile_interval(reps, 0.95)
        hits += (lo <= truth) & (truth <= hi)
        dlo, dhi = U.percentile_interval(reps - reps[:, [1]], 0.95)
        dtruth = truth - truth[1]
        dhits += (dlo <= dtruth + 1e-12) & (dtruth - 1e-12 <= dhi)
    rate, drate = hits / trials, dhits / trials
    assert (rate >= 0.90).all(), rate
    assert (np.delete(drate, 1) >= 0.90).all(), drate
    assert rate.mean() <= 0.99                  # intervals are not trivially wide
    # the paired difference is much tighter than the two losses' own intervals
    nll, tokens = simulate(alpha, quad, 200, rng)
    reps = U.replicate_losses(nll, tokens, U.resample_counts(200, 500, rng))
    width = np.subtract(*U.percentile_interval(reps, 0.95)[::-1])
    dwidth = np.subtract(*U.percentile_interval(reps - reps[:, [1]], 0.95)[::-1])
    assert dwidth[2] < 0.5 * width[2]


def test_crossing_interval_contains_the_true_crossing():
    rng = np.random.default_rng(11)
    nll, tokens = simulate(ALPHA, quad, 400, rng)
    out = U.line_bootstrap(ALPHA, nll, tokens, ALPHA.index(0.0), replicates=1000, seed=5)
    assert len(out["crossings"]) == 1
    c = out["crossings"][0]
    assert c["direction"] == "up" and c["left"][0] == 1.2 and c["right"][0] == 1.3
    assert c["ci"][0] < ROOT < c["ci"][1]
    assert 0 < c["ci"][1] - c["ci"][0] < 0.2
    assert c["exists"] > 0.95
    # the observed crossing is exactly what analysis.find_crossings reports on the same curve
    obs = U.observed_losses(nll, tokens)
    assert c["x"] == find_crossings(ALPHA, obs, obs[ALPHA.index(0.0)])[0]["x"]
    verdict = out["returns_to_base"]
    assert verdict["crossings"][0]["resolved"] is True
    assert "changes sign between the samples α = 1.2000 and α = 1.3000" in verdict["statement"]
    # same seed, same numbers
    again = U.line_bootstrap(ALPHA, nll, tokens, ALPHA.index(0.0), replicates=1000, seed=5)
    assert again == out


def test_crossing_interval_coverage_over_simulated_sets():
    rng = np.random.default_rng(99)
    hits, trials = 0, 30
    for t in range(trials):
        nll, tokens = simulate(ALPHA, quad, 300, rng)
        out = U.line_bootstrap(ALPHA, nll, tokens, ALPHA.index(0.0), replicates=250, seed=t)
        c = [c for c in out["crossings"] if c["direction"] == "up"]
        hits += bool(c) and c[0]["ci"][0] <= ROOT <= c[0]["ci"][1]
    assert hits / trials >= 0.85, hits


def test_argmin_interval_contains_the_true_minimum():
    f = lambda a: 3.0 + a * (a - 1.2)  # noqa: E731  (minimum at α = 0.6, a sample)
    rng = np.random.default_rng(4)
    nll, tokens = simulate(ALPHA, f, 400, rng)
    out = U.line_bootstrap(ALPHA, nll, tokens, ALPHA.index(0.0), replicates=1000, seed=1)
    am = out["argmin"]
    assert am["ci"][0] <= 0.6 <= am["ci"][1]
    assert am["ci"][0] in ALPHA and am["ci"][1] in ALPHA          # ends are sampled α's
    assert am["interior"] == 1.0 and 0 < am["at_observed"] <= 1
    assert am["min_loss_ci"][0] < am["y"] < am["min_loss_ci"][1]
    assert sum(am["distribution"].values()) <= 1.0 + 1e-12


def test_unresolved_sign_change_is_reported_as_such():
    """L(α) − L(0) = 0.002 α(α − 1.05) measured exactly, but texts disagree by ±0.5 α: the
    observed crossing is real in this sample, yet the intervals around it include 0."""
    n = 200
    tokens = np.repeat(np.arange(10, 60, 0.5)[:n // 2], 2)
    v = np.tile([0.5, -0.5], n // 2)                     # Σ t v = 0 exactly
    a = np.asarray(ALPHA)
    per_token = (3 + 0.002 * a * (a - 1.05))[:, None] + v[None, :] * a[:, None]
    nll = per_token * tokens[None, :]
    out = U.line_bootstrap(ALPHA, nll, tokens, ALPHA.index(0.0), replicates=500, seed=0)
    assert [c["left"][0] for c in out["crossings"]] == [1.0]
    assert out["returns_to_base"]["crossings"][0]["resolved"] is False
    assert "not distinguishable from eval-set sampling noise" in out["returns_to_base"]["statement"]
    assert out["crossings"][0]["exists"] < 0.9
    assert len(out["returns_to_base"]["indistinguishable_alpha"]) == len(ALPHA) - 1


def test_no_crossing_statement():
    rng = np.random.default_rng(8)
    nll, tokens = simulate(ALPHA, lambda a: 3.0 + a * a, 200, rng, v_sd=0.05)
    out = U.line_bootstrap(ALPHA, nll, tokens, ALPHA.index(0.0), replicates=300)
    assert out["crossings"] == []
    assert out["returns_to_base"]["statement"].startswith("No sign change of L(α) − L(0) in the sampled range.")


def test_two_crossings_are_matched_separately():
    """A cubic with roots at −0.333 and 1.234 (and the base at 0): each has its own interval.

    The intervals cover eval-set sampling only, so their target is the crossing that linear
    interpolation finds on the noise-free samples (at −0.333 that differs from the root by
    0.007, more than the sampling noise; the interpolation bracket is reported beside it)."""
    f = lambda a: 3.0 + a * (a + 0.333) * (a - ROOT)  # noqa: E731
    rng = np.random.default_rng(21)
    nll, tokens = simulate(ALPHA, f, 400, rng, v_sd=0.2)
    out = U.line_bootstrap(ALPHA, nll, tokens, ALPHA.index(0.0), replicates=500, seed=2)
    target = [c["x"] for c in find_crossings(ALPHA, [f(a) for a in ALPHA], f(0.0))]
    assert len(out["crossings"]) == 2 == len(target)
    (c1, c2) = out["crossings"]
    assert c1["ci"][0] <= target[0] <= c1["ci"][1] and c2["ci"][0] <= target[1] <= c2["ci"][1]
    assert c1["left"][0] <= -0.333 <= c1["right"][0] and c2["left"][0] <= ROOT <= c2["right"][0]
    assert c1["exists"] > 0.95 and c2["exists"] > 0.95
    assert c1["window"][1] <= 0.0 <= c2["window"][0]            # the base splits the runs
    assert c1["direction"] == "up" and c2["direction"] == "up"     # f − f(0): −, + (on −0.333..0), −, +


def test_bootstrap_is_fast():
    rng = np.random.default_rng(0)
    alpha = [round(x, 10) for x in np.linspace(-0.5, 1.5, 101)]
    nll, tokens = simulate(alpha, quad, 400, rng)
    start = time.perf_counter()
    out = U.line_bootstrap(alpha, nll, tokens, alpha.index(0.0), replicates=1000)
    elapsed = time.perf_counter() - start
    assert len(out["points"]) == 101 and len(out["crossings"]) == 1
    assert elapsed < 5.0, elapsed      # ~0.4 s on one core


# ----------------------------------------------------------------------------- from an OUT dir
CATEGORIES = ("coding", "common_knowledge", "mixed_domain", "wikitext")


def build_run(out: Path, directions=("alpha_task",), name="exp", seed=0, shape=None, n_general=80, n_task=24,
              alpha=(-0.5, 1.5, 21), points=True) -> Path:
    """A synthetic but schema-exact run: plan from the real planner, point files as the worker
    writes them (per-text NLL, summaries by evaluation.summarize), results by the real reducer.

    General per-token loss of text i at coefficients c: shape[d](c_d) summed over directions
    (minus 3 for all but one) + u_i + Σ_d v_{d,i} c_d; task d's: 2 + (c_d − 0.8)² + noise."""
    shape = shape or {d: quad for d in directions}
    rng = np.random.default_rng(seed)
    cfg = ExperimentConfig(name=name, out_dir=str(out), tasks=[TaskConfig(name=d, train="") for d in directions],
                           sweep=SweepConfig(directions=list(directions), alpha=RangeConfig(*alpha), grids=[]))
    plan = make_plan(cfg, synthetic_inputs(cfg, "fp-" + name))
    gen_tokens = rng.integers(10, 60, n_general)
    cats = [CATEGORIES[i % 4] for i in range(n_general)]
    sets = {"general": EvalSet("general", cats, gen_tokens, [])}
    u = rng.normal(0, 0.3, n_general)
    v = {d: rng.normal(0, 0.2, n_general) for d in directions}
    task_noise = {}
    for d in directions:
        sets[f"task:{d}"] = EvalSet(f"task:{d}", ["all"] * n_task, rng.integers(5, 30, n_task), [])
        task_noise[d] = (rng.normal(0, 0.2, n_task), rng.normal(0, 0.3, n_task))
    write_json(out / "eval_sets.json", {n: {"texts": len(s.categories), "tokens": s.tokens.tolist(),
                                            "categories": s.categories} for n, s in sets.items()}, indent=None)
    write_json(out / "plan.json", plan.to_json(), indent=None)
    for p in plan.points:
        c = dict(zip(plan.directions, p.coefficients))
        record = {"id": p.id, "fingerprint": p.fingerprint, "coefficients": c, "sets": {},
                  "time_s": 0.1, "device": "cpu"}
        for s in p.sets:
            if s == "general":
                level = sum(shape[d](c[d]) for d in directions) - 3.0 * (len(directions) - 1)
                per_token = level + u + sum(v[d] * c[d] for d in directions)
            else:
                d = s[5:]
                a0, a1 = task_noise[d]
                per_token = 2.0 + (c[d] - 0.8) ** 2 + a0 + a1 * c[d]
            nll = per_token * sets[s].tokens
            summary = summarize(sets[s], nll)
            summary["per_text_nll"] = nll.tolist()
            record["sets"][s] = summary
        write_json(out / "points" / f"{p.id}.json", record, indent=None)
    reduce(out)
    if not points:
        import shutil
        shutil.rmtree(out / "points")
    return out


def test_sweep_uncertainty_from_out_dir(tmp_path):
    out = build_run(tmp_path / "run")
    res = json.loads((out / "results" / "line_alpha_task.json").read_text())
    an = analyse(res)
    unc = S.sweep_uncertainty(out, res, replicates=400, seed=3)
    assert unc["available"], unc
    line = unc["general"]["line"]
    assert line["ref"] == res["base_loss"]
    # by default over every point on the line: the samples the analysis takes its findings from
    assert unc["line_index"] == "all"
    assert [p["value"] for p in line["points"]] == an["samples"]["general"]
    assert [c["x"] for c in line["crossings"]] == [c["x"] for c in an["crossings"]]
    assert [c["x"] for c in unc["general"]["squaring"]["crossings"]] == [c["x"] for c in an["squaring"]["crossings"]]
    assert [c["x"] for c in unc["general"]["compositional"]["crossings"]] == \
        [c["x"] for c in an["compositional"]["crossings"]]
    assert line["crossings"][0]["ci"][0] <= ROOT <= line["crossings"][0]["ci"][1]
    assert line["argmin"]["x"] == an["general_min"]["x"]
    for p in line["points"]:
        assert p["ci"][0] <= p["value"] <= p["ci"][1]
    assert line["difference"][an["samples"]["c"].index(0.0)]["ci"] == [0.0, 0.0]     # paired: L(0) − L(0) is 0 in every replicate
    task = unc["task"]
    assert task["task"] == "alpha_task" and task["ref"] == an["task_base_loss"]
    assert task["argmin"]["x"] == an["task_min"]["x"] and task["argmin"]["ci"][0] <= 0.8 <= task["argmin"]["ci"][1]
    assert unc["stratified"] is True
    json.dumps(unc, allow_nan=False)
    assert S.sweep_uncertainty(out, res, replicates=400, seed=3) == unc


def test_sweep_uncertainty_over_every_point_on_the_line(tmp_path):
    """line_index="all": the α grid, 2α and α+α² points together (as refinement rounds add more)."""
    out = build_run(tmp_path / "run")
    res = json.loads((out / "results" / "line_alpha_task.json").read_text())
    unc = S.sweep_uncertainty(out, res, replicates=300, line_index="all")
    assert unc["available"] and unc["line_index"] == "all"
    pts = res["points"]
    xs = [pts[i]["coefficients"][0] for i in res["index"]["all"]]
    ys = [pts[i]["general"]["loss"] for i in res["index"]["all"]]
    assert xs == sorted(xs) and len(xs) > len(ALPHA)
    line = unc["general"]["line"]
    assert [p["alpha"] for p in line["points"]] == xs
    assert [c["x"] for c in line["crossings"]] == [c["x"] for c in find_crossings(xs, ys, res["base_loss"])]
    assert line["crossings"][0]["ci"][0] <= ROOT <= line["crossings"][0]["ci"][1]
    assert S.sweep_uncertainty(out, res, replicates=10, line_index="nope")["available"] is False


def test_sweep_uncertainty_unavailable_cases(tmp_path):
    out = build_run(tmp_path / "run")
    res = json.loads((out / "results" / "line_alpha_task.json").read_text())
    res_bad = json.loads(json.dumps(res))
    res_bad["points"][3]["general"]["loss"] += 1e-3
    bad = S.sweep_uncertainty(out, res_bad, replicates=50)
    assert bad["available"] is False and "per-text sums give" in bad["reason"]
    pid = res["points"][2]["id"]
    (out / "points" / f"{pid}.json").unlink()
    gone = S.sweep_uncertainty(out, res, replicates=50)
    assert gone == {"available": False, "reason": f"{out / 'points' / (pid + '.json')} is missing"}
    assert S.run_uncertainty(tmp_path / "nothing", {"x": res}) == {}


def test_report_lines_carry_intervals_when_points_exist(tmp_path):
    from sitv_dist.results.report.run_report import write_report
    out = build_run(tmp_path / "run")
    an = write_report(out, bootstrap=200)
    md = (out / "report.md").read_text()
    u = an["uncertainty"]["line_alpha_task"]
    assert u["available"] and u["replicates"] == 200
    on_disk = json.loads((out / "analysis.json").read_text())
    assert on_disk["uncertainty"]["line_alpha_task"]["general"]["line"]["crossings"][0]["ci"] == \
        u["general"]["line"]["crossings"][0]["ci"]
    section = md.split("### line_alpha_task ", 1)[1].split("\n## ", 1)[0]
    ci = u["general"]["line"]["crossings"][0]["ci"]
    assert f"{ci[0]:.4f} .. {ci[1]:.4f}" in section
    assert an["sweeps"]["line_alpha_task"]["findings"]["crossings"][0]["interval"] == ci
    out2 = build_run(tmp_path / "run2", points=False)
    an2 = write_report(out2)
    assert "uncertainty" not in an2 and an2["sweeps"]["line_alpha_task"]["findings"]["crossings"][0]["interval"] is None
