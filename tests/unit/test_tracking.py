"""tracking.tensorboard: the fine-tune curves, each line's L(c) and the report's figures,
read back from the event files with TensorBoard's own reader; a failing tracker warns once
and the run goes on; ranks other than 0 log nothing."""
from __future__ import annotations

import json
import warnings

import pytest
import yaml
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from conftest import make_config
from sitv_dist import Experiment
from sitv_dist.config import TrackingConfig
from sitv_dist.tracking.tracking_registry import open_tracking


def tracked_config(toy, tmp_path, **tracking) -> dict:
    """The toy experiment with task 'mytask' fine-tuned (3 steps) instead of read from a file."""
    data = yaml.safe_load(make_config(toy, tmp_path, tmp_path / "out").read_text())
    data["tasks"][0]["train"] = str(toy["general"])
    del data["sweep"]["task_vectors"]["mytask"]
    data["finetune"] = {"max_steps": 3, "epochs": 1, "batch_size": 4, "val_fraction": 0.2}
    data["sweep"].update(alpha={"start": -1.0, "stop": 1.0, "num": 3}, squaring=False, compositional=False,
                         refine_rounds=0)
    data["tracking"] = tracking
    return data


@pytest.fixture(scope="module")
def logged(toy, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tb")
    exp = Experiment.from_dict(tracked_config(toy, tmp, tensorboard=str(tmp / "tb")), name="tracked")
    exp.finetune()
    results = exp.sweep()
    events = EventAccumulator(str(tmp / "tb" / "tracked"), size_guidance={"scalars": 0, "images": 0})
    events.Reload()
    return exp, results, events


def test_finetune_losses_per_step(logged):
    exp, _, events = logged
    history = json.loads(exp.out.history("mytask").read_text())
    train = events.Scalars("finetune/mytask/train_loss")
    assert [(e.step, e.value) for e in train] == [(s["step"], pytest.approx(s["loss"], rel=1e-6))
                                                  for s in history["steps"]]
    assert len(train) == 2          # 8 training texts, batches of 4, one epoch
    val = events.Scalars("finetune/mytask/val_loss")
    assert [(e.step, e.value) for e in val] == [(h["step"], pytest.approx(h["val_loss"], rel=1e-6))
                                                for h in history["epochs"]]


def test_each_line_point_as_evaluated(logged):
    _, results, events = logged
    line = results["line_mytask"].data
    want = {round(1000 * p["coefficients"][0]): p["general"]["loss"] for p in line["points"]}
    got = {e.step: e.value for e in events.Scalars("sweep/line_mytask/general")}
    assert got == {k: pytest.approx(v, rel=1e-6) for k, v in want.items()} and sorted(got) == [-1000, 0, 1000]
    task = {e.step: e.value for e in events.Scalars("sweep/line_mytask/task:mytask")}
    assert task[1000] == pytest.approx(line["points"][line["index"]["line"][2]]["tasks"]["mytask"]["loss"], rel=1e-6)


def test_report_figures(logged):
    exp, results, events = logged
    plots = [p for paths in results.analysis["plots"].values() for p in paths]
    assert plots and sorted(events.Tags()["images"]) == sorted(f"report/{p.split('/')[-1][:-4]}" for p in plots)
    image = events.Images("report/line_mytask_line")[0]
    assert image.encoded_image_string[:8] == b"\x89PNG\r\n\x1a\n" and image.width > 100


def test_a_failing_tracker_warns_once_and_the_sweep_goes_on(toy, tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the log directory should be")
    data = tracked_config(toy, tmp_path, tensorboard=str(blocker))
    data["sweep"]["task_vectors"]["mytask"] = str(tmp_path / "T.safetensors")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = Experiment.from_dict(data).sweep()
    mine = [w for w in caught if "tracking.tensorboard" in str(w.message)]
    assert len(results["line_mytask"].data["points"]) == 3
    assert mine and all("the run goes on" in str(w.message) for w in mine)
    # one warning per process that tried to open it (the worker, the report): never per point
    assert len(mine) <= 2


def test_ranks_other_than_zero_log_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("RANK", "1")
    assert not open_tracking(TrackingConfig(tensorboard=str(tmp_path / "tb")), "x")
    assert not (tmp_path / "tb").exists()
    monkeypatch.setenv("RANK", "0")
    with open_tracking(TrackingConfig(tensorboard=str(tmp_path / "tb")), "x") as tracking:
        tracking.scalar("a", 1.5, 3)
    events = EventAccumulator(str(tmp_path / "tb" / "x"))
    events.Reload()
    assert [(e.step, e.value) for e in events.Scalars("a")] == [(3, 1.5)]
