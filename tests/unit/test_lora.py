"""LoRA adapters as directions: the losses of the model peft merges (an adapter scaled by the
coefficient, merge_and_unload) for a line and for a grid mixing a LoRA and a dense direction;
only adapted parameters are copied; adapters that are not plain LoRA are refused early."""
import json

import numpy as np
import pytest
import torch
import yaml

from conftest import make_config, records
from sitv_dist.cli import main
from sitv_dist.config import ConfigError, ModelConfig
from sitv_dist.models.loading import load_model, load_tokenizer, parameters
from sitv_dist.sweep.apply import PointWriter
from sitv_dist.sweep.evaluation import build_eval_set, per_text_nll
from sitv_dist.texts import load_texts
from sitv_dist.vectors import directions, lora, taskvector
from sitv_dist.vectors.taskvector import difference

peft = pytest.importorskip("peft")
TARGETS = ["q_proj", "v_proj", "down_proj"]


def load(path):
    return load_model(str(path), ModelConfig(name_or_path=str(path), device="cpu"), torch.device("cpu"))


def make_adapter(base_dir, out, seed=0, **extra):
    """A LoRA adapter with random A and B (peft's init leaves B = 0), saved by peft."""
    torch.manual_seed(seed)
    config = peft.LoraConfig(r=4, lora_alpha=8, target_modules=TARGETS, init_lora_weights=False, **extra)
    model = peft.get_peft_model(load(base_dir), config)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.mul_(20.0)                     # a sizeable update: losses move visibly
    model.save_pretrained(out)
    return out


def merged(base_dir, adapter, c, dense=None):
    """peft's own answer: (base + dense) with the adapter's B scaled by c, merged and unloaded."""
    model = load(base_dir)
    if dense is not None:
        with torch.no_grad():
            for name, p in parameters(model).items():
                p.add_(dense[0][name], alpha=dense[1])
    model = peft.PeftModel.from_pretrained(model, str(adapter))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.mul_(c)
    return model.merge_and_unload().eval()


@pytest.fixture(scope="module")
def setup(toy, tmp_path_factory):
    root = tmp_path_factory.mktemp("lora")
    tok = load_tokenizer(str(toy["base"]))
    texts = load_texts(str(toy["general"]), key="eval.general", embedded_name="general", split="eval")
    es = build_eval_set("general", texts, tok, max_length=64, batch_size=4, device=torch.device("cpu"))
    return {"adapter": make_adapter(toy["base"], root / "adapter"),
            "rs": make_adapter(toy["base"], root / "rs", seed=1, use_rslora=True, alpha_pattern={"v_proj": 3}),
            "es": es}


@pytest.mark.parametrize("which", ["adapter", "rs"])
def test_line_equals_peft_merge(toy, setup, which):
    model = load(toy["base"])
    direction = directions.load(setup[which], model, "sweep.task_vectors.l", None)
    assert isinstance(direction, lora.LoraDirection) and len(direction.factors) == 3 * 2
    writer = PointWriter(model, {"l": direction})
    assert set(writer.base) == set(direction.factors)             # only adapted weights are copied
    base_nll = per_text_nll(model, setup["es"], chunk=5)
    for c in (0.7, -1.5, 0.0):
        writer.apply({"l": c})
        got = per_text_nll(model, setup["es"], chunk=5)
        want = per_text_nll(merged(toy["base"], setup[which], c), setup["es"])
        np.testing.assert_allclose(got, want, rtol=1e-5)
        if c:
            assert np.abs(got - base_nll).max() > 0.1                # the adapter really moves the loss
    assert np.array_equal(got, base_nll)                         # c = 0 restores the base bit for bit


def test_grid_mixing_lora_and_dense_equals_peft_merge(toy, setup):
    model = load(toy["base"])
    T = difference(model, load(toy["ft"]))
    direction = directions.load(setup["adapter"], model, "k", None)
    writer = PointWriter(model, {"t": T, "l": direction})
    for a, b in ((0.5, -1.3), (-1.0, 0.4), (0.0, 2.0)):
        writer.apply({"t": a, "l": b})
        got = per_text_nll(model, setup["es"])
        want = per_text_nll(merged(toy["base"], setup["adapter"], b, dense=(T, a)), setup["es"])
        np.testing.assert_allclose(got, want, rtol=1e-5)


def test_sweep_command_with_an_adapter_direction(toy, setup, tmp_path):
    """A line along the adapter and a grid LoRA × dense through `sitv sweep`; the dense T that
    `sitv taskvector --adapter` materialises gives the same losses to 1e-5."""
    out = tmp_path / "out"
    path = make_config(toy, tmp_path, out)
    cfg = yaml.safe_load(path.read_text())
    cfg["sweep"]["task_vectors"]["ad"] = str(setup["adapter"])
    cfg["sweep"].update(directions=["ad"], alpha={"start": -1.0, "stop": 1.0, "num": 3}, squaring=False,
                        compositional=False, refine_rounds=0,
                        grids=[{"directions": ["ad", "mytask"], "range": {"start": -1.0, "stop": 1.0, "num": 3}}])
    path.write_text(yaml.safe_dump(cfg))
    assert main(["sweep", "-c", str(path), "--no-reduce"]) == 0
    dense_path = tmp_path / "ad.safetensors"
    assert main(["taskvector", "--base", str(toy["base"]), "--adapter", str(setup["adapter"]),
                 "--out", str(dense_path)]) == 0
    cfg["sweep"]["task_vectors"]["ad"] = str(dense_path)
    cfg["out_dir"] = str(tmp_path / "dense")
    path.write_text(yaml.safe_dump(cfg))
    assert main(["sweep", "-c", str(path), "--no-reduce"]) == 0
    got, want = records(out), records(tmp_path / "dense")
    assert set(got) == set(want) and len(got) == 9
    for pid, rec in got.items():
        np.testing.assert_allclose(rec["sets"]["general"]["per_text_nll"], want[pid]["sets"]["general"]["per_text_nll"],
                                   rtol=1e-5)
    from safetensors import safe_open
    with safe_open(str(dense_path), framework="pt") as f:
        meta = f.metadata()
        assert set(f.keys()) == set(parameters(load(toy["base"])))       # a full dense T, zeros elsewhere
        assert float(f.get_tensor("model.layers.0.mlp.up_proj.weight").abs().max()) == 0.0
    assert meta["finetuned"] == str(setup["adapter"])


def test_gpt2_fan_in_fan_out_matches_peft(tmp_path):
    from transformers import GPT2Config, GPT2LMHeadModel
    torch.manual_seed(0)
    base = GPT2LMHeadModel(GPT2Config(vocab_size=50, n_embd=16, n_layer=1, n_head=2, n_positions=32)).eval()
    base.save_pretrained(tmp_path / "base")
    model = peft.get_peft_model(GPT2LMHeadModel.from_pretrained(tmp_path / "base"),
                                peft.LoraConfig(r=2, lora_alpha=4, target_modules=["c_attn"], fan_in_fan_out=True,
                                                init_lora_weights=False))
    model.save_pretrained(tmp_path / "ad")
    direction = lora.read(tmp_path / "ad", "k")
    writer = PointWriter(base, {"l": direction})
    writer.apply({"l": 1.0})
    ref = model.merge_and_unload()
    torch.testing.assert_close(base.transformer.h[0].attn.c_attn.weight, ref.transformer.h[0].attn.c_attn.weight,
                               rtol=1e-6, atol=1e-7)


def test_bad_adapters_are_refused_before_loading(toy, setup, tmp_path):
    import shutil
    dora = tmp_path / "dora"
    shutil.copytree(setup["adapter"], dora)
    cfg = json.loads((dora / "adapter_config.json").read_text())
    (dora / "adapter_config.json").write_text(json.dumps(cfg | {"use_dora": True}))
    with pytest.raises(ConfigError, match="k: .* uses use_dora"):
        lora.read(dora, "k")
    with pytest.raises(ConfigError, match="adapts .* which the model does not have"):
        lora.check_fits(lora.read(setup["adapter"], "k"), {"x.weight": (2, 2)}, "k")
    shapes = {n: (1, 1) for n in lora.read(setup["adapter"], "k").factors}
    with pytest.raises(ConfigError, match="gives .* the shape"):
        lora.check_fits(lora.read(setup["adapter"], "k"), shapes, "k")
    directions.check_fits(setup["adapter"], taskvector.model_shapes(str(toy["base"])), "k")   # the right model: no error


def test_bf16_model_in_row_blocks(toy, setup, monkeypatch):
    """A bf16 model: B·A is added in fp32 row blocks of the scratch and rounded once; the result
    is the fp32 merge rounded to bf16 (at most one bf16 step apart where addmm's blocking
    changes the last fp32 bit)."""
    from sitv_dist.sweep import apply as apply_module
    monkeypatch.setattr(apply_module, "SCRATCH_ELEMENTS", 100)
    model = load_model(str(toy["base"]), ModelConfig(name_or_path=str(toy["base"]), device="cpu"),
                       torch.device("cpu"), "bfloat16")
    PointWriter(model, {"l": directions.load(setup["adapter"], model, "k", None)}).apply({"l": 0.6})
    ref = merged(toy["base"], setup["adapter"], 0.6)
    base32 = parameters(load(toy["base"]))
    for name, p in parameters(model).items():
        want = parameters(ref)[name]
        if "proj" in name and any(t in name for t in TARGETS):
            expected = (base32[name].to(torch.bfloat16).float() + (want - base32[name])).to(torch.bfloat16)
            assert (p.float() - expected.float()).abs().max() <= expected.float().abs().max() * 2 ** -7, name
            assert not torch.equal(p, base32[name].to(torch.bfloat16)), name
        else:
            assert torch.equal(p, base32[name].to(torch.bfloat16)), name      # untouched


def test_derived_direction_from_an_adapter_is_refused_early(toy, setup, tmp_path, capsys):
    out = tmp_path / "out"
    path = make_config(toy, tmp_path, out)
    cfg = yaml.safe_load(path.read_text())
    cfg["sweep"]["task_vectors"]["ad"] = str(setup["adapter"])
    cfg["sweep"]["derived_directions"] = {"neg_ad": {"negate": "ad"}}
    path.write_text(yaml.safe_dump(cfg))
    assert main(["sweep", "-c", str(path)]) == 2
    assert "neg_ad: 'ad' is a LoRA adapter" in capsys.readouterr().err
    assert not (out / "points").exists() or not list((out / "points").iterdir())
