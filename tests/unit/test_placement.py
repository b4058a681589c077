"""devices_per_worker (the model split by accelerate's device map) and resident: host (base and
vectors in host memory, streamed into each add) give the plain path's losses bit for bit."""
import numpy as np
import pytest
import torch

from conftest import make_config, records
from sitv_dist.cli import main
from sitv_dist.config import ConfigError, ModelConfig
from sitv_dist.models import placement


def test_split_puts_whole_layers_on_each_slot(toy):
    cfg = ModelConfig(name_or_path=str(toy["base"]), device="cpu")
    total = placement._weight_bytes(str(toy["base"]), cfg)
    placed = placement.split(str(toy["base"]), cfg, [int(total * 0.6)] * 2)
    assert set(placed.values()) == {0, 1}
    assert placed["model.embed_tokens"] == placed["lm_head"] == 0          # tied: one device
    assert all(k.count(".") <= 2 for k in placed)                          # no decoder layer is cut in two
    assert placement.split(str(toy["base"]), cfg, [total * 2] * 2) == {"": 0}
    with pytest.raises(ConfigError, match="devices_per_worker: the model does not fit"):
        placement.split(str(toy["base"]), cfg, [total // 8] * 2)


def test_worker_devices():
    cpu = torch.device("cpu")
    assert placement.worker_devices(cpu, 1) == [cpu] and placement.worker_devices(cpu, 3) == [cpu] * 3
    if not torch.cuda.is_available():
        return
    with pytest.raises(ConfigError, match="devices_per_worker"):
        placement.worker_devices(torch.device("cuda", torch.cuda.device_count()), 2)


def test_split_model_and_host_residency_are_bitwise_the_plain_path(toy, tmp_path):
    outs = {}
    for name, extra in (("plain", {}), ("split", {"devices_per_worker": 2}), ("host", {"resident": "host"}),
                        ("both", {"devices_per_worker": 2, "resident": "host", "vector_dtype": "float32"})):
        out = tmp_path / name
        assert main(["sweep", "-c", str(make_config(toy, tmp_path, out, grid_num=3, refine_rounds=0,
                                                       squaring=False, compositional=False, **extra)),
                     "--no-reduce"]) == 0
        outs[name] = records(out)
    plain = outs.pop("plain")
    assert len(plain) == 9 + 9 - 1              # 9 line points + a 3×3 grid, the base point once
    for name, got in outs.items():
        assert set(got) == set(plain), name
        for pid, rec in got.items():
            for s, summary in rec["sets"].items():
                assert summary["per_text_nll"] == plain[pid]["sets"][s]["per_text_nll"], (name, pid, s)
    losses = [r["sets"]["general"]["loss"] for r in plain.values()]
    assert np.ptp(losses) > 0.01                                    # the points really differ


def test_slurm_tasks_must_ask_for_every_workers_devices():
    from sitv_dist.config import load_config
    with pytest.raises(ConfigError, match="slurm.gpus_per_task: 2 GPU.* ask for 4"):
        load_config(None, ["sweep.launcher=slurm", "sweep.devices_per_worker=2", "slurm.gpus_per_task=2",
                           "slurm.ranks_per_task=2"])
    cfg = load_config(None, ["sweep.launcher=slurm", "sweep.devices_per_worker=2", "slurm.gpus_per_task=4",
                             "slurm.ranks_per_task=2"])
    assert cfg.sweep.devices_per_worker == 2
    with pytest.raises(ConfigError, match="sweep.resident"):
        load_config(None, ["sweep.resident=disk"])
