"""SIGKILL and SIGTERM of `sitv compare` while it writes its figures: every file it left is
whole (figures, compare.json and compare.md are written atomically), the compared runs are not
touched, nothing is written beside DEST, and the rerun writes what an uninterrupted compare
writes. Integration: two toy sweeps in process, then compare subprocesses (~20 s)."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import make_config
from sitv_dist.cli import main

ENV = dict(os.environ, OMP_NUM_THREADS="1", TQDM_DISABLE="1")
PNG_END = b"IEND\xaeB`\x82"


def _files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.integration
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_a_killed_compare_leaves_nothing_half_written_and_the_rerun_completes(toy, tmp_path, sig):
    runs = [tmp_path / "a", tmp_path / "b"]
    for out, alpha in zip(runs, ({"start": -1.0, "stop": 1.0, "num": 9}, {"start": -1.0, "stop": 2.0, "num": 13})):
        assert main(["sweep", "-c", str(make_config(toy, tmp_path, out, alpha=alpha))]) == 0
    argv = [sys.executable, "-m", "sitv_dist.cli", "compare", *map(str, runs), "--bootstrap", "200"]
    reference = tmp_path / "reference"
    assert subprocess.run([*argv, "--out", str(reference)], env=ENV, capture_output=True).returncode == 0
    before = {str(r): _files(r) for r in runs}
    outside = sorted(p.name for p in tmp_path.iterdir())
    dest = tmp_path / "dest"
    home = tmp_path / "home"                       # HOME of the compares: nothing may land there
    home.mkdir()
    env = dict(ENV, HOME=str(home), SITV_CACHE=os.environ["SITV_CACHE"])   # the session cache (conftest)
    proc = subprocess.Popen([*argv, "--out", str(dest)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not (dest / "plots").is_dir() and proc.poll() is None:
        time.sleep(0.002)
    assert proc.poll() is None, "compare ended before it could be interrupted"
    proc.send_signal(sig)
    proc.wait(60)
    assert proc.returncode != 0
    assert not (dest / "compare.md").exists()            # it had not finished
    for name, data in _files(dest).items():              # what it left is whole, or a hidden temp
        if name.rsplit("/", 1)[-1].startswith("."):
            assert name.endswith(".tmp"), name
        elif name.endswith(".png"):
            assert data.endswith(PNG_END), name
        else:
            json.loads(data)
    rerun = subprocess.run([*argv, "--out", str(dest)], env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    got = {k: v for k, v in _files(dest).items() if not k.rsplit("/", 1)[-1].startswith(".")}
    want = _files(reference)
    assert sorted(got) == sorted(want)
    for name in want:
        assert got[name].replace(str(dest).encode(), b"DEST") == want[name].replace(str(reference).encode(), b"DEST"), name
    assert {str(r): _files(r) for r in runs} == before                      # the runs are not touched
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(outside + ["dest", "home"])
    assert not list(home.rglob("*"))
