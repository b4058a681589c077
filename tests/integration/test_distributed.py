"""Real launchers on the CPU: torchrun ranks (gloo) and local worker processes give the same
bits as one process (one thread everywhere)."""
import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import make_config, records
from sitv_dist.stages import sweep as pipeline
from sitv_dist.config import load_config
from sitv_dist.outdir import OutDir
from sitv_dist.sweep.plan import load_plan

ROOT = Path(__file__).resolve().parents[2]


def assert_same_bits(a_dir, b_dir):
    a, b = records(a_dir), records(b_dir)
    assert set(a) == set(b) and a
    for pid in a:
        assert a[pid]["sets"].keys() == b[pid]["sets"].keys()
        for name in a[pid]["sets"]:
            assert a[pid]["sets"][name]["per_text_nll"] == b[pid]["sets"][name]["per_text_nll"], (pid, name)


def test_torchrun_two_ranks_equal_one_process(toy, tmp_path):
    single, ranks = tmp_path / "single", tmp_path / "ranks"
    pipeline.sweep(load_config(make_config(toy, tmp_path, single, grid_num=5)), single, progress=False)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}", TQDM_DISABLE="1")
    proc = subprocess.run(["bash", str(ROOT / "launch" / "sweep.sh"), str(make_config(toy, tmp_path, ranks, grid_num=5)),
                           "2", "--set", "sweep.num_shards=4"], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "over 2 ranks" in proc.stdout
    plan = load_plan(ranks)
    assert plan.num_shards == 4
    assert_same_bits(single, ranks)
    counts = OutDir(ranks).evaluation_counts()
    assert len(counts) == plan.unique_points and set(counts.values()) == {1}
    # every rank took its own shards: shard k was evaluated by rank k % 2
    log = (ranks / "logs" / "evaluations.tsv").read_text().splitlines()
    workers = {}
    for line in log:
        _, shard, who = line.split("\t")[:3]
        workers.setdefault(int(shard) % 2, set()).add(who)
    assert len(workers[0]) == len(workers[1]) == 1 and workers[0] != workers[1]
    # rank 0 reduced and reported
    res = json.loads((ranks / "results" / "grid_mytask__other.json").read_text())
    assert res["base_loss"] == res["points"][res["base_point"]]["general"]["loss"]
    assert (ranks / "report.md").is_file()


def test_local_worker_processes_equal_one_process(toy, tmp_path):
    single, multi = tmp_path / "single", tmp_path / "multi"
    pipeline.sweep(load_config(make_config(toy, tmp_path, single)), single, progress=False)
    cfg = load_config(make_config(toy, tmp_path, multi), ["sweep.workers=2", "sweep.num_shards=3"])
    stats = pipeline.sweep(cfg, multi, progress=False)
    assert stats["complete"] and stats["failed"] == 0 and stats["evaluated"] == load_plan(multi).unique_points
    assert_same_bits(single, multi)
