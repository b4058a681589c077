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
