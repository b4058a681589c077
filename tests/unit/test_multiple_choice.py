"""Native multiple-choice scoring against lm-evaluation-harness itself (a local task YAML over
local data, run with lm-eval's own HFLM on the same in-memory model) and against a direct,
unbatched computation; the embedded sets; config errors."""
import json
import random

import lm_eval  # the `test` extra installs lm-evaluation-harness
import numpy as np
import pytest
import torch
from conftest import SENTENCES, write_jsonl

from sitv_dist.config import ConfigError, ModelConfig, load_config
from sitv_dist.models.loading import load_model, load_tokenizer
from sitv_dist.mc_items import Item, lm_eval_task_yaml, load_items
from sitv_dist.sweep.scores.mc_scoring import (
    build_mc_set,
    choice_loglikelihoods,
    encode_pair,
    score,
)


def mc_rows(seed: int = 0) -> list[dict]:
    """Items of every form the encoding must get right: contexts with and without a trailing
    space, choices with and without a leading one, 2 to 4 choices of different lengths. No two
    items share a whole (context + choice) text: lm-eval's logits cache (HFLM's default
    `logits_cache=True`) groups requests across documents by context + continuation[:-1] and
    then scores a request whose split point differs from its group's with the wrong positions."""
    rng = random.Random(seed)
    rows = []
    for i, s in enumerate(SENTENCES + [f"Once more: {s}" for s in SENTENCES]):
        words = s.split()
        cut = rng.randrange(2, len(words) - 1)
        context = " ".join(words[:cut]) + (" " if i % 3 == 0 else "")
        right = ("" if i % 3 == 0 else " ") + " ".join(words[cut:])
        others = [("" if i % 3 == 0 else " ") + " ".join(rng.choice(SENTENCES).split()[:rng.randrange(1, 6)])
                  for _ in range(1 + i % 3)]
        choices = others + [right]
        rng.shuffle(choices)
        rows.append({"context": context, "choices": choices, "answer": choices.index(right)})
    return rows




def model_at(toy, alpha: float):
    """base + α(ft − base), built directly from the two checkpoints."""
    from transformers import AutoModelForCausalLM
    model = load_model(str(toy["base"]), ModelConfig(device="cpu"))
    ft = AutoModelForCausalLM.from_pretrained(toy["ft"]).state_dict()
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(p + alpha * (ft[name] - p))
    return model


def direct_loglikelihood(model, tok, context: str, choice: str) -> float:
    """One pair, unbatched, float64 log-softmax: the definition."""
    ctx, cont = encode_pair(tok, context, choice)
    ids = torch.tensor([ctx + cont])
    with torch.no_grad():
        logp = torch.log_softmax(model(input_ids=ids).logits[0].double(), dim=-1)
    return float(sum(logp[len(ctx) - 1 + k, t] for k, t in enumerate(cont)))


@pytest.mark.parametrize("alpha", [0.0, 0.7])
def test_native_accuracy_equals_lm_eval_and_direct_loglikelihoods(toy, tmp_path, alpha):
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager
    rows = mc_rows()
    data = write_jsonl(tmp_path / "mc.jsonl", rows)
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "toy_mc.yaml").write_text(lm_eval_task_yaml("toy_mc", data))
    tok = load_tokenizer(str(toy["base"]))
    model = model_at(toy, alpha)
    items = load_items(data, "test")
    mc = build_mc_set("toy", items, tok, batch_size=4, window=model.config.max_position_embeddings,
                      device=torch.device("cpu"))
    lls = choice_loglikelihoods(model, mc)
    ours = score(mc, lls)

    for it, ll in zip(items, lls):           # every per-choice log-likelihood, against the definition
        direct = [direct_loglikelihood(model, tok, it.context, c) for c in it.choices]
        np.testing.assert_allclose(ll, direct, rtol=1e-6, atol=1e-5)   # float32 sums near -100

    res = lm_eval.simple_evaluate(model=HFLM(pretrained=model, tokenizer=tok, batch_size=4), tasks=["toy_mc"],
                                  task_manager=TaskManager(include_path=str(tmp_path / "tasks")),
                                  bootstrap_iters=0, log_samples=True, cache_requests=False)
    theirs = res["results"]["toy_mc"]
    assert ours["items"] == len(rows) == len(res["samples"]["toy_mc"])
    assert ours["acc"] == theirs["acc,none"] and ours["acc_norm"] == theirs["acc_norm,none"]
    for sample in res["samples"]["toy_mc"]:  # lm-eval's own per-choice log-likelihoods
        k = sample["doc_id"]
        np.testing.assert_allclose(lls[k], [r[0] for r in sample["filtered_resps"]], rtol=1e-6, atol=1e-5)
    assert 0.0 < ours["acc"] < 1.0           # a real spread, not a degenerate answer
    assert ours["correct"] == [int(np.argmax(ll) == it.answer) for ll, it in zip(lls, items)]


def test_encode_pair_moves_trailing_space_and_splits_whole(toy):
    tok = load_tokenizer(str(toy["base"]))
    ctx, cont = encode_pair(tok, "The river runs ", "north")
    assert ctx == tok.encode("The river runs")
    whole = tok.encode("The river runs north")
    assert ctx + cont == whole and tok.decode(cont) == " north"
    assert ctx[0] == tok.bos_token_id        # the tokenizer's default special tokens, as HFLM


def test_batched_scores_do_not_depend_on_batch_size(toy):
    tok = load_tokenizer(str(toy["base"]))
    model = model_at(toy, 0.3)
    items = [Item(r["context"], tuple(r["choices"]), r["answer"]) for r in mc_rows(1)]
    runs = [choice_loglikelihoods(model, build_mc_set("t", items, tok, b, 128, torch.device("cpu"))) for b in (1, 7)]
    for a, b in zip(*runs):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-5)


def test_shared_context_equals_whole_rows_and_long_items_are_truncated_like_lm_eval(toy):
    """The KV-cache path (each context run once) against whole (context + choice) rows, and
    items too long for the window scored whole, left-truncated per choice as lm-eval does."""
    from sitv_dist.sweep.scores.mc_scoring import MCBatch, SharedBatch
    tok = load_tokenizer(str(toy["base"]))
    model = model_at(toy, 0.4)
    items = [Item(r["context"], tuple(r["choices"]), r["answer"]) for r in mc_rows(2)]
    cpu = torch.device("cpu")
    whole = choice_loglikelihoods(model, build_mc_set("t", items, tok, 16, 128, cpu, share_context=False))
    for batch_size in (3, 16):
        mc = build_mc_set("t", items, tok, batch_size, 128, cpu)
        assert all(isinstance(b, SharedBatch) for b in mc.batches)
        for a, b in zip(choice_loglikelihoods(model, mc), whole):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-5)

    longest = sorted(max(sum(map(len, encode_pair(tok, it.context, c))) for c in it.choices) for it in items)
    window = longest[len(longest) // 2] - 1          # half the items fit, the others are truncated
    mc = build_mc_set("t", items, tok, 4, window, cpu)
    kinds = {type(b) for b in mc.batches}
    assert kinds == {SharedBatch, MCBatch}
    for it, ll in zip(items, choice_loglikelihoods(model, mc)):
        direct = []
        for c in it.choices:
            ctx, cont = encode_pair(tok, it.context, c)
            seq = (ctx + cont)[-(window + 1):]
            with torch.no_grad():
                logp = torch.log_softmax(model(input_ids=torch.tensor([seq[:-1]])).logits[0].double(), dim=-1)
            direct.append(float(sum(logp[len(seq) - 1 - len(cont) + k, t] for k, t in enumerate(cont))))
        np.testing.assert_allclose(ll, direct, rtol=1e-6, atol=1e-5)


def test_embedded_sets_load_and_answers_vary():
    from sitv_dist.config import EMBEDDED_TASKS
    from sitv_dist.mc_items import embedded_mc_file
    for task in EMBEDDED_TASKS:
        items = load_items(embedded_mc_file(task), task)
        assert len(items) >= 90
        answers = [it.answer for it in items]
        assert len(set(answers)) == len(items[0].choices)       # the right answer is not always first
        assert all(it.choices[it.answer].startswith(" ") and len(set(it.choices)) == len(it.choices) for it in items)


def test_embedded_sets_regenerate_byte_for_byte(tmp_path):
    from sitv_dist.embedded.mc_data import write
    from sitv_dist.mc_items import embedded_mc_file
    for path in write(tmp_path):
        assert path.read_bytes() == embedded_mc_file(path.name.removesuffix("_mc.jsonl")).read_bytes()


def test_bad_multiple_choice_files_are_config_errors(toy, tmp_path):
    from sitv_dist.mc_items import mc_sets

    def cfg(mc):
        task = {"name": "x", "train": "", "eval": str(toy["task"]), "multiple_choice": mc}
        return load_config(None, [f"tasks=[{json.dumps(task)}]", "sweep.directions=[x]", "sweep.grids=[]"])
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"context": "a", "choices": [" b", " c"], "answer": 0},
                                              {"context": "a", "choices": [" b"], "answer": 0}])
    with pytest.raises(ConfigError, match=r"tasks.0.multiple_choice: .*bad.jsonl row 2: 'choices' must be a list"):
        mc_sets(cfg(str(bad)))
    out_of_range = write_jsonl(tmp_path / "oor.jsonl", [{"context": "a", "choices": [" b", " c"], "answer": 2}])
    with pytest.raises(ConfigError, match=r"row 1: 'answer' must be the index of the right choice \(0..1\)"):
        mc_sets(cfg(str(out_of_range)))
    blank = write_jsonl(tmp_path / "blank.jsonl", [{"context": "  ", "choices": [" b", " c"], "answer": 1}])
    with pytest.raises(ConfigError, match=r"row 1: 'context' must be a string with some text"):
        mc_sets(cfg(str(blank)))
    with pytest.raises(ConfigError, match=r"tasks.0.multiple_choice: .*missing.jsonl' is not an existing .jsonl"):
        cfg(str(tmp_path / "missing.jsonl"))
    with pytest.raises(ConfigError, match=r"tasks.0.multiple_choice: task 'x' has no embedded multiple-choice set"):
        cfg("embedded")
    assert mc_sets(cfg("auto")) == {} and mc_sets(cfg("")) == {}
    assert len(mc_sets(load_config(None, []))["qa_factual"]) == 100      # the default: embedded sets


def _with_mc(path, mc_file, **eval_extra):
    import yaml
    cfg = yaml.safe_load(path.read_text())
    cfg["tasks"][0]["multiple_choice"] = str(mc_file)
    cfg["eval"].update(eval_extra)
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_sweep_records_accuracy_per_point_and_refuses_stale_points(toy, tmp_path, capsys):
    from conftest import make_config

    from sitv_dist.cli import main
    from sitv_dist.outdir import OutDir
    from sitv_dist.sweep.reduce import reduce
    data = write_jsonl(tmp_path / "mc.jsonl", mc_rows())
    out = tmp_path / "out"
    path = _with_mc(make_config(toy, tmp_path, out, squaring=False, compositional=False, refine_rounds=0), data)
    assert main(["sweep", "-c", str(path), "--no-reduce"]) == 0
    reduce(out)
    res = json.loads((out / "results" / "line_mytask.json").read_text())
    tok = load_tokenizer(str(toy["base"]))
    items = load_items(data, "t")
    for k in (2, 6):                          # α = -0.5 and 0.5, against a standalone scoring
        point = res["points"][res["index"]["line"][k]]
        model = model_at(toy, res["alpha"][k])
        mc = build_mc_set("t", items, tok, 3, 128, torch.device("cpu"))
        expected = score(mc, choice_loglikelihoods(model, mc))
        assert point["tasks"]["mytask"]["mc"] == {"acc": expected["acc"], "acc_norm": expected["acc_norm"],
                                                  "items": len(items)}
        record = OutDir(out).read_point(point["id"], None)["sets"]["task:mytask"]["mc"]
        np.testing.assert_allclose(np.concatenate([np.array(x) for x in record["loglikelihoods"]]),
                                   np.concatenate(expected["loglikelihoods"]), rtol=1e-6, atol=1e-5)
        assert record["correct"] == expected["correct"]
    # another multiple-choice set makes every stored point stale: the run refuses to mix them
    other = write_jsonl(tmp_path / "mc2.jsonl", mc_rows(seed=5))
    capsys.readouterr()
    assert main(["sweep", "-c", str(_with_mc(path, other)), "--no-reduce"]) == 2
    assert "holds results that this config would change: mc:mytask:" in capsys.readouterr().err


def test_report_has_accuracy_curves_intervals_and_best_alpha(toy, tmp_path):
    from conftest import make_config

    from sitv_dist.cli import main
    data = write_jsonl(tmp_path / "mc.jsonl", mc_rows())
    out = tmp_path / "out"
    path = _with_mc(make_config(toy, tmp_path, out, grid_num=3, squaring=False, compositional=False,
                                refine_rounds=0), data)
    assert main(["sweep", "-c", str(path)]) == 0
    an = json.loads((out / "analysis.json").read_text())
    res = json.loads((out / "results" / "line_mytask.json").read_text())
    acc = an["accuracy"]["line_mytask"]["series"]["mc:mytask"]["metrics"]["acc"]
    curve = [res["points"][i]["tasks"]["mytask"]["mc"]["acc"] for i in res["index"]["line"]]
    assert acc["curve"] == curve
    k = int(np.argmax(curve))
    base = res["points"][res["base_point"]]["tasks"]["mytask"]["mc"]["acc"]
    if max(curve) <= base:                     # a best that only ties α = 0 is no change, not a "best α"
        assert acc["best"] == {"x": None, "y": base, "no_change": True}
    else:
        assert acc["best"] == {"x": res["alpha"][k], "y": max(curve), "no_change": False}
    unc = an["accuracy_uncertainty"]["line_mytask"]["mytask"]["acc"]
    for (lo, hi), y in zip(unc["ci"], curve):
        assert lo <= y <= hi and lo < hi        # 20 items: the interval has width
    grid = an["accuracy"]["grid_mytask__other"]["series"]["mc:mytask"]["metrics"]["acc"]
    assert np.asarray(grid["grid"]).shape == (3, 3) and grid["best"]["y"] == np.max(np.asarray(grid["grid"]))
    report = (out / "report.md").read_text()
    assert "## Accuracy" in report and "### line_mytask" in report
    assert ("| mc:mytask | acc | " in report) and (("no change" in report) == acc["best"]["no_change"])
    assert (out / "plots" / "line_mytask_accuracy.png").is_file()
    assert (out / "plots" / "grid_mytask__other_accuracy_mc_mytask.png").is_file()
    # #24: the chance level (1 / choices, averaged over the 2- to 4-way items) and the linked figure
    chance = np.mean([1 / len(r["choices"]) for r in mc_rows()])
    assert an["accuracy"]["line_mytask"]["series"]["mc:mytask"]["chance"] == pytest.approx(chance)
    assert an["accuracy"]["grid_mytask__other"]["series"]["mc:mytask"]["chance"] == pytest.approx(chance)
    assert "](plots/line_mytask_accuracy.png)" in report and f"mc:mytask {chance:.2f}" in report
