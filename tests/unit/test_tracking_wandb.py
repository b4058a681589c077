"""tracking.wandb offline: the runs' own files (OUT/wandb/.../run-*.wandb) read back hold the
fine-tune's train loss per step, each line's L(c) and the report's figures."""
from __future__ import annotations

import json
import struct

import pytest

from sitv_dist import Experiment
from test_tracking import tracked_config

wandb_pb2 = pytest.importorskip("wandb.proto.wandb_internal_pb2", reason="the wandb extra is not installed")


def history_rows(path) -> list[dict]:
    """The history records of an offline run file. wandb 0.31 no longer ships its Python
    reader; the file is a LevelDB-style log (32 KiB blocks, 7-byte record headers: crc,
    length, type) of protobuf Records after a 7-byte ':W&B' header."""
    data, pos, buf, rows = path.read_bytes(), 7, b"", []
    assert data[:4] == b":W&B"
    while pos + 7 <= len(data):
        left = 32768 - pos % 32768
        if left < 7:
            pos += left
            continue
        _, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        pos += 7
        if length == 0 and kind == 0:       # block padding
            pos += left - 7
            continue
        buf, pos = buf + data[pos:pos + length], pos + length
        if kind in (1, 4):                  # FULL or LAST: a whole record
            record = wandb_pb2.Record()
            record.ParseFromString(buf)
            buf = b""
            if record.WhichOneof("record_type") == "history":
                rows.append({i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in record.history.item})
    return rows


@pytest.mark.integration       # three wandb-core start-ups: ~20 s
def test_offline_wandb_runs_hold_the_curves(toy, tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    exp = Experiment.from_dict(tracked_config(toy, tmp_path, wandb="sitv-test"), name="wb")
    exp.finetune()
    results = exp.sweep()
    runs = sorted((exp.out.root / "wandb").glob("wandb/offline-run-*/run-*.wandb"))
    assert len(runs) == 3                   # the fine-tune, the sweep's worker, the report
    rows = [row for run in runs for row in history_rows(run)]
    history = json.loads(exp.out.history("mytask").read_text())
    train = [(r["finetune/mytask/train_loss/step"], r["finetune/mytask/train_loss"]) for r in rows
             if "finetune/mytask/train_loss" in r]
    assert train == [(s["step"], pytest.approx(s["loss"], rel=1e-6)) for s in history["steps"]]
    line = results["line_mytask"].data
    got = {r["sweep/line_mytask/general/step"]: r["sweep/line_mytask/general"] for r in rows
           if "sweep/line_mytask/general" in r}
    assert got == {round(1000 * p["coefficients"][0]): pytest.approx(p["general"]["loss"], rel=1e-6)
                   for p in line["points"]}
    images = {k[:-len("/_type")]: r[k] for r in rows for k in r if k.startswith("report/") and k.endswith("/_type")}
    assert images["report/line_mytask_line"] == "image-file" and len(images) == len(
        [p for paths in results.analysis["plots"].values() for p in paths])
