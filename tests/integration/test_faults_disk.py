"""A real full disk under OUT (a tmpfs, root only) during `sitv sweep`: one line naming the path
and the space, a non-zero exit, no half-written point; after space is freed the rerun
recomputes no finished point and completes. Integration: two subprocess sweeps (~20 s)."""
import os
import subprocess
import sys

import pytest

from conftest import make_config
from sitv_dist.outdir import OutDir
from sitv_dist.sweep.plan import load_plan

ENV = dict(os.environ, OMP_NUM_THREADS="1", TQDM_DISABLE="1")


def _mount(path, size):
    path.mkdir(exist_ok=True)
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True).returncode == 0


@pytest.mark.integration
def test_full_disk_during_a_sweep_is_one_line_and_loses_nothing(toy, tmp_path):
    out = tmp_path / "out"
    if os.geteuid() != 0 or not _mount(out, "96k"):
        pytest.fail("this test needs root to mount a tmpfs (CI containers run as root)")
    try:
        cfg = make_config(toy, tmp_path, out, alpha={"start": -1.0, "stop": 1.0, "num": 41})
        argv = [sys.executable, "-m", "sitv_dist.cli", "sweep", "-c", str(cfg), "--no-reduce"]
        first = subprocess.run(argv, env=ENV, capture_output=True, text=True, timeout=300)
        lines = [ln for ln in first.stderr.splitlines() if ln.strip() and "%|" not in ln]
        assert first.returncode != 0
        assert lines[-1].startswith(f"error: no space left on device writing {out}/"), lines
        assert " bytes needed); free space" in lines[-1] or "KiB needed); free space" in lines[-1], lines
        assert "Traceback" not in first.stderr
        assert not [p for p in out.rglob("*.tmp")]                       # nothing half-written left
        plan = load_plan(out)
        before = OutDir(out).done_ids(plan)
        assert 0 < len(before) < plan.unique_points, "the disk must fill mid-sweep"
        logged = OutDir(out).evaluation_counts()
        subprocess.run(["mount", "-o", "remount,size=8m", str(out)], check=True)
        second = subprocess.run(argv, env=ENV, capture_output=True, text=True, timeout=300)
        assert second.returncode == 0, second.stderr
        rerun = OutDir(out).evaluation_counts() - logged
        assert not set(rerun) & before                                 # nothing finished recomputed
        assert len(OutDir(out).done_ids(plan)) == plan.unique_points
    finally:
        subprocess.run(["umount", "-l", str(out)], check=False)


FINETUNE = ["embedded.pretrain_steps=30", "embedded.hidden_size=32", "embedded.intermediate_size=64",
            "embedded.vocab_size=512", "finetune.max_steps=12", "finetune.epochs=2", "eval.max_texts=24",
            "tasks=[{name: sentiment_positive}]", "sweep.directions=[sentiment_positive]", "sweep.grids=[]"]


def _lines(stderr: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if ln.strip() and "%|" not in ln and "[WARNING]" not in ln]


@pytest.mark.integration
@pytest.mark.parametrize("checkpoint_every,size,where", [(2, "256k", "checkpoint/step-00000002/"),
                                                         (0, "128k", "model")], ids=["checkpoint", "model"])
def test_full_disk_while_fine_tuning_is_one_line_and_the_rerun_completes(tmp_path, checkpoint_every, size, where):
    """OUT fills while a fine-tune writes a checkpoint (256 KiB: the first one does not fit) or,
    without checkpoints, the fine-tuned model: one line naming the file, the free and the needed
    space; no half checkpoint, no `latest`, no task vector; after space is freed the rerun ends."""
    out = tmp_path / "out"
    if os.geteuid() != 0 or not _mount(out, size):
        pytest.fail("this test needs root to mount a tmpfs (CI containers run as root)")
    env = dict(ENV, SITV_CACHE=str(tmp_path / "cache"))        # the embedded base is built outside OUT
    sets = [f"out_dir={out}", *FINETUNE, f"finetune.checkpoint_every={checkpoint_every}"]
    argv = [sys.executable, "-m", "sitv_dist.cli", "finetune", *[x for s in sets for x in ("--set", s)]]
    try:
        first = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=400)
        lines = _lines(first.stderr)
        task = out / "finetune" / "sentiment_positive"
        assert first.returncode == 1, first.stderr[-3000:]
        assert "Traceback" not in first.stderr and len(lines) == 1, lines
        assert lines[0].startswith(f"error: no space left on device writing {task}/{where}"), lines
        assert "needed); free space on that filesystem" in lines[0], lines
        assert not (out / "task_vectors" / "sentiment_positive.safetensors").exists()
        assert not (task / "history.json").exists()                    # the task is not done
        assert not list(task.glob("checkpoint/step-*")) and not (task / "checkpoint" / "latest").exists()
        assert not list(out.rglob("*.tmp"))
        subprocess.run(["mount", "-o", "remount,size=16m", str(out)], check=True)
        second = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=400)
        assert second.returncode == 0, second.stderr[-3000:]
        assert (out / "task_vectors" / "sentiment_positive.safetensors").stat().st_size > 100_000
        assert (task / "history.json").is_file() and not list(out.rglob("*.tmp"))
    finally:
        subprocess.run(["umount", "-l", str(out)], check=False)


def _pages(n: int) -> int:
    return -(-n // 4096) * 4096


@pytest.mark.integration
@pytest.mark.parametrize("fills_at", ["plots", "analysis.json"])
def test_full_disk_while_writing_plots_or_the_report_is_one_line_and_the_rerun_completes(toy, tmp_path, fills_at):
    """OUT fills while `sitv report` writes its plots (no room for the first) or, the plots
    written, analysis.json: one line naming the file and the space, a non-zero exit, no temp or
    half image left, every point and results file kept; after space is freed the rerun ends."""
    out = tmp_path / "out"
    if os.geteuid() != 0 or not _mount(out, "8m"):
        pytest.fail("this test needs root to mount a tmpfs (CI containers run as root)")
    try:
        cfg = make_config(toy, tmp_path, out)
        cli = [sys.executable, "-m", "sitv_dist.cli"]
        report = [*cli, "report", str(out), "--bootstrap", "0"]
        assert subprocess.run([*cli, "sweep", "-c", str(cfg), "--no-reduce"], env=ENV, capture_output=True).returncode == 0
        assert subprocess.run([*cli, "reduce", str(out)], env=ENV, capture_output=True).returncode == 0
        assert subprocess.run(report, env=ENV, capture_output=True).returncode == 0
        plots = {p.name: p.read_bytes() for p in (out / "plots").iterdir()}
        target = 2 * 4096 if fills_at == "plots" else sum(_pages(len(b)) for b in plots.values())
        assert min(len(b) for b in plots.values()) > 2 * 4096 and len((out / "analysis.json").read_bytes()) > 0
        for p in (out / "plots").iterdir():
            p.unlink()
        (out / "analysis.json").unlink()
        (out / "report.md").unlink()
        kept = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}
        with open(out / "filler", "wb") as f:
            f.write(b"\0" * (os.statvfs(out).f_bavail * 4096 - target))
        first = subprocess.run(report, env=ENV, capture_output=True, text=True, timeout=300)
        lines = _lines(first.stderr)
        assert first.returncode == 1 and "Traceback" not in first.stderr and len(lines) == 1, first.stderr[-3000:]
        named = f"{out}/plots/" if fills_at == "plots" else f"{out}/analysis.json ("
        assert lines[0].startswith(f"error: no space left on device writing {named}"), lines
        assert "needed); free space on that filesystem" in lines[0], lines
        assert not list(out.rglob("*.tmp")) and not (out / "report.md").exists()
        for p in (out / "plots").iterdir():                     # what was written is whole
            assert p.read_bytes() == plots[p.name], p
        assert {k: (out / k).read_bytes() for k in kept} == kept    # nothing finished lost or changed
        (out / "filler").unlink()
        second = subprocess.run(report, env=ENV, capture_output=True, text=True, timeout=300)
        assert second.returncode == 0, second.stderr[-3000:]
        assert {p.name: p.read_bytes() for p in (out / "plots").iterdir()} == plots
        assert (out / "report.md").is_file() and not list(out.rglob("*.tmp"))
    finally:
        subprocess.run(["umount", "-l", str(out)], check=False)
