"""An lm-evaluation-harness task (local YAML, local data, offline) swept on a line end to end:
lm-eval runs on the worker's resident model at every point, its metrics land in the point
files, the results and the report, and they agree with the native multiple-choice scoring of
the same items (which tests/unit/test_multiple_choice.py checks against lm-eval directly)."""
import json

import numpy as np
import pytest
import yaml
from conftest import make_config, write_jsonl

from sitv_dist.cli import main
from sitv_dist.mc_items import lm_eval_task_yaml
from sitv_dist.outdir import OutDir

ROWS = [{"context": c, "choices": ch, "answer": a} for c, ch, a in [
    ("The river runs north through the old town and meets the", [" sea near the harbour.", " budget for Monday."], 0),
    ("Water boils at one hundred degrees", [" Celsius at sea level.", " north of the town.", " on Monday."], 0),
    ("I loved this film, the acting was", [" dirty and rude.", " wonderful and the music was great."], 1),
    ("This hotel was terrible, the room was", [" dirty and the staff were rude.", " wonderful."], 0),
    ("Question: What is the capital of France? Answer:", [" Seven.", " Paris.", " Monday.", " apple"], 1),
    ("Instruction: List three fruits. Response:", [" SELECT name", " apple, banana, cherry."], 1),
    ("SELECT name FROM users WHERE age >", [" 30 ORDER BY name;", " the harbour."], 0),
    ("A week has seven days and a year has", [" twelve months.", " one hundred degrees.", " a river."], 0),
    ("The committee met on Monday to review the", [" budget for the new season.", " boiling water."], 0),
    ("def add(a, b): return", [" the sea", " a + b  # adds two numbers"], 1),
]]


LOGLIK = """task: toy_answer
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: loglikelihood
doc_to_text: context
doc_to_target: "{{{{choices[answer]}}}}"
target_delimiter: ""
metric_list:
  - metric: perplexity
    aggregation: perplexity
    higher_is_better: false
"""


def test_lm_eval_task_swept_on_a_line(toy, tmp_path):
    data = write_jsonl(tmp_path / "choice.jsonl", ROWS)
    tasks = tmp_path / "lm_tasks"
    tasks.mkdir()
    (tasks / "toy_choice.yaml").write_text(lm_eval_task_yaml("toy_choice", data))
    (tasks / "toy_answer.yaml").write_text(LOGLIK.format(data=data))
    out = tmp_path / "out"
    path = make_config(toy, tmp_path, out, squaring=True, compositional=False, refine_rounds=0)
    cfg = yaml.safe_load(path.read_text())
    cfg["tasks"][0]["multiple_choice"] = str(data)
    cfg["eval"]["lm_eval"] = {"tasks": ["toy_choice", "toy_answer"], "include_path": str(tasks), "limit": 0}
    path.write_text(yaml.safe_dump(cfg))
    assert main(["sweep", "-c", str(path)]) == 0

    res = json.loads((out / "results" / "line_mytask.json").read_text())
    line = [res["points"][i] for i in res["index"]["line"]]
    accs, ppls = [], []
    for p in line:
        lm, native = p["lm_eval"]["toy_choice"], p["tasks"]["mytask"]["mc"]
        assert lm["acc"] == native["acc"] and lm["acc_norm"] == native["acc_norm"]
        record = OutDir(out).read_point(p["id"], None)
        assert record["lm_eval"] == p["lm_eval"]
        # lm-eval's perplexity of the right answers, from the native per-item log-likelihoods
        right = [ll[r["answer"]] for ll, r in zip(record["sets"]["task:mytask"]["mc"]["loglikelihoods"], ROWS)]
        assert p["lm_eval"]["toy_answer"]["perplexity"] == pytest.approx(np.exp(-np.mean(right)), rel=1e-5)
        accs.append(lm["acc_norm"])
        ppls.append(p["lm_eval"]["toy_answer"]["perplexity"])
    assert len(set(ppls)) == len(ppls)         # every point scored its own parameters, nothing reused
    plan = json.loads((out / "plan.json").read_text())
    squaring_only = [p for p in plan["points"] if p["sets"] == ["general"]]
    assert squaring_only and all("lm_eval" not in OutDir(out).read_point(p["id"], None) for p in squaring_only)

    an = json.loads((out / "analysis.json").read_text())
    series = an["accuracy"]["line_mytask"]["series"]["lm_eval:toy_choice"]["metrics"]["acc_norm"]
    assert series["curve"] == accs
    # a best that only ties α = 0's value is "no change" (x None), otherwise the first argmax
    if max(accs) <= series["base"]:
        assert series["best"] == {"x": None, "y": series["base"], "no_change": True}
    else:
        assert series["best"] == {"x": res["alpha"][int(np.argmax(accs))], "y": max(accs), "no_change": False}
    ppl = an["accuracy"]["line_mytask"]["series"]["lm_eval:toy_answer"]["metrics"]["perplexity"]
    assert ppl["curve"] == ppls and min(ppls) < ppl["base"]
    assert ppl["best"] == {"x": res["alpha"][int(np.argmin(ppls))], "y": min(ppls), "no_change": False}
    report = (out / "report.md").read_text()
    assert "| lm_eval:toy_choice | acc_norm |" in report and "| lm_eval:toy_answer | perplexity |" in report
    # an edited task makes every stored point stale: the run refuses to mix them
    (tasks / "toy_answer.yaml").write_text((tasks / "toy_answer.yaml").read_text() + "# edited\n")
    assert main(["sweep", "-c", str(path)]) == 2


def test_unknown_lm_eval_task_is_a_config_error_before_any_model_loads(toy, tmp_path, capsys, monkeypatch):
    from sitv_dist.sweep import resident
    tasks = tmp_path / "lm_tasks"
    tasks.mkdir()
    (tasks / "toy_choice.yaml").write_text(lm_eval_task_yaml("toy_choice", write_jsonl(tmp_path / "c.jsonl", ROWS)))
    path = make_config(toy, tmp_path, tmp_path / "out")
    cfg = yaml.safe_load(path.read_text())
    cfg["eval"]["lm_eval"] = {"tasks": ["toy_choice", "no_such_task_xyz"], "include_path": str(tasks)}
    path.write_text(yaml.safe_dump(cfg))
    monkeypatch.setattr(resident, "load_placed", lambda *a, **k: pytest.fail("a model was loaded"))
    assert main(["sweep", "-c", str(path)]) == 2
    assert "eval.lm_eval.tasks: unknown lm-eval task(s) no_such_task_xyz" in capsys.readouterr().err
