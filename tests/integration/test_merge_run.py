"""`sitv run` end to end on the embedded default (tiny settings) with a density sweep (TIES of two
task vectors) and an attention × MLP grid (two restrictions of one task vector)."""
import json

import pytest
import torch
from peft.utils import merge_utils as MU
from safetensors.torch import load_file

from sitv_dist.cli import main

TINY = ["embedded.pretrain_steps=30", "embedded.hidden_size=32", "embedded.intermediate_size=64",
        "embedded.vocab_size=512", "finetune.max_steps=6", "finetune.epochs=2", "eval.max_texts=24",
        "sweep.refine_rounds=0", "tasks=[{name: sentiment_positive}, {name: sentiment_negative}]",
        "sweep.directions=[]",
        "sweep.derived_directions={attn: {restrict: sentiment_positive, group: [attention]}, "
        "mlp: {restrict: sentiment_positive, group: [mlp]}}",
        "sweep.grids=[{directions: [attn, mlp], range: {start: -1, stop: 1, num: 3}}]",
        "sweep.merge_sweeps=[{op: ties, of: [sentiment_positive, sentiment_negative], weights: [1.0, 0.5], "
        "density: {start: 0.5, stop: 1.0, num: 2}, alpha: {start: 0, stop: 1, num: 3}}]"]
MERGE = "merge_ties_sentiment_positive__sentiment_negative"


def sets(*overrides):
    return [x for o in overrides for x in ("--set", o)]


@pytest.mark.filterwarnings("ignore:The density")
def test_density_sweep_and_attention_mlp_grid_end_to_end(tmp_path):
    out = tmp_path / "run"
    assert main(["run", *sets(f"out_dir={out}", *TINY)]) == 0
    tv = {n: load_file(str(out / "task_vectors" / f"{n}.safetensors"))
          for n in ("sentiment_positive", "sentiment_negative", "attn", "mlp", f"{MERGE}_d0.5", f"{MERGE}_d1")}
    pos, neg = tv["sentiment_positive"], tv["sentiment_negative"]
    # the written directions: restrictions are T masked by name, merges are peft's, bitwise
    for n, t in pos.items():
        assert torch.equal(tv["attn"][n], t if ".self_attn." in n else torch.zeros_like(t)), n
        assert torch.equal(tv["mlp"][n], t if ".mlp." in n else torch.zeros_like(t)), n
        for d in (0.5, 1.0):
            expected = MU.ties([pos[n], neg[n]], torch.tensor([1.0, 0.5]), d, "total")
            assert torch.equal(tv[f"{MERGE}_d{d:g}"][n], expected), (n, d)

    analysis = json.loads((out / "analysis.json").read_text())
    report = (out / "report.md").read_text()
    # the density sweep: L(α, density), its plots and its report section
    m = analysis["merge_sweeps"][MERGE]
    assert m["densities"] == [0.5, 1.0] and m["alpha"] == [0.0, 0.5, 1.0]
    for k, d in enumerate((0.5, 1.0)):
        res = json.loads((out / "results" / f"line_{MERGE}_d{d:g}.json").read_text())
        assert res["merge"]["density"] == d
        assert m["general"][k] == [res["points"][i]["general"]["loss"] for i in res["index"]["line"]]
        # the barrier equals a direct computation from the results file (0 and 1 are sampled)
        by_alpha = {res["points"][i]["coefficients"][0]: res["points"][i]["general"]["loss"] for i in res["index"]["all"]}
        l0, l1 = by_alpha[0.0], by_alpha[1.0]
        direct = max(v - ((1 - a) * l0 + a * l1) for a, v in by_alpha.items() if 0 <= a <= 1)
        assert abs(analysis["sweeps"][res["sweep"]]["barrier"]["general"]["value"] - direct) < 1e-12
        assert m["per_density"][k]["barrier"] == analysis["sweeps"][res["sweep"]]["barrier"]["general"]["value"]
        assert set(m["tasks"]) == {"sentiment_positive", "sentiment_negative"}
    assert f"### {MERGE}: ties of sentiment_positive, sentiment_negative" in report
    assert "## Loss barriers" in report and f"| line_{MERGE}_d0.5 | general |" in report
    # the attention × MLP grid, with its additivity and plots
    grid = analysis["sweeps"]["grid_attn__mlp"]
    assert grid["directions"] == ["attn", "mlp"] and grid["additivity"]["cells"] == 4
    plots = set(analysis["plots"][MERGE]) | set(analysis["plots"]["grid_attn__mlp"])
    assert {f"plots/{MERGE}_curves.png", f"plots/{MERGE}_heatmap.png", "plots/grid_attn__mlp_heatmap.png"} <= plots
    assert all((out / p).stat().st_size > 10_000 for p in plots)
    assert all(f"({p})" in report for p in plots)
