"""`sweep_model` against plain transformers: the model with its weights set to base + cT by
hand, labels with -100 on the padding, the loss as transformers computes it."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from transformers import AutoTokenizer, LlamaForCausalLM

from sitv_dist import sweep_model
from conftest import SENTENCES


@pytest.fixture(scope="module")
def held(toy):
    model = LlamaForCausalLM.from_pretrained(toy["base"], torch_dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(toy["base"])
    finetuned = LlamaForCausalLM.from_pretrained(toy["ft"], torch_dtype=torch.float32)
    base = {n: p.detach().clone() for n, p in model.named_parameters()}
    T = {n: (p.detach() - base[n]) for n, p in finetuned.named_parameters()}
    return model, tokenizer, base, T


def oracle_loss(model, tokenizer, base, T, c: float, texts: list[str]) -> float:
    """Token-mean NLL of transformers' own loss at base + cT over a padded batch of all texts."""
    with torch.no_grad():
        for n, p in model.named_parameters():
            p.copy_(base[n] + c * T[n])
    tokenizer.pad_token = tokenizer.pad_token or tokenizer.eos_token
    batch = tokenizer(texts, padding=True, truncation=True, max_length=64, return_tensors="pt")
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    with torch.no_grad():
        logits = model(**batch).logits.double()
    shift, target = logits[:, :-1], labels[:, 1:]
    nll = torch.nn.functional.cross_entropy(shift.reshape(-1, shift.shape[-1]), target.reshape(-1),
                                            ignore_index=-100, reduction="sum")
    with torch.no_grad():
        loss = model(**batch, labels=labels).loss       # transformers' own mean over the same tokens
    count = int((target != -100).sum())
    assert abs(float(loss) - float(nll) / count) < 1e-5
    with torch.no_grad():
        for n, p in model.named_parameters():
            p.copy_(base[n])
    return float(nll) / count


def test_line_equals_plain_transformers(held):
    model, tokenizer, base, T = held
    texts = SENTENCES[:6]
    alphas = [-1.0, 0.0, 0.5, 1.0]
    df = sweep_model(model, tokenizer, {"mytask": T}, texts, alpha=alphas, max_length=64, batch_size=4)
    whole = df[df.category == "all"].set_index("mytask")
    assert list(whole.index) == alphas
    for c in alphas:
        assert whole.loc[c, "loss"] == pytest.approx(oracle_loss(model, tokenizer, base, T, c, texts), abs=1e-6)
    assert whole.loc[0.0, "tokens"] == sum(len(tokenizer(t)["input_ids"]) - 1 for t in texts)
    for n, p in model.named_parameters():         # the model is handed back at the base
        assert torch.equal(p, base[n])


def test_grid_from_a_file_and_dict_agree_and_points_are_evaluated_once(held, tmp_path):
    model, tokenizer, base, T = held
    save_file({n: t.contiguous() for n, t in T.items()}, tmp_path / "T.safetensors")
    half = {n: 0.5 * t for n, t in T.items() if "layers.0." in n}     # a subset of the parameters
    df = sweep_model(model, tokenizer, {"a": str(tmp_path / "T.safetensors"), "b": half},
                     {"general": SENTENCES[:4], "other": SENTENCES[4:8]},
                     alpha=[0.0, 1.0], grid={"a": [0.0, 1.0], "b": [0.0, 2.0]}, max_length=64)
    grid = df[(df.kind == "grid") & (df.eval_set == "general")]
    assert len(grid) == 4 and sorted(set(df.eval_set)) == ["general", "other"]
    # the line along a at 1 and the grid point (1, 0) are one point, evaluated once
    line_a1 = df[(df.sweep == "line_a") & (df.a == 1.0) & (df.eval_set == "general")]
    g10 = grid[(grid.a == 1.0) & (grid.b == 0.0)]
    assert line_a1.point.item() == g10.point.item() and line_a1.loss.item() == g10.loss.item()
    # b = 2 · (T on layer 0) is T's layer-0 part: (a=0, b=2) moves only layer 0 by T
    partial = {n: (t if "layers.0." in n else torch.zeros_like(t)) for n, t in T.items()}
    want = oracle_loss(model, tokenizer, base, partial, 1.0, SENTENCES[:4])
    assert grid[(grid.a == 0.0) & (grid.b == 2.0)].loss.item() == pytest.approx(want, abs=1e-6)
    assert np.isfinite(df.loss).all()


def test_bad_direction_is_named(held):
    model, tokenizer, _, T = held
    with pytest.raises(ValueError, match=r"directions\['x'\].*not parameters"):
        sweep_model(model, tokenizer, {"x": {"nope.weight": torch.zeros(1)}}, SENTENCES[:2], alpha=[0.0])
    with pytest.raises(ValueError, match="give alpha"):
        sweep_model(model, tokenizer, {"x": T}, SENTENCES[:2])


def test_a_peft_adapter_direction_equals_its_dense_merge(toy, tmp_path):
    """A LoRA adapter directory as a direction: the loss at c equals peft's own merge at c."""
    from test_lora import make_adapter, merged
    adapter = make_adapter(toy["base"], tmp_path / "adapter")
    model = LlamaForCausalLM.from_pretrained(toy["base"], torch_dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(toy["base"])
    texts = SENTENCES[:5]
    df = sweep_model(model, tokenizer, {"lora": str(adapter)}, texts, alpha=[0.0, 0.7], max_length=64)
    whole = df[df.category == "all"].set_index("lora")
    for c in (0.0, 0.7):
        ref = merged(toy["base"], adapter, c)
        want = sweep_model(ref, tokenizer, {"none": {}}, texts, alpha=[0.0], max_length=64)
        assert whole.loc[c, "loss"] == pytest.approx(want[want.category == "all"].loss.item(), rel=1e-5)
    assert whole.loc[0.7, "loss"] != whole.loc[0.0, "loss"]
