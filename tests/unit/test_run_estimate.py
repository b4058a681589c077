"""#24 item 5: `sitv plan` counts every phase of `sitv run` (sweep points, refinement's likely
points, derivative entries and passes, fine-tuning), times each from this out_dir's measured
rates (unknown when none: never guessed) and gives each phase's memory."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from transformers import Gemma3TextConfig, LlamaConfig

from sitv_dist.config import (ExperimentConfig, GridConfig, ModelConfig, RangeConfig, SweepConfig, TaskConfig,
                              load_config)
from sitv_dist.io import write_json
from sitv_dist.outdir import OutDir
from sitv_dist.stages import run_memory
from sitv_dist.stages.run_estimate import derivative_entries, phase_memory, render_estimate, run_estimate
from sitv_dist.sweep.derivative_jobs import jobs
from sitv_dist.sweep.plan import load_plan, make_plan

from conftest import synthetic_inputs
from test_uncertainty import build_run

ARCH = LlamaConfig(hidden_size=96, intermediate_size=256, num_hidden_layers=2, num_attention_heads=4,
                   vocab_size=2048)
MEMORY = {"parameters": 10_000, "per_device": 50_000, "bytes": {"activations": 8_000}}


def _cfg(out, workers=1, **sweep):
    s = {"directions": ["a", "b"], "alpha": RangeConfig(-0.5, 1.5, 5), "grids": [], "workers": workers, **sweep}
    return ExperimentConfig(name="exp", out_dir=str(out), model=ModelConfig(device="cpu"),
                            tasks=[TaskConfig(name="a", train=""), TaskConfig(name="b", train="")],
                            sweep=SweepConfig(**s))


def test_every_phase_counted_and_unknown_times_say_so(tmp_path):
    grid = GridConfig(directions=["a", "b"], range=RangeConfig(-1, 1, 3))
    cfg = _cfg(tmp_path / "out", grids=[grid], refine_rounds=3)
    est = run_estimate(cfg, MEMORY, ARCH)
    plan = make_plan(cfg, synthetic_inputs(cfg, "x"))
    p = est["points"]
    assert p["sweep"] == len(plan.points) and p["done"] == 0
    assert p["grids"] == 9 and p["lines"] == len({q.id for q in plan.points if q.coefficients.count(0.0) >= 1})
    assert est["refinement"]["points"] == 3 * 2 * 4 == p["refinement_estimate"]    # 3 rounds, 2 lines, 4 each
    assert p["total_estimate"] == len(plan.points) + 24
    real = jobs(plan)                                                 # the derivatives step's own entries
    assert [(e["directions"], e["sets"]) for e in derivative_entries(plan)] == \
        [(j["directions"], j["sets"]) for j in real]
    d = est["derivatives"]
    # lines a and b: all 3 sets + 2 controls on 2 sets each; the grid: 3 sets, cross term only (its lines exist)
    assert d["entries"] == len(real) == 7 and d["passes"] == 2 * (3 + 2 * 2) + 3
    assert est["seconds"] == {"finetune": 0.0, "sweep": None, "refinement": None, "search": 0.0, "derivatives": None}
    assert est["seconds_total"] is None
    text = render_estimate(est)
    assert "unknown (no rate measured in this out_dir yet)" in text and "~24 point(s) estimated" in text
    off = run_estimate(dataclasses.replace(cfg, sweep=dataclasses.replace(cfg.sweep, derivatives=False,
                                                                          refine_rounds=0)), MEMORY, ARCH)
    assert off["derivatives"]["entries"] == 0 and off["seconds"]["derivatives"] == 0.0
    assert off["memory"]["derivatives"] == 0 and "sweep.derivatives: false" in render_estimate(off)


def test_times_from_this_out_dirs_measured_rates(tmp_path):
    out = build_run(tmp_path / "run", directions=("alpha_task",), alpha=(-0.5, 1.5, 5))   # every point: 0.1 s
    cfg = ExperimentConfig(name="exp", out_dir=str(out), model=ModelConfig(device="cpu"),
                           tasks=[TaskConfig(name="alpha_task", train="")],
                           sweep=SweepConfig(directions=["alpha_task"], alpha=RangeConfig(-0.5, 1.5, 5), grids=[],
                                             refine_rounds=2))
    points = sorted((out / "points").glob("*.json"))
    total = len(points)
    for f in points[:2]:
        f.unlink()                                                     # two points left to evaluate
    write_json(out / "derivatives.json", {"schema": "sitv-dist/derivatives/1", "entries": {
        "line_alpha_task": {"time_s": 3.0}, "line_alpha_task/random1": {"time_s": 1.0}}})
    est = run_estimate(cfg, MEMORY, ARCH)
    assert est["points"]["sweep"] == total and est["points"]["done"] == total - 2
    # the α grid's points carry every set, 2α's off the grid the general set alone: two measured kinds
    assert est["rates_measured"] == pytest.approx({"general+task:alpha_task": 0.1, "general": 0.1})
    s = est["seconds"]
    assert s["sweep"] == pytest.approx(2 * 0.1)
    # refinement points carry the general set alone (its measured rate): 2 rounds x 1 line x 4 points
    assert s["refinement"] == pytest.approx(8 * 0.1)
    assert s["derivatives"] == pytest.approx(2.0 * 3)                 # mean 2 s per entry, 3 entries
    assert est["seconds_total"] == pytest.approx(0.2 + 0.8 + 6.0)


def test_derivative_entries_on_disk_with_their_fingerprints_are_not_counted_again(tmp_path):
    out = build_run(tmp_path / "run", directions=("alpha_task",), alpha=(-0.5, 1.5, 5))
    cfg = ExperimentConfig(name="exp", out_dir=str(out), model=ModelConfig(device="cpu"),
                           tasks=[TaskConfig(name="alpha_task", train="")],
                           sweep=SweepConfig(directions=["alpha_task"], alpha=RangeConfig(-0.5, 1.5, 5), grids=[],
                                             refine_rounds=0))
    current = {j["key"]: j["fingerprint"] for j in jobs(load_plan(OutDir(out)))}
    entries = {"line_alpha_task": {"time_s": 3.0, "fingerprint": current["line_alpha_task"]},
               "line_alpha_task/random1": {"time_s": 1.0, "fingerprint": current["line_alpha_task/random1"]},
               "line_alpha_task/random2": {"time_s": 5.0, "fingerprint": "stale"}}
    write_json(out / "derivatives.json", {"schema": "sitv-dist/derivatives/1", "entries": entries})
    est = run_estimate(cfg, MEMORY, ARCH)
    assert est["derivatives"]["entries"] == 1 and est["derivatives"]["done"] == 2
    assert est["seconds"]["derivatives"] == pytest.approx(3.0)         # mean 3 s per entry, 1 left
    assert est["memory"]["left_to_run"] == {"finetune": False, "sweep": False, "derivatives": True}
    assert est["memory"]["peak"] == est["memory"]["derivatives"]
    assert "derivatives     1 entr(ies) to compute (2 on disk)" in render_estimate(est)
    entries["line_alpha_task/random2"]["fingerprint"] = current["line_alpha_task/random2"]
    write_json(out / "derivatives.json", {"schema": "sitv-dist/derivatives/1", "entries": entries})
    est = run_estimate(cfg, MEMORY, ARCH)
    assert est["derivatives"]["entries"] == 0 and est["seconds"]["derivatives"] == 0.0
    assert est["memory"]["peak"] == 0 and est["seconds_total"] == 0.0
    assert render_estimate(est).endswith("time 0 s; nothing left to run")


def test_phase_memory_by_its_formulas():
    cfg = _cfg("unused", workers=3)
    cfg = dataclasses.replace(cfg, finetune=dataclasses.replace(cfg.finetune, batch_size=4, max_length=32))
    m = phase_memory(cfg, MEMORY, ARCH)
    n = 10_000
    process = run_memory.RUNTIME + run_memory.TOKENIZER_PER_TOKEN * 2048
    assert m["process"] == process
    assert m["sweep"] == 3 * (50_000 + process) and m["sweep_workers_on_host"] == 3      # three worker processes
    largest = 2048 * 96                                                 # the embedding's elements
    e = cfg.eval
    chunk = e.logit_chunk // 4
    trunk = e.batch_size * e.max_length * (3 * 96 + 3 * 256) * 4 + 2 * e.batch_size * 4 * e.max_length ** 2 * 4
    resident = 4 * n + 2 * 4 * n                                        # float32 model, directions a and b
    jvp_pass = resident + 4 * n + int(10 * chunk * 2048 * 4 + 0.4 * 2048 * 96 * 4) + 4 * trunk
    draw = resident + 4 * n + 2 * 4 * n + 2 * largest * 8               # 2nd control, float64 Gaussian, norms
    assert m["derivatives"] == process + max(jvp_pass, draw)
    tokens = 4 * 32
    kept = 2 * (tokens * (8 * 96 + 3 * 256) * 4 + 4 * 4 * 32 ** 2 * 4 * 2)
    assert m["finetune"] == process + 16 * n + max(kept + tokens * 2048 * 4 * 3, 2 * largest * 4)    # untied
    assert m["peak"] == max(m["sweep"], m["derivatives"], m["finetune"])
    assert "3 worker processes together" in m["notes"][0]
    done = phase_memory(cfg, MEMORY, ARCH, train=False)                 # vectors on disk: no fine-tuning phase
    assert done["peak"] == max(m["sweep"], m["derivatives"]) and done["left_to_run"]["finetune"] is False
    assert phase_memory(cfg, MEMORY, ARCH, train=False, derive=False)["peak"] == m["sweep"]
    assert phase_memory(cfg, MEMORY, ARCH, train=False, evaluate=False, derive=False)["peak"] == 0


# Peaks measured 2026-12-07 by `sitv run` on 2 CPU cores (OUT/peak_memory.json, equal to
# /usr/bin/time -v's): Gemma-3-270M (configs/gemma3-270m.yaml, docs/gemma3-270m.md) and the
# embedded default experiment; with `sitv plan`'s sweep worker for each.
GEMMA = Gemma3TextConfig(hidden_size=640, intermediate_size=2048, num_hidden_layers=18, num_attention_heads=4,
                         num_key_value_heads=1, head_dim=256, vocab_size=262144, tie_word_embeddings=True)
EMBEDDED = LlamaConfig(hidden_size=96, intermediate_size=256, num_hidden_layers=2, num_attention_heads=4,
                       vocab_size=2048, tie_word_embeddings=True)
MEASURED = {
    "gemma3-270m": ("gemma3-270m.yaml", GEMMA, {"parameters": 268_098_176, "per_device": 4_052_633_092},
                    {"finetune": 6_711_775_232, "derivatives": 9_328_398_336, "peak": 9_328_398_336}),
    "embedded": (None, EMBEDDED, {"parameters": 418_272, "per_device": 66_710_880},
                 {"finetune": 607_780_864, "derivatives": 644_636_672, "peak": 644_636_672}),
}


@pytest.mark.parametrize("run", sorted(MEASURED))
def test_the_estimate_is_within_ten_percent_of_a_real_runs_peaks(run):
    config, arch, worker, measured = MEASURED[run]
    path = Path(__file__).resolve().parents[2] / "configs" / config if config else None
    cfg = load_config(path, ["model.device=cpu", "model.name_or_path=embedded"])    # the path: not read here
    m = phase_memory(cfg, worker, arch)
    for phase, peak in measured.items():
        assert abs(m[phase] / peak - 1) <= 0.10, (phase, m[phase], peak)
    assert m["notes"] == []


def test_sitv_plan_prints_the_phases(toy, tmp_path, capsys):
    from sitv_dist.cli import main
    from test_budget import plan_config
    path = plan_config(toy, tmp_path, toy["base"], refine_rounds=1)
    assert main(["plan", "-c", str(path), "--json", "--device-memory", "1"]) == 0
    plan = json.loads(capsys.readouterr().out)
    run = plan["run"]
    assert run["points"]["sweep"] == plan["points"] == 25 and run["points"]["lines"] == 0
    assert run["derivatives"]["entries"] == 1 and run["refinement"]["points"] == 0      # a grid alone: no line
    assert main(["plan", "-c", str(path), "--device-memory", "1"]) == 0
    text = capsys.readouterr().out
    assert "phases of `sitv run`:" in text and "peak memory" in text
    assert "derivatives     1 entr(ies) to compute (0 on disk)" in text


def test_the_search_phase_counts_its_budget_less_what_search_json_told(tmp_path):
    from sitv_dist.config.search import SearchConfig
    out = tmp_path / "out"
    search = SearchConfig(directions=["a"], split="layers", budget=40, batch=8)
    cfg = _cfg(out, search=search)
    est = run_estimate(cfg, MEMORY, ARCH)
    assert est["search"]["points"] == 40 and est["points"]["search"] == 40 and est["seconds"]["search"] is None
    assert est["points"]["total_estimate"] == est["points"]["sweep"] + est["refinement"]["points"] + 40
    OutDir(out).create()
    write_json(OutDir(out).search_state, {"directions": ["a"], "split": "layers", "seed": 0, "budget": 40,
                                          "history": [{"x": [0.1], "point": "p", "objective": 1.0}] * 16})
    assert run_estimate(cfg, MEMORY, ARCH)["search"]["points"] == 24
    other = _cfg(out, search=dataclasses.replace(search, split="groups"))       # another search: all of its budget
    assert run_estimate(other, MEMORY, ARCH)["search"]["points"] == 40
    assert "24 point(s) left of sweep.search.budget" in render_estimate(run_estimate(cfg, MEMORY, ARCH))
