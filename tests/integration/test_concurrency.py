"""Several processes on one OUT (#10): two concurrent sweeps evaluate each point once, and a
SIGKILL of the parent alone takes its workers with it, so the rerun recomputes nothing."""
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import make_config
from sitv_dist.outdir import OutDir
from sitv_dist.sweep.plan import load_plan
from sitv_dist.sweep.reduce import status

ENV = dict(os.environ, OMP_NUM_THREADS="1", TQDM_DISABLE="1")


def _slow_eval_set(toy, tmp_path) -> Path:
    big = tmp_path / "big.jsonl"
    big.write_text(toy["general"].read_text() * 20)
    return big


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return found


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_two_concurrent_sweeps_evaluate_each_point_once(toy, tmp_path):
    out = tmp_path / "out"
    cfg = make_config(toy, tmp_path, out, alpha={"start": -2.0, "stop": 2.0, "num": 17}, num_shards=4)
    args = [sys.executable, "-m", "sitv_dist.cli", "sweep", "-c", str(cfg), "--no-reduce",
            "--set", f"eval.general={_slow_eval_set(toy, tmp_path)}"]
    first = subprocess.Popen(args, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    second = subprocess.Popen(args, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    outputs = [p.communicate(timeout=600) for p in (first, second)]
    assert first.returncode == 0 and second.returncode == 0, [e for _, e in outputs]
    counts = OutDir(out).evaluation_counts()
    plan = load_plan(out)
    assert len(counts) == len(plan.points) and max(counts.values()) == 1      # each point once, none lost
    assert status(out)["done"] == len(plan.points)
    hosts = {line.split("\t")[2] for line in OutDir(out).evaluation_log.read_text().splitlines()}
    assert len(hosts) == 2                                     # both processes did part of the work
    said = [int(re.search(r"sweep: (\d+) evaluated", o).group(1)) for o, _ in outputs]
    assert sum(said) == len(plan.points) and min(said) > 0    # each counts only its own evaluations


def test_killing_only_the_parent_takes_the_workers_with_it(toy, tmp_path):
    out = tmp_path / "out"
    cfg = make_config(toy, tmp_path, out, alpha={"start": -2.0, "stop": 2.0, "num": 41})
    args = [sys.executable, "-m", "sitv_dist.cli", "sweep", "-c", str(cfg), "--no-reduce", "--workers", "2",
            "--set", f"eval.general={_slow_eval_set(toy, tmp_path)}"]
    parent = subprocess.Popen(args, env=ENV)
    deadline = time.time() + 300
    while time.time() < deadline and OutDir(out).count_point_files() < 4:
        time.sleep(0.05)
    workers = _children(parent.pid)
    assert len(workers) >= 2, "the workers must be running when the parent is killed"
    os.kill(parent.pid, signal.SIGKILL)                          # the parent only, not its group
    parent.wait()
    deadline = time.time() + 30
    while time.time() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.1)
    assert not any(_alive(w) for w in workers), "orphaned workers kept running"
    plan = load_plan(out)
    done = OutDir(out).done_ids(plan)
    assert 4 <= len(done) < len(plan.points), "the kill must land mid-sweep"
    rerun = subprocess.run(args, env=ENV, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    counts = OutDir(out).evaluation_counts()
    assert len(counts) == len(plan.points) and max(counts.values()) == 1      # 0 recomputed
