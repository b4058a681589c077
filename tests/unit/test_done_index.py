"""The done-index (OUT/points/done.jsonl, #19): appended on every point write, rebuilt when
missing, caught up when behind (a crash between the point file and its line), a stale
fingerprint never counted, a garbled line tolerated, concurrent writers' lines whole."""
import json
import multiprocessing
import os
from types import SimpleNamespace

import pytest

from sitv_dist import done_index
from sitv_dist.io import write_json
from sitv_dist.outdir import OutDir
from sitv_dist.sweep.plan import PlannedPoint

SETS = ["general", "task:a"]


def _plan(n=6, fingerprint="fp-1"):
    points = [PlannedPoint(f"p{i:03d}", [0.1 * i], list(SETS), i % 2, ["line_a"], fingerprint=fingerprint)
              for i in range(n)]
    return SimpleNamespace(points=points)


def _record(point, fingerprint=None, sets=SETS):
    per_text = [1.0] * 50         # a point file carries per-text arrays: the cost the index avoids
    return {"id": point.id, "fingerprint": point.fingerprint if fingerprint is None else fingerprint,
            "coefficients": {"a": point.coefficients[0]},
            "sets": {s: {"loss": 1.0, "per_text": per_text} for s in sets}, "time_s": 0.1}


def _lines(out):
    return [json.loads(line) for line in out.done_index.path.read_text().splitlines()]


def test_each_point_write_appends_its_line_and_done_ids_reads_only_the_index(tmp_path, monkeypatch):
    out, plan = OutDir(tmp_path), _plan()
    for p in plan.points[:4]:
        out.write_point(_record(p))
    lines = _lines(out)
    assert [e["id"] for e in lines] == [p.id for p in plan.points[:4]]
    assert lines[0]["fingerprint"] == "fp-1" and lines[0]["sets"] == sorted(SETS)
    monkeypatch.setattr(done_index.DoneIndex, "_catch_up", lambda *a: pytest.fail("parsed a point file"))
    assert out.done_ids(plan) == {p.id for p in plan.points[:4]}
    assert out.done_ids(plan, plan.points[1:3]) == {plan.points[1].id, plan.points[2].id}


def test_a_missing_index_is_rebuilt_from_the_point_files(tmp_path):
    out, plan = OutDir(tmp_path), _plan()
    for p in plan.points:
        out.write_point(_record(p))
    out.done_index.path.unlink()
    assert out.done_ids(plan) == {p.id for p in plan.points}
    assert sorted(e["id"] for e in _lines(out)) == [p.id for p in plan.points]


def test_a_point_file_without_its_line_is_counted_and_caught_up(tmp_path, monkeypatch):
    """The crash case: the point file was written, the process died before the append."""
    out, plan = OutDir(tmp_path), _plan()
    out.write_point(_record(plan.points[0]))
    write_json(out.point(plan.points[1].id), _record(plan.points[1]), indent=None)     # no index line
    assert out.done_ids(plan) == {plan.points[0].id, plan.points[1].id}
    assert [e["id"] for e in _lines(out)] == [plan.points[0].id, plan.points[1].id]
    monkeypatch.setattr(done_index.DoneIndex, "_catch_up", lambda *a: pytest.fail("parsed a point file again"))
    assert out.done_ids(plan) == {plan.points[0].id, plan.points[1].id}


def test_a_stale_fingerprint_is_never_done(tmp_path):
    out, plan = OutDir(tmp_path), _plan()
    out.write_point(_record(plan.points[0], fingerprint="another-experiment"))
    out.write_point(_record(plan.points[1]))
    assert out.done_ids(plan) == {plan.points[1].id}
    # the file replaced by another experiment's behind the index's back: its old line no longer counts
    write_json(out.point(plan.points[1].id), _record(plan.points[1], fingerprint="another-experiment"), indent=None)
    assert out.done_ids(plan) == set()
    assert out.done_ids(_plan(fingerprint="another-experiment")) == {plan.points[0].id, plan.points[1].id}


def test_a_point_missing_a_set_or_its_file_is_not_done(tmp_path):
    out, plan = OutDir(tmp_path), _plan()
    out.write_point(_record(plan.points[0], sets=["general"]))
    out.write_point(_record(plan.points[1]))
    out.write_point(_record(plan.points[2]))
    out.point(plan.points[2].id).unlink()           # indexed, then deleted: the point file is the truth
    assert out.done_ids(plan) == {plan.points[1].id}


def test_a_corrupt_point_file_is_not_done_and_parsed_once(tmp_path, monkeypatch):
    out, plan = OutDir(tmp_path), _plan()
    out.points_dir.mkdir(parents=True)
    out.point(plan.points[0].id).write_text('{"id": "p000", "sets": {"gen')
    assert out.done_ids(plan) == set()
    assert _lines(out)[0]["fingerprint"] is None
    monkeypatch.setattr(done_index.DoneIndex, "_catch_up", lambda *a: pytest.fail("parsed the corrupt file again"))
    assert out.done_ids(plan) == set()


def test_a_truncated_or_garbled_line_is_tolerated(tmp_path):
    out, plan = OutDir(tmp_path), _plan()
    out.write_point(_record(plan.points[0]))
    with open(out.done_index.path, "ab") as f:
        f.write(b'garbage\x00\x00\n{"id": 3}\n{"id":"p001","fingerprint":"fp-1","se')     # the last line cut short
    out.write_point(_record(plan.points[1]))          # its line joins the cut one and is lost
    out.write_point(_record(plan.points[2]))
    assert out.done_ids(plan) == {p.id for p in plan.points[:3]}
    assert out.done_ids(plan) == {p.id for p in plan.points[:3]}      # p001 was caught up once


def test_the_index_is_not_a_point(tmp_path):
    out, plan = OutDir(tmp_path), _plan()
    out.write_point(_record(plan.points[0]))
    out.point(plan.points[0].id).unlink()
    assert out.done_index.path.is_file() and not out.has_points() and out.count_point_files() == 0


def _write_many(root, start):
    out, plan = OutDir(root), _plan(200)
    for p in plan.points[start::4]:
        out.write_point(_record(p))


def test_concurrent_writers_lines_stay_whole(tmp_path):
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_write_many, args=(str(tmp_path), k)) for k in range(4)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join()
    assert all(proc.exitcode == 0 for proc in procs)
    ids = [e["id"] for e in _lines(OutDir(tmp_path))]         # every line parses
    assert sorted(ids) == [p.id for p in _plan(200).points]
    assert OutDir(tmp_path).done_ids(_plan(200)) == set(ids)


def test_status_counts_from_the_index(toy, tmp_path):
    from conftest import make_config
    from sitv_dist.cli import main
    from sitv_dist.sweep.reduce import status
    out = tmp_path / "out"
    cfg_path = make_config(toy, tmp_path, out, alpha={"start": -1.0, "stop": 1.0, "num": 3},
                           squaring=False, compositional=False)
    assert main(["sweep", "-c", str(cfg_path), "--no-reduce"]) == 0
    o = OutDir(out)
    total = status(out)["points"]
    assert status(out)["done"] == total == len(_lines(o))
    victim = _lines(o)[0]["id"]
    write_json(o.point(victim), json.loads(o.point(victim).read_text()) | {"fingerprint": "stale"}, indent=None)
    assert status(out)["done"] == total - 1
    assert os.path.getsize(o.done_index.path) > 0
