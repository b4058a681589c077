"""`sitv plan`: bytes per worker by part from config.json alone (no weights read), exit 3 when
it does not fit with the settings that would, and `sitv sweep` refusing before any model loads."""
import json
import shutil

import pytest
import yaml

from conftest import make_config
from sitv_dist.cli import main
from sitv_dist.config import load_config
from sitv_dist.sweep.budget import GIB, memory_plan


@pytest.fixture()
def bare(toy, tmp_path):
    """The toy model's config.json alone: no weights, no tokenizer."""
    d = tmp_path / "bare"
    d.mkdir()
    shutil.copy(toy["base"] / "config.json", d)
    return d


def plan_config(toy, tmp_path, model_dir, **sweep):
    cfg = {"out_dir": str(tmp_path / "out"), "model": {"name_or_path": str(model_dir)},
           "tasks": [{"name": "a", "train": "", "eval": str(toy["task"])},
                     {"name": "b", "train": "", "eval": str(toy["task"])}],
           "eval": {"general": str(toy["general"]), "max_length": 64, "batch_size": 4},
           "sweep": {"directions": [], "grids": [{"directions": ["a", "b"], "range": {"start": -1, "stop": 1, "num": 5}}],
                     **sweep}}
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_plan_from_config_json_alone(toy, bare, tmp_path, capsys):
    from transformers import AutoModelForCausalLM
    assert main(["plan", "-c", str(plan_config(toy, tmp_path, bare)), "--json", "--device-memory", "1"]) == 0
    plan = json.loads(capsys.readouterr().out)
    n = sum(p.numel() for p in AutoModelForCausalLM.from_pretrained(toy["base"]).parameters())   # tied: once
    b = plan["bytes"]
    assert plan["parameters"] == n and plan["fits"] is True and plan["device_memory"] == GIB
    assert b["base"] == 4 * n and b["vectors"] == 2 * 4 * n             # two dense fp32 vectors (not written yet)
    assert 4 * n <= b["model"] < 4 * n + 4096                           # + rotary buffers
    assert b["total"] == b["model"] + b["base"] + b["vectors"] + b["activations"]
    assert plan["eval_batch"]["tokens"] == 64                           # no tokenizer: max_length
    assert plan["points"] == 25 and plan["shards"] == 1
    assert {d["kind"] for d in plan["directions"].values()} == {"dense"}


def test_plan_does_not_fit_exits_3_with_suggestions(toy, bare, tmp_path, capsys):
    path = plan_config(toy, tmp_path, bare)
    full = memory_plan(load_config(str(path)), 10 * GIB)
    b = full["bytes"]
    memory = (full["per_device"] - (b["model"] + b["base"] + b["vectors"]) / 4) / 0.92   # short of a quarter of the copies
    assert main(["plan", "-c", str(path), "--json", "--device-memory", str(memory / GIB)]) == 3
    plan = json.loads(capsys.readouterr().out)
    assert plan["fits"] is False
    text = " ".join(plan["suggestions"])
    assert "sweep.devices_per_worker=2" in text and "sweep.resident=host" in text and "LoRA" in text
    host = memory_plan(load_config(str(path), ["sweep.resident=host"]), int(memory))
    assert host["fits"] and host["host"] == b["base"] + b["vectors"]
    assert host["per_device"] == b["model"] + b["activations"]
    assert main(["plan", "-c", str(path), "--device-memory", str(memory / GIB)]) == 3
    assert "fits            NO" in capsys.readouterr().out


def test_plan_counts_adapters_by_their_size(toy, tmp_path):
    peft = pytest.importorskip("peft")
    from transformers import AutoModelForCausalLM
    model = peft.get_peft_model(AutoModelForCausalLM.from_pretrained(toy["base"]),
                                peft.LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]))
    model.save_pretrained(tmp_path / "ad")
    path = plan_config(toy, tmp_path, toy["base"], task_vectors={"a": str(tmp_path / "ad")})
    plan = memory_plan(load_config(str(path)), 10 * GIB)
    q = model.base_model.model.model.layers[0].self_attn.q_proj.base_layer.weight
    v = model.base_model.model.model.layers[0].self_attn.v_proj.base_layer.weight
    adapter = 2 * 4 * ((q.shape[0] + q.shape[1]) + (v.shape[0] + v.shape[1])) * 4    # 2 layers, r = 4, fp32
    assert plan["directions"]["a"] == {"kind": "lora", "bytes": adapter, "rank": 4, "parameters_moved": 4}
    n = plan["parameters"]
    assert plan["bytes"]["vectors"] == adapter + 4 * n                  # b: dense
    assert plan["eval_batch"]["tokens"] < 64                            # tokenizer present: the real longest text


def test_sweep_refuses_before_loading_when_it_does_not_fit(toy, tmp_path, capsys):
    out = tmp_path / "out"
    path = make_config(toy, tmp_path, out, device_memory_gib=1e-4)
    assert main(["sweep", "-c", str(path)]) == 3
    assert "does not fit" in capsys.readouterr().err
    assert not (out / "points").exists() or not list((out / "points").iterdir())
