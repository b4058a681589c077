"""The coefficient search under real launchers: SIGKILL mid-batch and a rerun (the same result,
nothing recomputed), two local worker processes equal to one, and the Slurm launcher."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import make_config
from sitv_dist.cli import main
from sitv_dist.outdir import OutDir
from sitv_dist.sweep.plan import load_plan

TINY = ["embedded.pretrain_steps=30", "embedded.hidden_size=32", "embedded.intermediate_size=64",
        "embedded.vocab_size=512", "finetune.max_steps=12", "finetune.epochs=2", "eval.max_texts=24",
        "tasks=[{name: sentiment_positive}]", "sweep.directions=[sentiment_positive]", "sweep.grids=[]",
        "sweep.search.directions=[sentiment_positive]", "sweep.search.split=layers",
        "sweep.search.budget=32", "sweep.search.batch=8"]
ENV = dict(os.environ, OMP_NUM_THREADS="1", TQDM_DISABLE="1")


def _argv(command: str, out: Path) -> list[str]:
    return [sys.executable, "-m", "sitv_dist.cli", command,
            *[x for o in [f"out_dir={out}", *TINY] for x in ("--set", o)]]


def _mid_batch(out: Path) -> bool:
    """A second or later batch is planned and some, not all, of its points are on disk."""
    try:
        plan = load_plan(out)
    except Exception:       # not written yet, or being replaced
        return False
    search = [p for p in plan.points if p.origin == "search"]
    last = max((p.round for p in search), default=0)
    batch = [p for p in search if p.round == last]
    on_disk = sum((out / "points" / f"{p.id}.json").is_file() for p in batch)
    return last >= 2 and 0 < on_disk < len(batch)


def test_search_killed_mid_batch_resumes_to_the_same_result_recomputing_nothing(tmp_path):
    env = dict(ENV, SITV_CACHE=os.environ["SITV_CACHE"])
    first = tmp_path / "first"
    done = subprocess.run(_argv("finetune", first), env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    killed = tmp_path / "killed"
    shutil.copytree(first, killed)
    assert subprocess.run(_argv("search", first), env=env, capture_output=True, timeout=600).returncode == 0
    proc = subprocess.Popen(_argv("search", killed), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None and not _mid_batch(killed):
        time.sleep(0.005)
    assert proc.poll() is None, "the search ended before it could be killed mid-batch"
    proc.send_signal(signal.SIGKILL)
    proc.wait(60)
    before = OutDir(killed).evaluation_counts()
    assert before and len(before) % 8 != 0                  # killed inside a batch
    rerun = subprocess.run(_argv("search", killed), env=env, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    counts = OutDir(killed).evaluation_counts()
    assert set(counts.values()) == {1}                       # 0 recomputed
    assert set(before) < set(counts)
    a, b = (json.loads((d / "search.json").read_text()) for d in (first, killed))
    assert a["complete"] and b["complete"] and len(b["history"]) == 32
    assert a["history"] == b["history"]                      # the same proposals, points and values
    assert "## Coefficient search" in (killed / "report.md").read_text()


def test_two_worker_processes_give_the_one_worker_result(toy, tmp_path):
    search = {"directions": ["mytask"], "split": "layers", "bounds": [-1.0, 1.5], "budget": 12, "batch": 4}
    histories = []
    for workers in (1, 2):
        out = tmp_path / f"w{workers}"
        cfg = make_config(toy, tmp_path, out, refine_rounds=0, search=search, workers=workers)
        assert main(["search", "-c", str(cfg)]) == 0
        histories.append(json.loads((out / "search.json").read_text())["history"])
    one, two = histories
    assert [h["x"] for h in one] == [h["x"] for h in two] and len(one) == 12
    assert [h["point"] for h in one] == [h["point"] for h in two]
    for h1, h2 in zip(one, two):
        assert abs(h1["objective"] - h2["objective"]) <= 1e-9


def test_search_under_the_slurm_launcher(toy, tmp_path, slurm_cluster):
    search = {"directions": ["mytask"], "split": "layers", "bounds": [-1.0, 1.5], "budget": 8, "batch": 4}
    local, slurm = tmp_path / "local", tmp_path / "slurm"
    assert main(["search", "-c", str(make_config(toy, tmp_path, local, refine_rounds=0, search=search))]) == 0
    assert main(["search", "-c", str(make_config(toy, tmp_path, slurm, refine_rounds=0, search=search)),
                 "--launcher", "slurm", "--set", "slurm.tasks=2", "--set", "slurm.poll_s=1"]) == 0
    a, b = (json.loads((d / "search.json").read_text()) for d in (local, slurm))
    assert b["complete"] and [h["x"] for h in a["history"]] == [h["x"] for h in b["history"]]
    assert [h["objective"] for h in a["history"]] == [h["objective"] for h in b["history"]]
    submissions = json.loads((slurm / "slurm" / "submissions.json").read_text())
    assert len(submissions) == 2                             # one array job per batch


def test_search_under_torchrun_ranks_equals_one_process(toy, tmp_path):
    search = {"directions": ["mytask"], "split": "layers", "bounds": [-1.0, 1.5], "budget": 8, "batch": 4}
    local, ranks = tmp_path / "local", tmp_path / "ranks"
    assert main(["search", "-c", str(make_config(toy, tmp_path, local, refine_rounds=0, search=search))]) == 0
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}", TQDM_DISABLE="1",
               OMP_NUM_THREADS="1")
    proc = subprocess.run(["torchrun", "--standalone", "--nproc_per_node=2", "-m", "sitv_dist.cli", "search", "-c",
                           str(make_config(toy, tmp_path, ranks, refine_rounds=0, search=search))],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    a, b = (json.loads((d / "search.json").read_text()) for d in (local, ranks))
    assert b["complete"] and [h["x"] for h in a["history"]] == [h["x"] for h in b["history"]]
    assert [h["objective"] for h in a["history"]] == [h["objective"] for h in b["history"]]
    log = [line.split("\t") for line in (ranks / "logs" / "evaluations.tsv").read_text().splitlines()]
    assert len({who for _, _, who, *_ in log}) == 2               # both ranks evaluated points of each batch
    assert len(log) == len({pid for pid, *_ in log}) == 8        # each point once
    assert "## Coefficient search" in (ranks / "report.md").read_text()
