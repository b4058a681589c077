"""#24: a run records its own peak memory per stage (OUT/peak_memory.json, from getrusage), so
that a page can state the peak RSS from the run's files."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sitv_dist import peak_memory
from sitv_dist.outdir import OutDir

MIB = 2 ** 20
ROOT = str(Path(__file__).resolve().parents[2])


RAISE = """
import sys
from sitv_dist.outdir import OutDir
out = OutDir(sys.argv[1])
with out.timed("big"):
    block = bytearray(300 * 2 ** 20)              # zero-filled, so resident: raises the high-water mark
    del block
with out.timed("small"):
    pass
"""


def test_a_stage_that_raises_the_peak_records_it_and_one_that_does_not_says_unknown(tmp_path):
    # a fresh process (a few MiB, no torch), so that the block is sure to raise its own peak, started
    # by this one while it holds 500 MiB: getrusage's ru_maxrss of a child carries its parent's peak
    # over the exec (this test process: the whole unit loop's peak), the process's own VmHWM does not
    out = OutDir(tmp_path / "out").create()
    parent = bytearray(500 * MIB)
    subprocess.run([sys.executable, "-c", RAISE, str(out.root)], check=True, env={**os.environ, "PYTHONPATH": ROOT})
    del parent
    record = json.loads(out.peak_memory.read_text())
    big, small = record["big"], record["small"]
    assert 300 * MIB < big["stage_peak_rss_bytes"] == big["process_peak_rss_bytes"] < 400 * MIB
    assert small["stage_peak_rss_bytes"] is None and small["process_peak_rss_bytes"] == big["process_peak_rss_bytes"]
    assert big["children_peak_rss_bytes"] == 0
    assert set(json.loads(out.timings.read_text())) == {"big", "small"}         # timings as before
    assert peak_memory.run_peak(record) == big["process_peak_rss_bytes"]


def test_a_stage_timed_again_keeps_the_largest_peaks():
    first = {"process_peak_rss_bytes": 500, "stage_peak_rss_bytes": 500, "children_peak_rss_bytes": 0}
    again = peak_memory.stage_entry({"self": 400, "children": 7}, {"self": 400, "children": 7})
    assert again == {"process_peak_rss_bytes": 400, "stage_peak_rss_bytes": None, "children_peak_rss_bytes": 7}
    assert peak_memory.merged(first, again) == {"process_peak_rss_bytes": 500, "stage_peak_rss_bytes": 500,
                                                "children_peak_rss_bytes": 7}
    assert peak_memory.merged(None, again) == again
    assert peak_memory.run_peak({"a": again, "b": first, "bad": "x"}) == 500
    assert peak_memory.run_peak({}) is None


def test_a_corrupt_record_only_loses_the_record(tmp_path):
    out = OutDir(tmp_path / "out").create()
    out.peak_memory.write_text("{not json")
    with out.timed("stage"):
        pass
    assert set(json.loads(out.peak_memory.read_text())) == {"stage"}
