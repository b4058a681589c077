"""The fine-tuning loop in one process: how global batches are dealt out to ranks, exact
token-weighted loss over a global batch, resume from a checkpoint, config checks."""
from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch

from conftest import SENTENCES
from sitv_dist.config import ConfigError, FinetuneConfig, load_config
from sitv_dist.texts import Text
from sitv_dist.finetune.loop import epoch_layout, fit, steps_per_epoch, train_sampler
from sitv_dist.finetune.backends import deepspeed_config, global_batch
from sitv_dist.finetune.checkpoint import latest_checkpoint

ROOT = Path(__file__).resolve().parents[2]


def _texts(n: int, seed: int = 0) -> list[Text]:
    rng = random.Random(seed)
    words = " ".join(SENTENCES).split()
    return [Text(" ".join(rng.choice(words) for _ in range(rng.randint(4, 14)))) for _ in range(n)]


def _model_and_tokenizer(toy):
    from transformers import AutoModelForCausalLM

    from sitv_dist.models.loading import load_tokenizer
    return AutoModelForCausalLM.from_pretrained(toy["base"]), load_tokenizer(str(toy["base"]))


def _real(layout):
    return [[i for micro in step for i in micro] for step in layout]


@pytest.mark.parametrize("n,batch,accum", [(37, 3, 2), (40, 2, 2), (5, 2, 3)])
def test_samplers_of_ranks_are_disjoint_cover_the_data_and_form_the_same_global_batches(n, batch, accum):
    cfg1 = FinetuneConfig(batch_size=batch * 2, grad_accum=accum)     # 1 rank, the same global batch
    cfg2 = FinetuneConfig(batch_size=batch, grad_accum=accum)
    assert global_batch(cfg1, 1) == global_batch(cfg2, 2) == 2 * batch * accum
    for epoch in (0, 1):
        one = _real(epoch_layout(train_sampler(n, 7, 0, 1), epoch, cfg1))
        ranks = [_real(epoch_layout(train_sampler(n, 7, r, 2), epoch, cfg2)) for r in (0, 1)]
        assert len(one) == len(ranks[0]) == len(ranks[1]) == steps_per_epoch(n, cfg2, 2) == -(-n // (2 * batch * accum))
        seen = [set(i for step in r for i in step) for r in ranks]
        assert not seen[0] & seen[1]                                   # each rank its own texts
        assert seen[0] | seen[1] == set(range(n))                      # together: every text once
        assert sum(len(step) for r in ranks for step in r) == n        # no padding duplicates
        for s in range(len(one)):                                      # step s trains on the same texts
            assert sorted(ranks[0][s] + ranks[1][s]) == sorted(one[s])
        # every micro-batch is full except in the epoch's last step
        for r in (0, 1):
            for step in epoch_layout(train_sampler(n, 7, r, 2), epoch, cfg2)[:-1]:
                assert [len(m) for m in step] == [batch] * accum
    # the order comes from (seed, epoch): new each epoch, the same when asked again
    a = _real(epoch_layout(train_sampler(n, 7, 0, 1), 0, cfg1))
    assert a == _real(epoch_layout(train_sampler(n, 7, 0, 1), 0, cfg1))
    assert a != _real(epoch_layout(train_sampler(n, 7, 0, 1), 1, cfg1))


def test_loss_is_token_weighted_over_the_global_batch(toy):
    """grad_accum=2 with batch 4 equals batch 8: Σ NLL / Σ tokens over the whole optimizer step
    (texts of very different lengths, so a mean of per-micro-batch means would differ)."""
    texts = _texts(70)
    results = []
    for batch, accum in ((8, 1), (4, 2), (2, 4)):
        model, tok = _model_and_tokenizer(toy)
        cfg = FinetuneConfig(epochs=2, batch_size=batch, grad_accum=accum, lr=3e-3, patience=0, max_length=32)
        history = fit(model, tok, texts, cfg, seed=1).history
        results.append((model.state_dict(), history))
    (ref, h_ref), others = results[0], results[1:]
    assert len(h_ref["steps"]) == 2 * steps_per_epoch(h_ref["train_texts"], FinetuneConfig(batch_size=8), 1) == 16
    for state, h in others:
        assert [s["tokens"] for s in h["steps"]] == [s["tokens"] for s in h_ref["steps"]]
        assert len({s["tokens"] for s in h["steps"]}) > 3
        for k in ref:
            torch.testing.assert_close(state[k], ref[k], rtol=1e-4, atol=2e-5)
        assert h["epochs"][-1]["val_loss"] == pytest.approx(h_ref["epochs"][-1]["val_loss"], rel=1e-6)
    base, _ = _model_and_tokenizer(toy)
    assert max(float((ref[k] - v).abs().max()) for k, v in base.state_dict().items()) > 1e-3   # it trained


def test_resume_from_a_checkpoint_ends_with_identical_weights(toy, tmp_path):
    texts = _texts(60, seed=3)
    cfg = FinetuneConfig(epochs=3, batch_size=4, grad_accum=2, lr=5e-3, patience=0, max_length=32, checkpoint_every=4)
    model, tok = _model_and_tokenizer(toy)
    history = fit(model, tok, texts, cfg, seed=2, checkpoint_dir=tmp_path / "ckpt").history
    assert history["train_texts"] == 54 and len(history["steps"]) == 3 * 7 and history["resumed_from_step"] is None
    folder = latest_checkpoint(tmp_path / "ckpt")       # the last one written: step 20 of 21 (mid-epoch)
    assert folder.name == "step-00000020" and sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == \
        ["latest", "step-00000020"]
    saved = json.loads((folder / "trainer.json").read_text())
    assert (saved["progress"]["epoch"], saved["progress"]["position"], saved["progress"]["step"]) == (2, 6, 20)
    assert len(saved["history"]["steps"]) == 20 and len(saved["history"]["epochs"]) == 2
    (tmp_path / "ckpt" / "step-00000024").mkdir()        # a half-written checkpoint is never used
    assert latest_checkpoint(tmp_path / "ckpt") == folder
    resumed_model, _ = _model_and_tokenizer(toy)
    resumed = fit(resumed_model, tok, texts, cfg, seed=2, checkpoint_dir=tmp_path / "ckpt").history
    assert resumed["resumed_from_step"] == 20
    assert resumed["steps"] == history["steps"] and resumed["epochs"] == history["epochs"]
    for k, v in model.state_dict().items():
        assert torch.equal(v, resumed_model.state_dict()[k]), k
    other, _ = _model_and_tokenizer(toy)
    with pytest.raises(ConfigError, match=r"finetune.checkpoint_every: .*other settings.*'lr'"):
        fit(other, tok, texts, FinetuneConfig(**{**cfg.__dict__, "lr": 1e-3}), seed=2, checkpoint_dir=tmp_path / "ckpt")


def test_deepspeed_config_is_filled_from_the_finetune_settings(tmp_path):
    cfg = FinetuneConfig(batch_size=3, grad_accum=4, max_grad_norm=0.5, backend="deepspeed",
                         deepspeed_config=str(ROOT / "configs/deepspeed/zero3.json"))
    ds = deepspeed_config(cfg, world=8, bf16=True)
    assert (ds["train_micro_batch_size_per_gpu"], ds["gradient_accumulation_steps"], ds["train_batch_size"],
            ds["gradient_clipping"], ds["bf16"]["enabled"]) == (3, 4, 96, 0.5, True)
    assert ds["zero_optimization"]["stage"] == 3 and ds["zero_allow_untested_optimizer"] is True
    assert deepspeed_config(FinetuneConfig(deepspeed_config=str(ROOT / "configs/deepspeed/zero2.json")), 2, False)[
        "zero_optimization"]["stage"] == 2
    bad = tmp_path / "ds.json"
    for content, match in (({"train_batch_size": 99}, r"sets train_batch_size=99 but .* give 96"),
                           ({"zero_optimization": {"stage": 3, "reduce_bucket_size": "auto"}},
                            r"leaves zero_optimization.reduce_bucket_size as \"auto\""),
                           ({"optimizer": {"type": "Adam"}}, "has a 'optimizer' section"),
                           ({"zero_optimization": {"stage": 4}}, "stage must be 0, 1, 2 or 3")):
        bad.write_text(json.dumps(content))
        with pytest.raises(ConfigError, match=match):
            deepspeed_config(FinetuneConfig(batch_size=3, grad_accum=4, deepspeed_config=str(bad)), 8, False)


@pytest.mark.parametrize("override,message", [
    ("finetune.backend=fsdp", "finetune.backend: 'fsdp' is not one of ddp, deepspeed"),
    ("finetune.backend=deepspeed", "finetune.deepspeed_config: must not be empty"),
    ("finetune.checkpoint_every=-1", "finetune.checkpoint_every: must be >= 0"),
    ("finetune.mixed_precision=fp8", "finetune.mixed_precision: 'fp8' is not one of auto, bf16, no"),
])
def test_new_finetune_settings_are_validated(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, [override])


def test_deepspeed_config_file_is_checked_when_the_config_loads():
    with pytest.raises(ConfigError, match="finetune.deepspeed_config: 'nope.json' does not exist"):
        load_config(None, ["finetune.backend=deepspeed", "finetune.deepspeed_config=nope.json"])
    cfg = load_config(ROOT / "configs/finetune-gemma3-12b-8gpu.yaml", [f"finetune.deepspeed_config={ROOT}/configs/deepspeed/zero3.json"])
    assert cfg.finetune.backend == "deepspeed" and cfg.finetune.checkpoint_every > 0
    assert global_batch(cfg.finetune, 8) == 64
