"""A real `sitv sweep` process killed with SIGKILL mid-sweep: the rerun evaluates only the
missing points and every point equals an uninterrupted sweep's. Integration: it runs a
subprocess sweep and two in-process sweeps of 81 points over a 30-fold eval set (about a
minute on 2 cores)."""
import os
import signal
import subprocess
import sys
import time

from conftest import make_config, records
from sitv_dist.config import load_config
from sitv_dist.outdir import OutDir
from sitv_dist.stages import sweep as pipeline
from sitv_dist.sweep.plan import load_plan


def test_killed_sweep_resumes_without_recomputing(toy, tmp_path):
    big = tmp_path / "big.jsonl"        # a slower eval set, so the kill lands mid-sweep
    big.write_text(toy["general"].read_text() * 30)
    ref, killed = tmp_path / "ref", tmp_path / "killed"
    sweep = {"alpha": {"start": -2.0, "stop": 2.0, "num": 81}}
    cfg_ref = load_config(make_config(toy, tmp_path, ref, **sweep), [f"eval.general={big}"])
    cfg_path = make_config(toy, tmp_path, killed, **sweep)
    env = dict(os.environ, OMP_NUM_THREADS="1", TQDM_DISABLE="1")
    proc = subprocess.Popen([sys.executable, "-m", "sitv_dist.cli", "sweep", "-c", str(cfg_path),
                             "--set", f"eval.general={big}", "--no-reduce"], env=env)
    deadline = time.time() + 120
    while time.time() < deadline and len(list(OutDir(killed).points_dir.glob("p*.json"))) < 5:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    cfg_killed = load_config(cfg_path, [f"eval.general={big}"])
    plan = load_plan(killed)
    before = OutDir(killed).done_ids(plan)
    assert 5 <= len(before) < plan.unique_points, "the kill must land mid-sweep"
    logged_before = OutDir(killed).evaluation_counts()
    stats = pipeline.sweep(cfg_killed, killed, progress=False)
    assert stats["skipped"] == len(before) and stats["complete"]
    assert stats["evaluated"] == plan.unique_points - len(before)
    rerun = OutDir(killed).evaluation_counts() - logged_before
    assert not set(rerun) & before                           # nothing finished is recomputed
    assert max(OutDir(killed).evaluation_counts().values()) == 1
    pipeline.sweep(cfg_ref, ref, progress=False)
    a, b = records(ref), records(killed)
    assert set(a) == set(b)
    for pid in a:
        assert a[pid]["sets"]["general"]["per_text_nll"] == b[pid]["sets"]["general"]["per_text_nll"]
