"""SIGKILL and SIGTERM of `sitv taskvector` while it writes T (a 16 MB model, so the write
takes long enough to be caught): T is absent or whole — the write goes to a hidden temp name,
fsynced and renamed; a hidden temp may stay behind (sitv installs no SIGTERM handler, so both
signals end it at once) and nothing reads it — and the rerun writes the same T as an uninterrupted run.
Integration: a few subprocesses (~20 s)."""
import os
import re
import signal
import subprocess
import sys
import time

import pytest
import torch

from conftest import SENTENCES

ENV = dict(os.environ, OMP_NUM_THREADS="1", TQDM_DISABLE="1")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    from transformers import LlamaConfig, LlamaForCausalLM
    from sitv_dist.embedded.tokenizer import train_tokenizer
    root = tmp_path_factory.mktemp("tv-models")
    tok = train_tokenizer(300, SENTENCES * 3)
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tok), hidden_size=256, intermediate_size=1024,
                                         num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=4))
    for name in ("base", "tuned"):
        model.save_pretrained(root / name)
        tok.save_pretrained(root / name)
        with torch.no_grad():
            for p in model.parameters():
                p.add_(0.01 * torch.randn_like(p))
    return root


def _read(path):
    from safetensors import safe_open
    with safe_open(str(path), "pt") as f:
        return f.metadata(), {k: f.get_tensor(k).numpy().tobytes() for k in f.keys()}


def _argv(models, dest):
    return [sys.executable, "-m", "sitv_dist.cli", "taskvector", "--base", str(models / "base"),
            "--finetuned", str(models / "tuned"), "--out", str(dest)]


@pytest.mark.integration
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_a_kill_while_writing_a_task_vector_leaves_it_absent_or_whole(models, tmp_path, sig):
    reference = tmp_path / "ref" / "T.safetensors"
    assert subprocess.run(_argv(models, reference), env=ENV, capture_output=True).returncode == 0
    assert reference.stat().st_size > 16 * 2**20
    out = tmp_path / "out"
    out.mkdir()
    dest = out / "T.safetensors"
    for _ in range(3):                          # until a kill lands while the temp file is being written
        proc = subprocess.Popen(_argv(models, dest), env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while proc.poll() is None and not any(p.name.endswith(".tmp") for p in out.iterdir()):
            time.sleep(0.0005)
        caught = proc.poll() is None
        proc.send_signal(sig)
        proc.wait(60)
        if caught:
            break
        dest.unlink()
    assert caught, "the write was never caught in progress"
    assert not dest.exists()                            # absent (never half): the rename had not happened
    temps = [p.name for p in out.iterdir()]
    # hidden temps may stay, and nothing reads one: ours (.T.safetensors.*.tmp), and safetensors' own
    # (.tmpXXXXXX: save_file writes a temp and renames it onto ours) when the kill lands inside save_file
    ours = [n for n in temps if n.startswith(".T.safetensors.") and n.endswith(".tmp")]
    theirs = [n for n in temps if re.fullmatch(r"\.tmp[A-Za-z0-9]{6}", n)]
    assert len(ours) <= 1 and len(theirs) <= 1 and sorted(ours + theirs) == sorted(temps), temps
    rerun = subprocess.run(_argv(models, dest), env=ENV, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert _read(dest) == _read(reference)              # the same T (safetensors orders metadata as it likes)
