"""Task vectors: ft - base, metadata, and early errors when they do not fit the model."""
import json

import pytest
import torch
from safetensors.torch import save_file

from sitv_dist.vectors import taskvector
from sitv_dist.config import ConfigError, ModelConfig
from sitv_dist.models.loading import load_model, parameters


def test_roundtrip_with_metadata_and_tied_weights_once(toy, tmp_path):
    meta = taskvector.from_checkpoints(str(toy["base"]), str(toy["ft"]), tmp_path / "t.safetensors")
    base = load_model(str(toy["base"]), ModelConfig(device="cpu"), torch.device("cpu"))
    ft = load_model(str(toy["ft"]), ModelConfig(device="cpu"), torch.device("cpu"))
    T = taskvector.load(tmp_path / "t.safetensors", base, "sweep.task_vectors.t", torch.device("cpu"))
    assert set(T) == set(parameters(base)) and "lm_head.weight" not in T
    for name, p in parameters(base).items():
        assert torch.equal(T[name], parameters(ft)[name] - p)
    norms = json.loads(meta["tensor_norms"])
    assert abs(float(meta["global_norm"]) - sum(v * v for v in norms.values()) ** 0.5) < 1e-9
    assert meta["base"] == str(toy["base"]) and meta["finetuned"] == str(toy["ft"])
    stored = taskvector.read_metadata(tmp_path / "t.safetensors")
    assert stored["content_hash"] == meta["content_hash"] and stored["dtype"] == "float32"


def test_mismatched_names_or_shapes_fail_early(toy, tmp_path):
    base = load_model(str(toy["base"]), ModelConfig(device="cpu"), torch.device("cpu"))
    good = {k: torch.zeros_like(v) for k, v in parameters(base).items()}
    missing = dict(good)
    missing.pop("model.norm.weight")
    save_file(missing, str(tmp_path / "missing.safetensors"))
    with pytest.raises(ConfigError, match=r"sweep.task_vectors.x: .*missing \['model.norm.weight'\]"):
        taskvector.load(tmp_path / "missing.safetensors", base, "sweep.task_vectors.x", torch.device("cpu"))
    bad = dict(good, **{"model.norm.weight": torch.zeros(3)})
    save_file(bad, str(tmp_path / "shape.safetensors"))
    with pytest.raises(ConfigError, match="model.norm.weight has shape"):
        taskvector.load(tmp_path / "shape.safetensors", base, "sweep.task_vectors.x", torch.device("cpu"))
