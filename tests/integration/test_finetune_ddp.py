"""Fine-tuning under a real torchrun on the CPU (gloo, 2 ranks): the same global batch on 2
ranks as on 1, a SIGKILLed run that resumes to identical weights, early stopping decided
together, and DeepSpeed ZeRO-2 / ZeRO-3 through accelerate against the DDP run."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import torch
import yaml
from safetensors.torch import load_file

from conftest import SENTENCES, write_jsonl

ROOT = Path(__file__).resolve().parents[2]
ENV = dict(os.environ, OMP_NUM_THREADS="1", TQDM_DISABLE="1")


@pytest.fixture(scope="module")
def setup(toy, tmp_path_factory) -> dict:
    """Training texts of varied length for a task 'mytask', and a config writer."""
    root = tmp_path_factory.mktemp("ddp")
    rows = [{"text": f"{SENTENCES[i % 10]} {SENTENCES[(i * 7 + 3) % 10]}"[: 40 + (i * 13) % 60]} for i in range(200)]
    train = write_jsonl(root / "train.jsonl", rows)
    words = " ".join(SENTENCES).split()
    noise = [{"text": " ".join(words[(i * 7 + j * j * 3) % len(words)] for j in range(12))} for i in range(24)]
    noisy = write_jsonl(root / "noise.jsonl", noise)

    def config(name: str, train_file: Path = train, **finetune) -> Path:
        ft = {"epochs": 4, "batch_size": 4, "grad_accum": 2, "lr": 3e-3, "val_fraction": 0.2, "max_length": 32,
              "patience": 0, "warmup_ratio": 0.1} | finetune
        cfg = {"out_dir": str(root / name), "model": {"name_or_path": str(toy["base"])},
               "tasks": [{"name": "mytask", "train": str(train_file), "eval": str(toy["task"])}],
               "eval": {"general": str(toy["general"])}, "finetune": ft,
               "sweep": {"directions": ["mytask"], "grids": []}}
        path = root / f"{name}.yaml"
        path.write_text(yaml.safe_dump(cfg))
        return path

    return {"root": root, "config": config, "noise": noisy}


def torchrun(config: Path, *args: str, nproc: int = 2) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           "-m", "sitv_dist.cli", "finetune", "-c", str(config), *args]
    out = subprocess.run(cmd, env=ENV, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-5000:]
    return out


def killed_at_first_checkpoint(config: Path, task_dir: Path) -> int:
    """Start a 2-rank run, SIGKILL every process of it once a checkpoint exists; the step it holds."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "sitv_dist.cli", "finetune", "-c", str(config)]
    proc = subprocess.Popen(cmd, env=ENV, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    latest = task_dir / "checkpoint" / "latest"
    deadline = time.monotonic() + 240
    while not latest.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    ranks = psutil.Process(proc.pid).children(recursive=True)   # torchrun starts each rank in its own session
    for p in ranks:
        p.kill()
    proc.kill()
    proc.wait()
    psutil.wait_procs(ranks, timeout=30)
    assert proc.returncode == -9 and latest.exists(), "the run ended before it could be killed"
    assert not (task_dir / "model").exists() and not (task_dir / "history.json").exists()
    return int(latest.read_text().strip().removeprefix("step-"))


def weights(out: Path) -> dict[str, torch.Tensor]:
    return load_file(out / "finetune" / "mytask" / "model" / "model.safetensors")


def history(out: Path) -> dict:
    return json.loads((out / "finetune" / "mytask" / "history.json").read_text())


def val_loss(model_dir: Path, train_file: Path, val_fraction: float, seed: int = 0) -> float:
    """Validation loss of a saved model on the trainer's held-out split, computed here."""
    from transformers import AutoModelForCausalLM

    from sitv_dist.texts import load_texts
    from sitv_dist.sweep.evaluation import build_eval_set, per_text_nll, summarize
    from sitv_dist.finetune.loop import split_train_val
    from sitv_dist.models.loading import load_tokenizer
    texts = load_texts(str(train_file), key="t", embedded_name="mytask", split="train")
    _, val = split_train_val(texts, val_fraction, seed)
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    eval_set = build_eval_set("val", val, load_tokenizer(str(model_dir)), 32, 8, torch.device("cpu"))
    return summarize(eval_set, per_text_nll(model, eval_set))["loss"]


@pytest.fixture(scope="module")
def ddp_run(setup) -> Path:
    """The reference: 2 ranks, batch 4 per rank, grad_accum 2 (global batch 16), checkpoints every 3 steps."""
    config = setup["config"]("ddp", checkpoint_every=3)
    out = torchrun(config)
    lines = [ln for ln in out.stdout.replace("\r", "\n").splitlines() if "finished at" in ln]
    assert sorted(ln.split(": ", 1)[1] for ln in lines) == [
        "rank 0/2 finished at epoch 4 step 40, stopped early: False",
        "rank 1/2 finished at epoch 4 step 40, stopped early: False"]
    return setup["root"] / "ddp"


def test_two_ranks_match_one_rank_with_the_same_global_batch(setup, ddp_run):
    from sitv_dist.cli import main
    config = setup["config"]("one", batch_size=8)            # 8 × 1 rank × 2 = 4 × 2 ranks × 2
    assert main(["finetune", "-c", str(config)]) == 0
    one, two = setup["root"] / "one", ddp_run
    h1, h2 = history(one), history(two)
    assert (h1["world_size"], h1["global_batch"], h2["world_size"], h2["global_batch"]) == (1, 16, 2, 16)
    assert len(h2["steps"]) == 40 and [s["tokens"] for s in h1["steps"]] == [s["tokens"] for s in h2["steps"]]
    w1, w2 = weights(one), weights(two)
    assert set(w1) == set(w2)
    for k in w1:
        torch.testing.assert_close(w2[k], w1[k], rtol=1e-4, atol=2e-5)
    for e1, e2 in zip(h1["epochs"], h2["epochs"]):
        assert e2["val_loss"] == pytest.approx(e1["val_loss"], rel=1e-6)
        assert e2["train_loss"] == pytest.approx(e1["train_loss"], rel=1e-6)
    assert h2["epochs"][-1]["val_loss"] < h2["epochs"][0]["val_loss"] - 0.3                  # it learned
    assert h2["epochs"][-1]["val_loss"] == pytest.approx(
        val_loss(two / "finetune" / "mytask" / "model", setup["root"] / "train.jsonl", 0.2), rel=1e-5)
    # the same outputs as the single-process path, and no checkpoint left behind
    for out in (one, two):
        assert (out / "task_vectors" / "mytask.safetensors").is_file()
        assert (out / "finetune" / "mytask" / "model" / "tokenizer.json").is_file()
        assert not (out / "finetune" / "mytask" / "checkpoint").exists()


def test_a_killed_run_resumes_to_identical_weights(setup, ddp_run):
    config = setup["config"]("killed", checkpoint_every=3)
    task_dir = setup["root"] / "killed" / "finetune" / "mytask"
    step = killed_at_first_checkpoint(config, task_dir)
    assert 3 <= step < 40 and step % 3 == 0
    out = torchrun(config)
    assert f"resuming from {task_dir / 'checkpoint'}" in out.stdout
    resumed, reference = history(setup["root"] / "killed"), history(ddp_run)
    assert resumed["resumed_from_step"] == step
    assert resumed["steps"] == reference["steps"] and resumed["epochs"] == reference["epochs"]
    w, ref = weights(setup["root"] / "killed"), weights(ddp_run)
    assert all(torch.equal(w[k], ref[k]) for k in ref)
    from sitv_dist.vectors.taskvector import read_metadata
    tv = lambda out: read_metadata(out / "task_vectors" / "mytask.safetensors")["content_hash"]  # noqa: E731
    assert tv(setup["root"] / "killed") == tv(ddp_run)
    assert not (task_dir / "checkpoint").exists()


def test_early_stopping_stops_every_rank_at_the_same_step(setup):
    """A small set of word salad, a high learning rate: validation turns up, both ranks stop
    together and the saved model is the best epoch's."""
    config = setup["config"]("early", train_file=setup["noise"], epochs=30, batch_size=2, grad_accum=1, lr=0.02,
                             patience=2, val_fraction=0.34, warmup_ratio=0.0)
    out = torchrun(config)
    lines = sorted(ln.split(": ", 1)[1] for ln in out.stdout.replace("\r", "\n").splitlines() if "finished at" in ln)
    assert len(lines) == 2 and lines[0].startswith("rank 0/2") and lines[1].startswith("rank 1/2")
    assert lines[0].split(" finished at ")[1] == lines[1].split(" finished at ")[1]
    assert lines[0].endswith("stopped early: True")
    h = history(setup["root"] / "early")
    vals = [e["val_loss"] for e in h["epochs"]]
    assert h["stopped_early"] and h["epochs_run"] < 30 and h["best_epoch"] == h["epochs_run"] - 1 - 2
    assert min(vals) == vals[h["best_epoch"]] == h["best_val_loss"] and vals[-1] > vals[h["best_epoch"]]
    assert f"epoch {h['epochs_run']} step {h['steps'][-1]['step']}," in lines[0]
    saved = val_loss(setup["root"] / "early" / "finetune" / "mytask" / "model", setup["noise"], 0.34)
    assert saved == pytest.approx(h["best_val_loss"], rel=1e-5)          # the best weights were restored


@pytest.mark.parametrize("stage", [2, 3])
def test_deepspeed_zero_on_two_cpu_ranks_matches_ddp(setup, ddp_run, stage):
    """ZeRO-2 straight through; ZeRO-3 killed at its first checkpoint and resumed (sharded
    optimizer state). Both save a gathered safetensors model like the DDP run's."""
    pytest.importorskip("deepspeed", reason="the optional extra 'deepspeed' is not installed")
    name = f"zero{stage}"
    config = setup["config"](name, checkpoint_every=3 if stage == 3 else 0, backend="deepspeed",
                             deepspeed_config=str(ROOT / "configs" / "deepspeed" / f"{name}.json"))
    if stage == 3:
        killed_at_first_checkpoint(config, setup["root"] / name / "finetune" / "mytask")
    out = torchrun(config)
    assert stage != 3 or "resuming from" in out.stdout
    h, ref = history(setup["root"] / name), history(ddp_run)
    assert h["backend"] == "deepspeed" and h["global_batch"] == 16 and len(h["steps"]) == 40
    assert [s["tokens"] for s in h["steps"]] == [s["tokens"] for s in ref["steps"]]
    w, ref_w = weights(setup["root"] / name), weights(ddp_run)
    assert set(w) == set(ref_w)                    # tied embedding / LM head stored once, as save_pretrained does
    for k in ref_w:
        torch.testing.assert_close(w[k], ref_w[k], rtol=1e-4, atol=2e-5)
    ds_loss = val_loss(setup["root"] / name / "finetune" / "mytask" / "model", setup["root"] / "train.jsonl", 0.2)
    assert ds_loss == pytest.approx(ref["epochs"][-1]["val_loss"], rel=1e-5)
    assert h["epochs"][-1]["val_loss"] == pytest.approx(ref["epochs"][-1]["val_loss"], rel=1e-6)
    assert (setup["root"] / name / "task_vectors" / "mytask.safetensors").is_file()
