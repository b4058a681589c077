"""`sitv run` end to end on a tiny embedded experiment, and the shipped configs."""
import json
import re

import pytest


from sitv_dist.cli import main
from sitv_dist.config import load_config, to_dict

TINY = ["embedded.pretrain_steps=30", "embedded.hidden_size=32", "embedded.intermediate_size=64",
        "embedded.vocab_size=512", "finetune.max_steps=6", "finetune.epochs=2", "eval.max_texts=24",
        "tasks=[{name: sentiment_positive}, {name: sentiment_negative}, {name: qa_factual}]",
        "sweep.directions=[sentiment_positive, qa_factual]", "sweep.alpha={start: -1, stop: 1, num: 5}",
        "sweep.grids.0.range={start: -1, stop: 1, num: 3}"]


def sets(*overrides):
    return [x for o in overrides for x in ("--set", o)]


def test_sitv_run_end_to_end(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", *sets(f"out_dir={out}", *TINY)]) == 0
    for name in ("report.md", "analysis.json", "plan.json", "timings.json", "config.resolved.yaml",
                 "results/line_sentiment_positive.json", "results/line_qa_factual.json",
                 "results/grid_sentiment_positive__sentiment_negative.json",
                 "task_vectors/qa_factual.safetensors", "finetune/qa_factual/history.json"):
        assert (out / name).is_file(), name
    plots = sorted(p.name for p in (out / "plots").glob("*.png"))
    assert "line_qa_factual_line.png" in plots and any("heatmap" in p for p in plots)
    assert all((out / "plots" / p).stat().st_size > 10_000 for p in plots)
    history = json.loads((out / "finetune" / "qa_factual" / "history.json").read_text())
    assert history["steps"][0]["step"] == 1 and len(history["epochs"]) >= 1
    assert all({"loss", "lr", "grad_norm", "epoch"} <= set(s) for s in history["steps"])

    res = json.loads((out / "results" / "line_qa_factual.json").read_text())
    analysis = json.loads((out / "analysis.json").read_text())
    base = res["points"][res["base_point"]]["general"]["loss"]
    assert res["base_loss"] == base
    assert analysis["sweeps"]["line_qa_factual"]["base_loss"] == base
    report = (out / "report.md").read_text()
    row = next(line for line in report.splitlines() if line.startswith("| line_qa_factual |"))
    assert f"{base:.4f}" in row
    findings = analysis["sweeps"]["line_qa_factual"]["findings"]
    cs = [res["points"][i]["coefficients"][0] for i in res["index"]["all"]]
    losses = [res["points"][i]["general"]["loss"] for i in res["index"]["all"]]
    best = min(range(len(cs)), key=lambda k: losses[k])
    assert findings["samples"] == len(cs) and findings["global_min"]["x"] == cs[best]
    assert row.split("|")[3].strip().startswith(f"{cs[best]:.3f} (")
    assert "## Lines" in report and "### line_qa_factual (direction `qa_factual`)" in report
    plan = json.loads((out / "plan.json").read_text())
    assert plan["requested_evaluations"] > plan["unique_points"]
    assert str(plan["requested_evaluations"] - plan["unique_points"]) in report
    # every grid point shares the one base with the lines
    grid = json.loads((out / "results" / "grid_sentiment_positive__sentiment_negative.json").read_text())
    assert grid["base_loss"] == base
    # accuracy on the embedded multiple-choice sets, with bootstrap intervals over items
    for task in ("sentiment_positive", "qa_factual"):
        line = json.loads((out / "results" / f"line_{task}.json").read_text())
        acc = analysis["accuracy"][f"line_{task}"]["series"][f"mc:{task}"]
        curve = [line["points"][i]["tasks"][task]["mc"]["acc"] for i in line["index"]["line"]]
        assert acc["items"] == 24 and acc["metrics"]["acc"]["curve"] == curve
        assert analysis["accuracy_uncertainty"][f"line_{task}"][task]["acc"]["ci"][2][0] <= curve[2]
        assert f"line_{task}_accuracy.png" in plots and f"| mc:{task} | acc |" in report
    assert "grid_sentiment_positive__sentiment_negative_accuracy_mc_sentiment_positive.png" in plots

    # exact slope and curvature at α = 0 of every eval set along each line (issue #14), controls beside
    d = analysis["sweeps"]["line_qa_factual"]["derivatives"]
    assert sorted(d) == ["general", "task:qa_factual", "task:sentiment_negative", "task:sentiment_positive"]
    assert d["general"]["loss"] == pytest.approx(base, rel=1e-5)
    controls = analysis["sweeps"]["line_qa_factual"]["derivative_controls"]
    assert [c["seed"] for c in controls] == [1, 2] and sorted(controls[0]["sets"]) == ["general", "task:qa_factual"]
    assert "## Slope and curvature at α = 0" in report
    derivatives_time = json.loads((out / "timings.json").read_text())["derivatives"]

    capsys.readouterr()
    assert main(["run", *sets(f"out_dir={out}", *TINY)]) == 0          # rerun: everything is done
    assert json.loads((out / "timings.json").read_text())["derivatives"] == derivatives_time
    assert re.search(r"sweep: 0 evaluated, \d+ already done", capsys.readouterr().out)


def test_shipped_default_config_is_the_builtin_default():
    shipped = to_dict(load_config("configs/default.yaml"))
    builtin = to_dict(load_config())
    assert shipped == builtin

