"""Sweeps from two local checkpoints: exact losses, order/shard invariance, resume (the SIGKILL one: tests/integration/test_resume_after_kill.py)."""
import json

import numpy as np
import pytest
import torch

from conftest import make_config, records
from sitv_dist.stages import sweep as pipeline
from sitv_dist.cli import main
from sitv_dist.config import load_config
from sitv_dist.sweep.reduce import MissingPoints, reduce, status
from sitv_dist.outdir import OutDir
from sitv_dist.sweep.plan import load_plan


def direct_loss(toy, alpha, jsonl):
    """Plain transformers: load the two checkpoints, build base + αT, loss text by text."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    base = AutoModelForCausalLM.from_pretrained(toy["base"]).eval()
    ft = AutoModelForCausalLM.from_pretrained(toy["ft"])
    tok = AutoTokenizer.from_pretrained(toy["base"])
    fsd = ft.state_dict()
    with torch.no_grad():
        for name, p in base.named_parameters():
            p.copy_(p + alpha * (fsd[name] - p))
    total = count = 0.0
    for line in jsonl.read_text().splitlines():
        ids = tok(json.loads(line)["text"], truncation=True, max_length=64, return_tensors="pt")["input_ids"]
        with torch.no_grad():
            logits = base(input_ids=ids).logits[0, :-1]
        total += torch.nn.functional.cross_entropy(logits, ids[0, 1:], reduction="sum").item()
        count += ids.shape[1] - 1
    return total / count


def test_taskvector_and_sweep_from_local_checkpoints_match_plain_transformers(toy, tmp_path):
    out = tmp_path / "out"
    assert main(["sweep", "-c", str(make_config(toy, tmp_path, out)), "--no-reduce"]) == 0
    reduce(out)
    res = json.loads((out / "results" / "line_mytask.json").read_text())
    assert res["alpha"] == [-1.0, -0.75, -0.5, -0.25, 0.0, 0.25, 0.5, 0.75, 1.0]
    base = res["points"][res["base_point"]]
    assert base["coefficients"] == [0.0] and res["base_loss"] == base["general"]["loss"]
    for k in (0, 4, 6, 8):
        point = res["points"][res["index"]["line"][k]]
        alpha = res["alpha"][k]
        assert point["coefficients"] == [alpha]
        assert point["general"]["loss"] == pytest.approx(direct_loss(toy, alpha, toy["general"]), rel=1e-5)
        assert point["tasks"]["mytask"]["loss"] == pytest.approx(direct_loss(toy, alpha, toy["task"]), rel=1e-5)
    squaring = res["points"][res["index"]["squaring"][6]]       # 2 * 0.5
    assert squaring["coefficients"] == [1.0] and squaring is not None
    assert res["index"]["squaring"][6] == res["index"]["line"][8]  # the same point, evaluated once
    plan = load_plan(out)
    assert len(records(out)) == plan.unique_points < plan.requested_evaluations


def test_results_do_not_depend_on_order_or_number_of_shards(toy, tmp_path):
    one, three = tmp_path / "one", tmp_path / "three"
    cfg1 = load_config(make_config(toy, tmp_path, one))
    cfg3 = load_config(make_config(toy, tmp_path, three, num_shards=3))
    pipeline.sweep(cfg1, one, progress=False)
    plan3 = pipeline.plan_sweep(cfg3, three)
    for shard in (2, 0, 1):                                   # another order, another split
        pipeline.sweep(cfg3, three, [shard], progress=False)
    assert plan3.num_shards == 3
    a, b = records(one), records(three)
    assert set(a) == set(b) and len(a) == plan3.unique_points
    for pid in a:
        for name, entry in a[pid]["sets"].items():
            assert entry["per_text_nll"] == b[pid]["sets"][name]["per_text_nll"]   # bitwise
            assert entry["loss"] == b[pid]["sets"][name]["loss"]


def test_bf16_task_vectors_are_a_separate_experiment_close_to_float32(toy, tmp_path):
    f32, b16 = tmp_path / "f32", tmp_path / "b16"
    pipeline.sweep(load_config(make_config(toy, tmp_path, f32)), f32, progress=False)
    cfg = load_config(make_config(toy, tmp_path, b16), ["sweep.vector_dtype=bfloat16"])
    pipeline.sweep(cfg, b16, progress=False)
    assert load_plan(f32).fingerprint != load_plan(b16).fingerprint     # never mixed with fp32 results
    a, b = records(f32), records(b16)
    assert set(a) == set(b)
    changed = 0
    for pid in a:
        for name, entry in a[pid]["sets"].items():
            other = b[pid]["sets"][name]["loss"]
            assert other == pytest.approx(entry["loss"], rel=2e-3, abs=1e-3), (pid, name)
            changed += other != entry["loss"]
    assert changed > 0                          # T really was rounded: some losses moved
    base = next(pid for pid in a if not any(a[pid]["coefficients"].values()))
    assert a[base]["sets"]["general"]["per_text_nll"] == b[base]["sets"]["general"]["per_text_nll"]   # L(0) exact

def test_worker_loads_only_the_task_vectors_its_points_move_along(toy, tmp_path):
    from sitv_dist.sweep.worker import Worker
    out = tmp_path / "two"
    cfg = load_config(make_config(toy, tmp_path, out, grid_num=3))
    pipeline.sweep(cfg, out, progress=False)
    plan = load_plan(out)
    assert plan.directions == ["mytask", "other"]
    line = [p for p in plan.points if p.coefficients[0] != 0.0 and p.coefficients[1] == 0.0]
    worker = Worker(cfg, out, plan, torch.device("cpu"), line)
    assert set(worker.writer.vectors) == {"mytask"}
    stored = records(out)
    for point in line[:3]:
        record = worker.evaluate(point)
        for name, entry in record["sets"].items():
            assert entry["per_text_nll"] == stored[point.id]["sets"][name]["per_text_nll"]
    grid_point = next(p for p in plan.points if all(p.coefficients))
    with pytest.raises(KeyError, match="other"):
        worker.evaluate(grid_point)

def test_missing_points_are_listed_and_no_results_written(toy, tmp_path):
    out = tmp_path / "partial"
    cfg = load_config(make_config(toy, tmp_path, out, num_shards=2))
    pipeline.sweep(cfg, out, [0], progress=False)
    st = status(out)
    assert st["shards"][0]["missing"] == 0 and st["shards"][1]["done"] == 0
    with pytest.raises(MissingPoints, match="line_mytask: .* point\\(s\\) missing") as err:
        reduce(out)
    assert len(err.value.missing["line_mytask"]) == st["shards"][1]["missing"]
    assert not (out / "results" / "line_mytask.json").exists()


def test_corrupt_point_file_is_recomputed(toy, tmp_path):
    out = tmp_path / "corrupt"
    cfg = load_config(make_config(toy, tmp_path, out))
    pipeline.sweep(cfg, out, progress=False)
    victim = sorted(OutDir(out).points_dir.glob("p*.json"))[3]
    good = victim.read_text()
    victim.write_text(good[: len(good) // 2])               # a truncated write
    logged = OutDir(out).evaluation_counts()
    stats = pipeline.sweep(cfg, out, progress=False)
    assert stats["evaluated"] == 1 and list(OutDir(out).evaluation_counts() - logged) == [victim.stem]
    assert json.loads(victim.read_text())["sets"]["general"]["per_text_nll"] == \
        json.loads(good)["sets"]["general"]["per_text_nll"]


def test_nonfinite_losses_are_recorded_and_do_not_stop_the_sweep(toy, tmp_path):
    out = tmp_path / "huge"
    cfg = load_config(make_config(toy, tmp_path, out, alpha={"start": -1e6, "stop": 1e6, "num": 3},
                                  squaring=False, compositional=False), ["model.dtype=float16"])
    stats = pipeline.sweep(cfg, out, progress=False)
    assert stats["failed"] == 0 and stats["evaluated"] == 3 and stats["complete"]
    reduce(out)
    res = json.loads((out / "results" / "line_mytask.json").read_text())
    losses = [res["points"][i]["general"]["loss"] for i in res["index"]["line"]]
    assert losses[0] is None and losses[2] is None and np.isfinite(losses[1])


def test_bad_task_vector_or_empty_eval_fails_before_any_model_loads(toy, tmp_path, capsys):
    from safetensors.torch import save_file
    out = tmp_path / "bad"
    cfg_path = make_config(toy, tmp_path, out)
    wrong = tmp_path / "wrong.safetensors"
    save_file({"model.embed_tokens.weight": torch.zeros(7, 3)}, str(wrong))
    rc = main(["sweep", "-c", str(cfg_path), "--set", f"sweep.task_vectors.mytask={wrong}"])
    err = capsys.readouterr().err
    assert rc == 2 and "sweep.task_vectors.mytask: task vector" in err and "does not fit the model" in err
    assert not (out / "plan.json").exists() and not (out / "points").exists()
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    rc = main(["run", "--set", f"out_dir={tmp_path / 'run'}", "--set", f"tasks.0.eval={empty}"])
    err = capsys.readouterr().err
    assert rc == 2 and "tasks.0.eval:" in err and "holds no texts" in err
    assert not (tmp_path / "run" / "finetune").exists()
