"""The breadcrumbs op (Davari & Belilovsky 2024) against its definition computed directly, its
checks, and its use as a merge sweep's op with a density axis on the toy model."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from peft.utils import merge_utils as MU
from safetensors.torch import load_file

from conftest import make_config
from sitv_dist.config import ConfigError, load_config
from sitv_dist.config.merge_sweep import MergeSweepConfig
from sitv_dist.stages import sweep as pipeline
from sitv_dist.stages.report import reduce_and_report
from sitv_dist.vectors import derived as D
from sitv_dist.vectors import taskvector
from sitv_dist.vectors.ops.ops_registry import check_merge_sweep, describe, merge_sweep_specs, normalize


def vectors(seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {"w": torch.randn(40, 25, generator=g), "b": torch.randn(40, generator=g), "e": torch.randn(7, 3, generator=g)}


def direct(vs, weights, density, gamma):
    """The published definition, in numpy: per tensor, rank by |value| (largest first), keep the
    ranks in [floor(gamma·n), floor(gamma·n) + ceil(density·n)), weighted sum."""
    out = {}
    for name in vs[0]:
        total = np.zeros(vs[0][name].shape, dtype=np.float32)
        for w, v in zip(weights, vs):
            t = v[name].numpy().ravel()
            rank = np.empty(t.size, dtype=np.int64)
            rank[np.argsort(-np.abs(t), kind="stable")] = np.arange(t.size)
            lo = math.floor(gamma * t.size)
            keep = (rank >= lo) & (rank < lo + math.ceil(density * t.size))
            total += (np.float32(w) * np.where(keep, t, 0.0).astype(np.float32)).reshape(total.shape)
        out[name] = total
    return out


@pytest.fixture
def files(tmp_path):
    paths = {}
    for i, name in enumerate(("a", "b")):
        paths[name] = tmp_path / f"{name}.safetensors"
        taskvector.save(paths[name], vectors(i), "base-model", name)
    return paths


@pytest.mark.parametrize("density, gamma", [(0.3, 0.1), (0.5, 0.0), (0.05, 0.2), (1.0, 0.01)])
def test_breadcrumbs_equal_their_definition(files, density, gamma):
    spec = {"breadcrumbs": ["a", "b"], "weights": [1.0, -0.5], "density": density, "gamma": gamma}
    d = D.make_direction(spec, files.__getitem__)
    expected = direct([vectors(0), vectors(1)], [1.0, -0.5], density, gamma)
    assert set(d.tensors) == set(expected)
    for name, t in d.tensors.items():
        assert t.dtype == torch.float32
        np.testing.assert_array_equal(t.numpy(), expected[name])      # bitwise
    assert d.description == f"breadcrumbs(1*a, -0.5*b; density={density:g}; gamma={gamma:g})"


def test_one_vector_keeps_the_band_below_the_top_gamma(files):
    t = vectors(0)["w"]
    d = D.make_direction({"breadcrumbs": ["a"], "density": 0.2, "gamma": 0.1}, files.__getitem__).tensors["w"]
    kept = d != 0
    assert int(kept.sum()) == math.ceil(0.2 * t.numel())
    assert torch.equal(d[kept], t[kept])
    top = t.abs().flatten().sort(descending=True).values
    assert float(d.abs().max()) == float(top[math.floor(0.1 * t.numel())])      # the largest 10 % are gone


def test_gamma_zero_is_the_weighted_sum_of_magnitude_pruned_vectors(files):
    d = D.make_direction({"breadcrumbs": ["a", "b"], "weights": [2.0, 1.0], "density": 0.25, "gamma": 0.0},
                         files.__getitem__).tensors
    a, b = vectors(0), vectors(1)
    for name in a:
        if a[name].numel() % 4 == 0:                     # peft's int(density·n) = ceil(density·n)
            expected = 2.0 * MU.prune(a[name], 0.25, "magnitude") + MU.prune(b[name], 0.25, "magnitude")
            torch.testing.assert_close(d[name], expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("spec, message", [
    ({"breadcrumbs": ["a"], "gamma": 1.0}, "gamma: the largest-magnitude fraction dropped, in \\[0, 1\\)"),
    ({"breadcrumbs": ["a"], "gamma": -0.1}, "gamma"),
    ({"breadcrumbs": ["a"], "density": 0.0}, "density: the fraction of entries kept"),
    ({"breadcrumbs": ["a", "b"], "weights": [1.0]}, "one number per task vector"),
    ({"breadcrumbs": ["a"], "seed": 3}, "seed: applies to random directions and DARE merges only"),
    ({"negate": "a", "gamma": 0.1}, "gamma: applies to breadcrumbs only"),
])
def test_bad_breadcrumbs_name_the_key(spec, message):
    with pytest.raises(ConfigError, match=message) as info:
        normalize(spec, "sweep.derived_directions.x")
    assert str(info.value).startswith("sweep.derived_directions.x")


def test_a_config_entry_gets_its_defaults():
    assert normalize({"breadcrumbs": ["a", "b"], "density": 0.2}, "k") == {
        "breadcrumbs": ["a", "b"], "density": 0.2, "gamma": 0.01, "weights": [1.0, 1.0]}
    assert describe({"breadcrumbs": ["a"], "density": 0.2}) == "breadcrumbs(1*a; density=0.2; gamma=0.01)"


def test_breadcrumbs_as_a_merge_sweep_op():
    m = MergeSweepConfig(op="breadcrumbs", of=["a", "b"], weights=[1.0, 0.5])
    check_merge_sweep(m, "sweep.merge_sweeps.0")
    specs = merge_sweep_specs(m)
    assert list(specs) == [f"merge_breadcrumbs_a__b_d{d:g}" for d in m.densities()]
    assert specs["merge_breadcrumbs_a__b_d0.5"] == {"breadcrumbs": ["a", "b"], "weights": [1.0, 0.5], "density": 0.5}
    with pytest.raises(ConfigError, match="sweep.merge_sweeps.0.seed: applies to dare_linear and dare_ties only"):
        check_merge_sweep(MergeSweepConfig(op="breadcrumbs", of=["a"], seed=1), "sweep.merge_sweeps.0")


def test_a_breadcrumbs_density_sweep_on_the_toy_model(toy, tmp_path):
    out = tmp_path / "crumbs"
    merge = ("[{op: breadcrumbs, of: [mytask, other], weights: [1.0, 0.5], density: {start: 0.5, stop: 1.0, num: 2},"
             " alpha: {start: 0, stop: 1, num: 3}}]")
    cfg = load_config(make_config(toy, tmp_path, out), [f"sweep.merge_sweeps={merge}", "sweep.directions=[]"])
    assert pipeline.sweep(cfg, out, progress=False)["complete"]
    reduce_and_report(out)
    name = "merge_breadcrumbs_mytask__other"
    a, b = (load_file(str(tmp_path / f)) for f in ("T.safetensors", "T2.safetensors"))
    analysis = json.loads((out / "analysis.json").read_text())["merge_sweeps"][name]
    assert analysis["densities"] == [0.5, 1.0] and analysis["alpha"] == [0.0, 0.5, 1.0]
    for d in (0.5, 1.0):
        written = load_file(str(out / "task_vectors" / f"{name}_d{d:g}.safetensors"))
        expected = direct([a, b], [1.0, 0.5], d, 0.01)
        for n, t in written.items():
            np.testing.assert_array_equal(t.numpy(), expected[n])
        res = json.loads((out / "results" / f"line_{name}_d{d:g}.json").read_text())
        assert res["merge"]["op"] == "breadcrumbs" and res["merge"]["density"] == d
    assert f"### {name}: breadcrumbs of mytask, other" in (out / "report.md").read_text()
