"""#24 item 1: the real-model page is generated from a run's out_dir, states the run's numbers,
and its check fails, naming the number, when page and run disagree (scripts/real_model_page.py)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from sitv_dist.config import load_config
from sitv_dist.config.load import dump
from sitv_dist.io import write_json
from sitv_dist.results.report.run_report import write_report

from doc_pages import ROOT, load_script
from test_uncertainty import build_run

page_script = load_script("real_model_page")
TASK = "sentiment_positive"
GIB = 2 ** 30


MODEL_DIRS = {"gemma3-270m": "gemma3-270m", "smollm2-135m": "smollm2-135m-instruct"}


def _toy_run(tmp_path: Path, config: str = "gemma3-270m", directions=(TASK,)) -> Path:
    """A schema-exact small run (real planner, reducer and report) plus the files a real run
    writes besides: resolved config (the shipped `config`'s, its model where prepare_model.py
    puts it), fine-tuning histories, timings, peak memory, derivatives, and the context
    `record` would write."""
    out = build_run(tmp_path / "run", directions=directions, alpha=(-0.5, 1.5, 5))
    cfg = load_config(ROOT / "configs" / f"{config}.yaml", [f"out_dir={out}", "model.name_or_path=embedded"])
    resolved = yaml.safe_load(dump(cfg))
    resolved["model"]["name_or_path"] = f"/cache/{MODEL_DIRS[config]}"
    (out / "config.resolved.yaml").write_text(yaml.safe_dump(resolved, sort_keys=False))
    write_report(out)
    steps = [{"step": i + 1, "loss": x} for i, x in enumerate([3.1587, 2.3991, 2.3025, 2.4503])]
    for task in directions:
        write_json(out / "finetune" / task / "history.json", {"steps": steps, "epochs": [{"val_loss": 2.3536}]})
    write_json(out / "timings.json", {**{f"finetune:{t}": 58.04 for t in directions}, "sweep:lines": 75.05,
                                      "derivatives": 310.8})
    write_json(out / "derivatives.json", {"entries": {f"line_{t}": {"time_s": 101.0} for t in directions}})
    write_json(out / "peak_memory.json", {
        **{f"finetune:{t}": {"process_peak_rss_bytes": 6 * GIB, "stage_peak_rss_bytes": 6 * GIB if i == 0 else None,
                             "children_peak_rss_bytes": 0} for i, t in enumerate(directions)},
        "sweep:lines": {"process_peak_rss_bytes": 6 * GIB, "stage_peak_rss_bytes": None, "children_peak_rss_bytes": 0},
        "derivatives": {"process_peak_rss_bytes": 9 * GIB, "stage_peak_rss_bytes": 9 * GIB,
                        "children_peak_rss_bytes": 0}})
    write_json(out / "run_context.json", {
        "command": f"OMP_NUM_THREADS=2 sitv run -c configs/{config}.yaml", "note": "",
        "started": "2026-12-07 09:14 UTC",
        "machine": {"cores": 2, "memory_bytes": 24 * GIB, "cpu": "AMD EPYC", "torch": "2.13.0+cpu",
                    "transformers": "5.25.0", "python": "3.11.7"},
        "time_v": {"max_rss_bytes": 9 * GIB, "wall_s": 458.86},
        "plan": {"parameters": 268_098_176, "finetune": int(6.15 * GIB), "sweep": int(4.35 * GIB),
                 "derivatives": int(8.07 * GIB), "peak": int(8.07 * GIB)}})
    return out


def test_the_page_states_the_runs_numbers_and_the_check_names_a_tampered_one(tmp_path, capsys):
    out = _toy_run(tmp_path)
    page = tmp_path / "page.md"
    assert page_script.main_(["write", str(out), str(page)]) == 0
    text = page.read_text()
    analysis = json.loads((out / "analysis.json").read_text())["sweeps"][f"line_{TASK}"]
    rows = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| ") and
            line.split("|")[1].strip().lstrip("-").replace(".", "").isdigit()}
    for a, g, t in zip(analysis["curves"]["alpha"], analysis["curves"]["general"], analysis["curves"]["task"]):
        assert rows[f"{a:.1f}"] == f"| {a:.1f} | {g:.4f} | {t:.4f} |"
    gm = analysis["general_min"]
    assert f"The general loss is lowest at α = {gm['x']:.1f} (L = {gm['y']:.4f}; L(0) = " \
           f"{analysis['base_loss']:.4f})." in text
    assert "| derivatives | 9.00 GiB | 8.07 GiB |" in text and "| sweep | below 6.00 GiB (the peak so far) |" in text
    assert "The estimated peak is 89.7% of the measured one (outside the 10 %" in text      # 8.07 / 9
    assert "| whole `sitv run` (`/usr/bin/time -v`, including imports and loading) | 459 s (7 min 39 s) | 100% |" \
        in text and "| derivatives | 311 s | 68% |" in text
    assert "Training loss over the 4 steps: 3.16, 2.40, 2.30, 2.45; validation loss after them 2.35." in text
    assert page_script.main_(["check", str(page), str(out)]) == 0
    assert page_script.main_(["check", str(page)]) == 0                      # against the facts it carries
    capsys.readouterr()

    a = analysis["curves"]["alpha"][2]
    shown = f"{analysis['curves']['general'][2]:.4f}"
    tampered = shown[:-1] + ("1" if shown[-1] != "1" else "2")
    page.write_text(text.replace(f"| {a:.1f} | {shown} |", f"| {a:.1f} | {tampered} |"))
    for argv in (["check", str(page), str(out)], ["check", str(page)]):
        assert page_script.main_(argv) == 1
        err = capsys.readouterr().err
        assert f"general loss at α = {a:.1f} is {shown} in the run, the page says: '| {a:.1f} | {tampered} |" in err

    page.write_text(text)                                  # the run changes under the page: its facts differ
    timings = json.loads((out / "timings.json").read_text())
    write_json(out / "timings.json", {**timings, "derivatives": 400.0})
    assert page_script.main_(["check", str(page), str(out)]) == 1
    err = capsys.readouterr().err
    assert "seconds of derivatives is 400 s in the run" in err and "carries differ from the run's files" in err


def test_a_page_without_its_facts_is_refused(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# hand-written\n")
    with pytest.raises(SystemExit, match="carries no run facts"):
        page_script.main_(["check", str(page)])


@pytest.mark.parametrize("page", ["gemma3-270m.md", "smollm2-135m.md"])
def test_the_committed_page_agrees_with_the_facts_it_carries(page, capsys):
    assert page_script.main_(["check", str(ROOT / "docs" / page)]) == 0, capsys.readouterr().err


def test_a_run_of_several_lines_gets_its_models_prose_and_one_section_per_line(tmp_path, capsys):
    tasks = ("sentiment_positive", "qa_factual")
    out = _toy_run(tmp_path, "smollm2-135m", tasks)
    page = tmp_path / "page.md"
    assert page_script.main_(["write", str(out), str(page)]) == 0
    text = page.read_text()
    assert text.startswith("# Example: SmolLM2-135M-Instruct on 2 CPU cores, offline\n")
    assert "fine-tuned for 30 steps on each of the embedded tasks `sentiment_positive`, `qa_factual`" in text
    assert "python scripts/prepare_model.py --model smollm2 " in text and "Gemma" not in text
    assert "| fine-tuning sentiment_positive | 6.00 GiB |" in text
    assert "| fine-tuning qa_factual | below 6.00 GiB (the peak so far) |" in text
    sweeps = json.loads((out / "analysis.json").read_text())["sweeps"]
    sections = text.split("### Along `")[1:]
    assert [s.split("`")[0] for s in sections] == list(tasks)
    for task, section in zip(tasks, sections):
        line = sweeps[f"line_{task}"]
        crossings = line["findings"]["crossings"]
        assert crossings, "the toy's quadratic returns to L(0) inside the range"
        for c in crossings:
            assert f"The general loss crosses L(0) at α ≈ {c['x']:.3f} ({c['direction']}, between the samples at" \
                   in section
        assert f"| 1.0 | {line['curves']['general'][3]:.4f} | {line['curves']['task'][3]:.4f} |" in section
    assert page_script.main_(["check", str(page), str(out)]) == 0
    capsys.readouterr()

    x = f"{sweeps['line_qa_factual']['findings']['crossings'][0]['x']:.3f}"
    wrong = x[:-1] + ("1" if x[-1] != "1" else "2")
    head, last = text.rsplit("### Along `qa_factual`", 1)
    page.write_text(head + "### Along `qa_factual`" + last.replace(f"α ≈ {x} (", f"α ≈ {wrong} (", 1))
    assert page_script.main_(["check", str(page)]) == 1
    assert f"the crossing's α is {x} in the run, the page says" in capsys.readouterr().err


def test_a_model_without_a_page_is_refused_naming_the_key(tmp_path):
    out = _toy_run(tmp_path)
    resolved = yaml.safe_load((out / "config.resolved.yaml").read_text())
    resolved["model"]["name_or_path"] = "/cache/mystery-1b"
    (out / "config.resolved.yaml").write_text(yaml.safe_dump(resolved))
    with pytest.raises(SystemExit, match=r"model.name_or_path's directory 'mystery-1b' is none of .*"
                                         r"gemma3-270m, smollm2-135m-instruct"):
        page_script.main_(["write", str(out), str(tmp_path / "page.md")])
