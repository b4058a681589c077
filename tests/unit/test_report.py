"""write_report on a synthetic OUT directory: files written, numbers traceable to the results."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from sitv_dist.config import EvalConfig, ExperimentConfig, FinetuneConfig, dump
from sitv_dist.results.report.run_report import write_report

ALPHA = [k / 10 for k in range(-5, 16)]  # -0.5 ... 1.5, contains 0 and shares 2α points
AXIS = [k / 2 for k in range(-4, 5)]
BASE = 3.0712345
CATS = ("coding", "wikitext")


def general(a: float) -> float:
    """Base loss at 0, returns to it at α = 1.234 (not a sample), minimum near α = 0.62."""
    return BASE + a * (a - 1.234)


def _point(coeffs, loss, tasks=None, cats=True):
    gen = {"loss": loss, "nll_sum": loss * 1000, "tokens": 1000}
    if cats:
        gen["categories"] = {c: {"loss": loss + k * 0.1, "nll_sum": (loss + k * 0.1) * 500, "tokens": 500}
                             for k, c in enumerate(CATS)}
    return {"id": "p" + "_".join(f"{c:+.6f}" for c in coeffs), "coefficients": list(coeffs),
            "general": gen, "tasks": tasks or {}, "time_s": 0.25 + 0.01 * len(coeffs)}


def line_results() -> dict:
    points, where = [], {}

    def idx(c, with_tasks):
        c = round(c, 12) + 0.0
        if c not in where:
            where[c] = len(points)
            points.append(_point([c], general(c)))
        if with_tasks:
            points[where[c]]["tasks"] = {
                "sentiment_positive": {"loss": 2.0 + (c - 0.8) ** 2, "nll_sum": 1.0, "tokens": 40},
                "sentiment_negative": {"loss": 2.5 + 0.3 * c, "nll_sum": 1.0, "tokens": 40}}
        return where[c]

    index = {"line": [idx(a, True) for a in ALPHA],
             "squaring": [idx(2 * a, False) for a in ALPHA],
             "compositional": [idx(a + a * a, False) for a in ALPHA]}
    bp = idx(0.0, True)
    index["all"] = sorted(where.values(), key=lambda i: points[i]["coefficients"][0])
    return {"schema": "sitv-dist/results/1", "sweep": "line_sentiment_positive", "kind": "line",
            "directions": ["sentiment_positive"], "task_of": {"sentiment_positive": "sentiment_positive"},
            "alpha": ALPHA, "index": index, "base_loss": points[bp]["general"]["loss"], "base_point": bp,
            "eval_sets": {"general": {"texts": 60, "tokens": 1000, "categories": list(CATS)},
                          "task:sentiment_positive": {"texts": 10, "tokens": 40}},
            "points": points}


def grid_results() -> dict:
    points, grid = [], []
    for a in AXIS:
        row = []
        for b in AXIS:
            row.append(len(points))
            points.append(_point([a, b], BASE + 0.3 * a * a + 0.2 * (b - 0.5) ** 2 + 0.1 * a * b, cats=False))
        grid.append(row)
    bp = grid[AXIS.index(0.0)][AXIS.index(0.0)]
    return {"schema": "sitv-dist/results/1", "sweep": "grid_pos_neg", "kind": "grid",
            "directions": ["sentiment_positive", "sentiment_negative"], "task_of": {}, "axes": [AXIS, AXIS],
            "index": {"grid": grid}, "base_loss": points[bp]["general"]["loss"], "base_point": bp,
            "eval_sets": {}, "points": points}


@pytest.fixture()
def out_dir(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    (out / "results").mkdir(parents=True)
    line, grid = line_results(), grid_results()
    for res in (line, grid):
        (out / "results" / f"{res['sweep']}.json").write_text(json.dumps(res))
    (out / "plan.json").write_text(json.dumps({
        "schema": "sitv-dist/plan/1", "fingerprint": "x", "directions": ["sentiment_positive"],
        "num_shards": 2, "requested_evaluations": 144, "unique_points": 120, "points": [], "sweeps": []}))
    (out / "timings.json").write_text(json.dumps({"finetune:sentiment_positive": 12.5, "sweep": 40.0,
                                                  "reduce": 0.5}))
    cfg = {"experiment": {"name": "demo", "out_dir": str(out)},
           "model": {"name": "tiny-llama", "dtype": "float32"},
           "tasks": [{"name": "sentiment_positive"}, {"name": "sentiment_negative"}],
           "sweeps": [{"name": "line_sentiment_positive"}, {"name": "grid_pos_neg"}],
           "eval": {"max_length": 128}}
    (out / "config.resolved.yaml").write_text(yaml.safe_dump(cfg))
    hist = out / "finetune" / "sentiment_positive" / "history.json"
    hist.parent.mkdir(parents=True)
    hist.write_text(json.dumps({
        "task": "sentiment_positive", "stopped_early": True, "best_epoch": 1, "epochs_run": 3,
        "steps": [{"step": 1, "epoch": 0, "loss": 5.1, "lr": 1e-4, "grad_norm": 3.2}],
        "epochs": [{"epoch": 0, "train_loss": 4.2, "val_loss": 4.0}, {"epoch": 1, "train_loss": 3.1, "val_loss": 3.3},
                   {"epoch": 2, "train_loss": 2.7, "val_loss": 3.4}], "time_s": 12.3}))
    return out


def _row(md: str, first_cell: str, section: str) -> list[str]:
    """Cells of the first table row starting with ``first_cell`` inside ``section``."""
    body = md.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    for line in body.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0] == first_cell:
            return cells
    raise AssertionError(f"no row {first_cell!r} in section {section!r}")


def test_write_report_files(out_dir: Path):
    an = write_report(out_dir)
    assert (out_dir / "report.md").stat().st_size > 0
    on_disk = json.loads((out_dir / "analysis.json").read_text())
    assert on_disk == json.loads(json.dumps(an))
    assert set(on_disk["sweeps"]) == {"line_sentiment_positive", "grid_pos_neg"}
    assert on_disk["dedupe"] == {"requested_evaluations": 144, "unique_points": 120, "saved": 24,
                                 "saved_fraction": pytest.approx(24 / 144)}
    pngs = [p for paths in on_disk["plots"].values() for p in paths]
    assert len(pngs) == 5  # line, categories; grid: heatmap, surface, slices
    for p in pngs:
        assert p.startswith("plots/") and (out_dir / p).stat().st_size > 1000
    md = (out_dir / "report.md").read_text()
    for p in pngs:
        assert md.count(f"]({p})") == 1                       # each figure once
    alts = [line.split("](")[0] for line in md.splitlines() if line.startswith("![")]
    assert len(alts) == len(set(alts)) == len(pngs)          # each with its own caption
    sections = [line[3:] for line in md.splitlines() if line.startswith("## ")]
    assert sections[0] == "Summary" and sections[1] == "Lines"
    for section in ("Grid sweeps", "Per-category losses", "Training history", "Timing breakdown", "Dedupe",
                    "Configuration", "Appendix: sampled values"):
        assert section in sections
    assert "[config.resolved.yaml](config.resolved.yaml)" in md and "max_length: 128" not in md


def test_report_numbers_match_results(out_dir: Path):
    write_report(out_dir)
    md = (out_dir / "report.md").read_text()
    res = json.loads((out_dir / "results" / "line_sentiment_positive.json").read_text())
    pts = res["points"]
    cs = [pts[i]["coefficients"][0] for i in res["index"]["all"]]
    ys = [pts[i]["general"]["loss"] for i in res["index"]["all"]]
    l0 = res["base_loss"]
    k = int(np.argmin(ys))
    summary = _row(md, "line_sentiment_positive", "Summary")
    assert summary[1] == f"{l0:.4f}"
    assert summary[2] == f"{cs[k]:.3f} ({ys[k] - l0:+.2f})" and abs(cs[k] - 0.617) < 0.03
    # one return to the base loss at c = 1.234, located between the evaluated points around it
    j = next(i for i in range(len(cs) - 1) if cs[i] > 0 and ys[i] < l0 <= ys[i + 1])
    x = cs[j] + (cs[j + 1] - cs[j]) * (ys[j] - l0) / (ys[j] - ys[j + 1])
    assert summary[3] == f"{x:.3f}" and abs(x - 1.234) < 0.01      # no per-point files: not bootstrapped
    cross = _row(md, "1", "Lines")
    assert cross[1] == f"{x:.4f}" and cross[3] == "up"
    assert _row(md, "coding", "Per-category losses")[1] == f"{l0:.4f}"
    grid_res = json.loads((out_dir / "results" / "grid_pos_neg.json").read_text())
    g0 = grid_res["points"][grid_res["base_point"]]["general"]["loss"]
    assert _row(md, "base loss L(0, 0)", "Grid sweeps")[1] == f"{g0:.4f}" == f"{BASE + 0.05:.4f}"
    gmin = min(p["general"]["loss"] for p in grid_res["points"])
    assert _row(md, "minimum", "Grid sweeps")[1] == f"{gmin:.4f}"
    assert _row(md, "grid_pos_neg", "Summary")[3] == f"{gmin:.4f}"
    assert _row(md, "sentiment_positive", "Training history")[1:6] == ["3", "1", "yes", "2.7000", "3.4000"]
    times = {p["id"]: p["time_s"] for r in (res, grid_res) for p in r["points"]}
    assert f"mean {np.mean(list(times.values())):.3f} s over {len(times)} unique points" in md
    assert "saving 24 (17%)" in md
    assert _row(md, "sweep", "Timing breakdown")[1:] == ["40.0", f"{100 * 40 / 53:.0f}%"]


def test_report_says_when_nothing_crosses(out_dir: Path):
    path = out_dir / "results" / "line_sentiment_positive.json"
    res = json.loads(path.read_text())
    for p in res["points"]:  # make L(α) ≥ L(0) everywhere except the base: no sign change
        c = p["coefficients"][0]
        p["general"]["loss"] = BASE + c * c
    path.write_text(json.dumps(res))
    write_report(out_dir)
    md = (out_dir / "report.md").read_text()
    assert _row(md, "line_sentiment_positive", "Summary")[3] == "none"
    lines = md.split("## Lines\n", 1)[1].split("\n## ", 1)[0]
    assert "No crossing of L(0) over the evaluated points." in lines and "touch" not in lines


def test_report_configuration_shows_eval_max_length(out_dir: Path):
    """A resolved config that converts: explicit rows, eval.max_length apart from finetune.max_length."""
    cfg = ExperimentConfig(name="demo", eval=EvalConfig(max_length=256, batch_size=8),
                           finetune=FinetuneConfig(max_length=64))
    (out_dir / "config.resolved.yaml").write_text(dump(cfg))
    write_report(out_dir, bootstrap=0)
    md = (out_dir / "report.md").read_text()
    assert _row(md, "eval.max_length", "Configuration")[1] == "256"
    assert _row(md, "finetune.max_length", "Configuration")[1] == "64"
    assert _row(md, "eval.batch_size", "Configuration")[1] == "8"
    assert _row(md, "experiment", "Configuration")[1] == "demo"
    assert "Experiment `demo`." in md and "max_length: 256" not in md
