"""Merge sweeps (a density axis): config, plan, reduced results, L(α, density) analysis, report, plots."""
from __future__ import annotations

import json

import numpy as np
import pytest

from sitv_dist.config import ConfigError, ExperimentConfig, RangeConfig, SweepConfig, TaskConfig
from sitv_dist.config.merge_sweep import MergeSweepConfig
from sitv_dist.vectors.ops.ops_registry import check_merge_sweep, merge_sweep_specs
from sitv_dist.io import write_json
from sitv_dist.results.report.run_report import write_report
from sitv_dist.sweep.evaluation import EvalSet, summarize
from sitv_dist.sweep.plan import make_plan

from conftest import synthetic_inputs
from sitv_dist.sweep.reduce import reduce


def loss(c: float, density: float) -> float:
    """General loss along the merged direction at one density: minimum at α = density."""
    return 3.0 + (c - density) ** 2 - density ** 2


def task_a(c: float, density: float) -> float:
    return 2.0 + 0.5 * density * ((c - 1.0) ** 2 - 1.0)      # the base point (α = 0) is shared


def config(tmp_path, **merge) -> ExperimentConfig:
    m = MergeSweepConfig(op="ties", of=["a", "b"], density=RangeConfig(0.25, 1.0, 4), alpha=RangeConfig(0.0, 1.5, 7),
                         **merge)
    return ExperimentConfig(out_dir=str(tmp_path), tasks=[TaskConfig(name="a", train=""), TaskConfig(name="b", train="")],
                            sweep=SweepConfig(directions=[], grids=[], merge_sweeps=[m]))


def build(out, cfg) -> dict:
    """Point files as the worker writes them (per-text NLL), then the real reducer."""
    plan = make_plan(cfg, synthetic_inputs(cfg, "fp"))
    density = {s.directions[0]: s.merge["density"] for s in plan.sweeps}
    rng = np.random.default_rng(0)
    sets = {"general": EvalSet("general", ["x"] * 20, rng.integers(5, 30, 20), []),
            "task:a": EvalSet("task:a", ["all"] * 8, rng.integers(5, 30, 8), []),
            "task:b": EvalSet("task:b", ["all"] * 8, rng.integers(5, 30, 8), [])}
    write_json(out / "eval_sets.json", {n: {"texts": len(s.categories), "tokens": s.tokens.tolist(),
                                            "categories": s.categories} for n, s in sets.items()}, indent=None)
    write_json(out / "plan.json", plan.to_json(), indent=None)
    for p in plan.points:
        c = dict(zip(plan.directions, p.coefficients))
        (d, x), = [(d, x) for d, x in c.items() if x != 0.0] or [(plan.directions[0], 0.0)]
        record = {"id": p.id, "fingerprint": p.fingerprint, "coefficients": c, "sets": {}, "time_s": 0.1}
        for s in p.sets:
            value = loss(x, density[d]) if s == "general" else task_a(x, density[d]) if s == "task:a" else 2.5
            nll = value * sets[s].tokens.astype(float)
            record["sets"][s] = summarize(sets[s], nll) | {"per_text_nll": nll.tolist()}
        write_json(out / "points" / f"{p.id}.json", record, indent=None)
    reduce(out)
    return density


def test_config_expands_one_direction_and_one_line_per_density(tmp_path):
    cfg = config(tmp_path)
    m = cfg.sweep.merge_sweeps[0]
    assert m.densities() == [0.25, 0.5, 0.75, 1.0]
    assert merge_sweep_specs(m) == {f"merge_ties_a__b_d{d:g}": {"ties": ["a", "b"], "weights": [1.0, 1.0], "density": d}
                              for d in (0.25, 0.5, 0.75, 1.0)}
    assert cfg.direction_names() == list(merge_sweep_specs(m))
    plan = make_plan(cfg, synthetic_inputs(cfg, "fp"))
    assert [s.name for s in plan.sweeps] == [f"line_merge_ties_a__b_d{d:g}" for d in (0.25, 0.5, 0.75, 1.0)]
    assert all(s.kind == "line" and not s.squaring and s.merge["sweep"] == "merge_ties_a__b" for s in plan.sweeps)
    assert plan.unique_points == 4 * 6 + 1            # 6 non-zero α per density, one shared base point
    dare = merge_sweep_specs(MergeSweepConfig(op="dare_ties", of=["a"], seed=3, name="d"))
    assert dare["d_d0.1"] == {"dare_ties": ["a"], "weights": [1.0], "density": 0.1, "seed": 3}


@pytest.mark.parametrize("merge, message", [
    ({"op": "average"}, "op: one of"),
    ({"of": []}, "of: give the task vectors"),
    ({"density": RangeConfig(0.0, 1.0, 3)}, "density.start: above 0"),
    ({"density": RangeConfig(0.5, 1.2, 3)}, "density.stop: at most 1"),
    ({"seed": 2}, "seed: applies to dare"),
    ({"weights": [1.0]}, "weights: give one number per task vector"),
    ({"op": "magnitude_prune"}, "magnitude_prune takes one task vector"),
    ({"density": RangeConfig(0.1, 0.1000001, 3)}, "distinct names"),
])
def test_bad_merge_sweeps_name_the_key(merge, message):
    m = MergeSweepConfig(**({"of": ["a", "b"]} | merge))
    with pytest.raises(ConfigError, match=message) as info:
        m.validate("sweep.merge_sweeps.0")
        check_merge_sweep(m, "sweep.merge_sweeps.0")
    assert str(info.value).startswith("sweep.merge_sweeps.0")


def test_unknown_merge_source_is_refused_before_anything_loads():
    merge = MergeSweepConfig(of=["sentiment_positive", "zzz"])
    cfg = ExperimentConfig(sweep=SweepConfig(directions=[], grids=[], merge_sweeps=[merge]))
    with pytest.raises(ConfigError, match=r"sweep.merge_sweeps.0.of: unknown task vector 'zzz'"):
        cfg.validate()


def test_merge_sweep_analysis_report_and_plots(tmp_path):
    out = tmp_path / "run"
    build(out, config(out))
    res = json.loads((out / "results" / "line_merge_ties_a__b_d0.5.json").read_text())
    assert res["merge"]["density"] == 0.5 and res["merge"]["op"] == "ties"
    an = write_report(out, bootstrap=50)
    m = an["merge_sweeps"]["merge_ties_a__b"]
    alpha = [0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5]
    assert m["densities"] == [0.25, 0.5, 0.75, 1.0] and m["alpha"] == alpha
    for row, d in zip(m["general"], m["densities"]):
        assert row == pytest.approx([loss(a, d) for a in alpha], abs=1e-12)
    for row, d in zip(m["tasks"]["a"], m["densities"]):
        assert row == pytest.approx([task_a(a, d) for a in alpha], abs=1e-12)
    assert m["min"] == {"density": 1.0, "alpha": 1.0, "loss": pytest.approx(2.0)}
    assert [p["general_min"]["alpha"] for p in m["per_density"]] == [0.25, 0.5, 0.75, 1.0]
    # barrier at each density: L is convex in α, so it is 0
    assert [p["barrier"] for p in m["per_density"]] == [0.0] * 4
    assert an["plots"]["merge_ties_a__b"] == ["plots/merge_ties_a__b_curves.png", "plots/merge_ties_a__b_heatmap.png"]
    assert all((out / p).stat().st_size > 5000 for p in an["plots"]["merge_ties_a__b"])
    md = (out / "report.md").read_text()
    section = md.split("## Merge sweeps: L(α, density)\n", 1)[1].split("\n## ", 1)[0]
    assert "### merge_ties_a__b: ties of a, b" in section
    assert "| 0.5000 | 2.7500 | 0.5000 | 0.0000 |" in section
    assert "![merge_ties_a__b: merge_ties_a__b_heatmap](plots/merge_ties_a__b_heatmap.png)" in section
    on_disk = json.loads((out / "analysis.json").read_text())
    assert on_disk["merge_sweeps"] == an["merge_sweeps"]


def test_shipped_merge_config_plans_a_density_sweep_and_an_attention_mlp_grid():
    from pathlib import Path

    from sitv_dist.config import load_config
    cfg = load_config(Path(__file__).resolve().parents[2] / "configs" / "merge-density.yaml")
    plan = make_plan(cfg, synthetic_inputs(cfg, "fp"))
    merges = [s for s in plan.sweeps if s.merge]
    assert [s.merge["density"] for s in merges] == [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    grid = next(s for s in plan.sweeps if s.kind == "grid")
    assert grid.directions == ["qa_attention", "qa_mlp"]
    # 10 densities × 15 non-zero α, 20 non-zero α of the DARE line, 11 × 11 − 1 grid cells, one base
    assert plan.unique_points == 10 * 15 + 20 + 120 + 1
