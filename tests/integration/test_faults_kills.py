"""SIGKILL and SIGTERM of a real `sitv run` on the tiny embedded experiment, in each phase
(fine-tuning with and without checkpoint_every, the sweep, refinement, the derivatives, the report): the rerun completes,
refits no finished task (its task vector is the same file, byte for byte and mtime), evaluates
no finished point twice, and no temp file is trusted (a SIGKILL
mid-rename may leave a hidden `.NAME.*.tmp`, which nothing reads), and nothing is written beside
OUT or in HOME (the embedded base goes to $SITV_CACHE). Integration: two runs per case."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sitv_dist.outdir import OutDir

TINY = ["embedded.pretrain_steps=30", "embedded.hidden_size=32", "embedded.intermediate_size=64",
        "embedded.vocab_size=512", "finetune.max_steps=12", "finetune.epochs=2", "eval.max_texts=24",
        "tasks=[{name: sentiment_positive}, {name: qa_factual}]",
        "sweep.directions=[sentiment_positive, qa_factual]", "sweep.alpha={start: -1, stop: 1, num: 21}",
        "sweep.grids=[]"]
ENV = dict(os.environ, OMP_NUM_THREADS="1", TQDM_DISABLE="1")


def _argv(out: Path, *extra: str) -> list[str]:
    sets = [x for o in [f"out_dir={out}", *TINY, *extra] for x in ("--set", o)]
    return [sys.executable, "-m", "sitv_dist.cli", "run", *sets]


def _first_vector(out: Path) -> bool:
    return (out / "task_vectors" / "sentiment_positive.safetensors").is_file()


def _some_points(out: Path) -> bool:
    return len(list((out / "points").glob("p*.json"))) >= 5 if (out / "points").is_dir() else False


def _results(out: Path) -> bool:
    return (out / "results").is_dir() and any((out / "results").iterdir())


def _refining(out: Path) -> bool:
    plan = out / "plan.json"
    return plan.is_file() and '"round": 1' in plan.read_text()


def _derivative_entry(out: Path) -> bool:
    return (out / "derivatives.json").is_file()        # written after each entry


PHASES = {"finetune": ([], _first_vector), "finetune-checkpointed": (["finetune.checkpoint_every=2"], _first_vector),
          "sweep": ([], _some_points), "report": ([], _results), "refine": ([], _refining),
          "derivatives": ([], _derivative_entry)}


@pytest.mark.integration
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
@pytest.mark.parametrize("phase", sorted(PHASES))
def test_a_killed_run_resumes_without_redoing_finished_work(tmp_path, phase, sig):
    out = tmp_path / "out"
    extra, ready = PHASES[phase]
    home = tmp_path / "home"            # HOME of both runs: nothing may land there (outside OUT)
    home.mkdir()
    env = dict(ENV, HOME=str(home), SITV_CACHE=os.environ["SITV_CACHE"])   # the session cache (conftest)
    proc = subprocess.Popen(_argv(out, *extra), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 400
    while time.time() < deadline and not ready(out) and proc.poll() is None:
        time.sleep(0.02)
    assert proc.poll() is None, f"the run ended before the {phase} phase could be interrupted"
    proc.send_signal(sig)
    proc.wait(60)
    vector = out / "task_vectors" / "sentiment_positive.safetensors"
    kept = (vector.read_bytes(), vector.stat().st_mtime_ns)
    points = OutDir(out).points_dir
    done = {p.stem for p in points.glob("p*.json")} if points.is_dir() else set()
    logged = OutDir(out).evaluation_counts()
    derivatives = (out / "derivatives.json")
    finished = json.loads(derivatives.read_text())["entries"] if derivatives.is_file() else {}
    rerun = subprocess.run(_argv(out, *extra), env=env, capture_output=True, text=True, timeout=500)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert (vector.read_bytes(), vector.stat().st_mtime_ns) == kept          # the finished task is not refitted
    again = OutDir(out).evaluation_counts() - logged
    assert not set(again) & done                                              # no finished point recomputed
    assert max(OutDir(out).evaluation_counts().values()) == 1
    assert (out / "report.md").is_file()
    entries = json.loads(derivatives.read_text())["entries"]                  # complete, and
    assert all(entries[k] == v for k, v in finished.items())                 # nothing finished recomputed
    assert "Pending" not in (out / "report.md").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "out"] and not list(home.rglob("*"))
    # a SIGKILL between mkstemp and rename can leave a hidden temp file; no reader ever opens one
    # (they read only final names), and the final file beside it is complete
    for tmp in out.rglob("*.tmp"):
        assert tmp.name.startswith("."), tmp
        final = tmp.parent / tmp.name[1:].rsplit(".", 2)[0]
        assert final.is_file() and final.stat().st_size > 0, final
