"""Merge operators (TIES, DARE, magnitude pruning) and restrictions as derived directions."""
from __future__ import annotations

import json

import pytest
import torch
from peft.utils import merge_utils as MU

from sitv_dist.config import ConfigError
from sitv_dist.vectors.ops.ops_registry import describe, normalize
from sitv_dist.vectors.restrict import group_pattern
from sitv_dist.vectors import derived as D
from sitv_dist.vectors import merge as M
from sitv_dist.vectors import restrict as R
from sitv_dist.vectors import taskvector

NAMES = {"model.embed_tokens.weight": (40, 8), "model.layers.0.self_attn.q_proj.weight": (8, 8),
         "model.layers.0.self_attn.o_proj.weight": (8, 8), "model.layers.0.mlp.up_proj.weight": (16, 8),
         "model.layers.1.self_attn.q_proj.weight": (8, 8), "model.layers.1.mlp.down_proj.weight": (8, 16),
         "model.layers.1.input_layernorm.weight": (8,), "model.norm.weight": (8,)}


def make_tv(seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {n: 0.1 * torch.randn(s, generator=g) for n, s in NAMES.items()}


@pytest.fixture()
def files(tmp_path):
    paths = {}
    for k, name in enumerate(("a", "b", "c")):
        paths[name] = tmp_path / "tv" / f"{name}.safetensors"
        taskvector.save(paths[name], make_tv(20 + k), "base-model", f"ft-{name}")
    return paths


def peft_expected(op, vectors, weights, density, seed=None):
    """peft's function applied tensor by tensor, DARE seeded per tensor as documented."""
    w = torch.tensor(weights, dtype=torch.float32)
    out = {}
    for n in sorted(vectors[0]):
        ts = [v[n] for v in vectors]
        if op in ("dare_linear", "dare_ties"):
            torch.manual_seed(M.tensor_seed(seed, n))
        out[n] = (MU.ties(ts, w, density, "total") if op == "ties" else MU.dare_ties(ts, w, density, "total")
                  if op == "dare_ties" else MU.dare_linear(ts, w, density))
    return out


@pytest.mark.parametrize("op, density, seed", [("ties", 0.3, None), ("ties", 0.8, None), ("dare_linear", 0.4, 5),
                                               ("dare_ties", 0.6, 7), ("dare_linear", 0.4, 6)])
def test_merge_direction_is_bitwise_peft(files, op, density, seed):
    vectors = [D.load_tensors(files[n]) for n in "abc"]
    spec = {op: ["a", "b", "c"], "weights": [1.0, 0.5, -0.7], "density": density}
    if seed is not None:
        spec["seed"] = seed
    d = D.make_direction(spec, files.__getitem__)
    state = torch.get_rng_state()
    expected = peft_expected(op, vectors, [1.0, 0.5, -0.7], density, seed)
    assert set(d.tensors) == set(NAMES)
    for n in NAMES:
        assert d.tensors[n].dtype == torch.float32 and torch.equal(d.tensors[n], expected[n]), n
    # something was actually pruned, and not everything
    zeros = sum(int((t == 0).sum()) for t in d.tensors.values()) / sum(t.numel() for t in d.tensors.values())
    assert 0.0 < zeros < 1.0
    assert json.loads(d.extra()["derived"]) == spec
    if seed is not None:       # building the direction leaves the global generator alone
        torch.set_rng_state(state)
        before = torch.rand(3)
        torch.set_rng_state(state)
        D.make_direction(spec, files.__getitem__)
        assert torch.equal(torch.rand(3), before)


def test_dare_masks_depend_on_seed_and_name_only():
    vectors = [make_tv(1), make_tv(2)]
    full = M.merge("dare_linear", vectors, [1.0, 1.0], 0.5, seed=3)
    one = "model.layers.0.mlp.up_proj.weight"
    alone = M.merge("dare_linear", [{one: v[one]} for v in vectors], [1.0, 1.0], 0.5, seed=3)
    assert torch.equal(full[one], alone[one])
    other = M.merge("dare_linear", vectors, [1.0, 1.0], 0.5, seed=4)
    assert not torch.equal(full[one], other[one])
    # DARE keeps about `density` of each vector's entries and rescales them by 1/density
    single = M.merge("dare_linear", [vectors[0]], [1.0], 0.25, seed=0)
    t, kept = vectors[0]["model.embed_tokens.weight"], single["model.embed_tokens.weight"]
    mask = kept != 0
    assert 0.18 < float(mask.float().mean()) < 0.32
    assert torch.allclose(kept[mask], t[mask] / 0.25)


def test_ties_density_one_is_the_weighted_disjoint_mean_after_sign_election():
    a, b, c = make_tv(1), make_tv(2), make_tv(3)
    weights = [1.0, 2.0, 0.5]
    merged = M.merge("ties", [a, b, c], weights, 1.0)
    for n in NAMES:
        stack = torch.stack([a[n], b[n], c[n]])
        elected = torch.where(stack.sum(0) >= 0, 1.0, -1.0)
        agree = stack.sign() == elected
        w = torch.tensor(weights).view(-1, *([1] * (stack.dim() - 1)))
        direct = (stack * w * agree).sum(0) / agree.sum(0).clamp(min=1)
        assert torch.allclose(merged[n], direct, rtol=0, atol=1e-7), n
        # an entry where every vector agrees on the sign is the plain weighted mean
        where = agree.all(0)
        assert torch.allclose(merged[n][where], (stack * w).sum(0)[where] / 3, atol=1e-7)


def test_single_vector_with_negative_weight_gives_minus_pruned_T():
    t = make_tv(4)
    merged = M.merge("ties", [t], [-1.0], 0.5)
    pruned = M.magnitude_prune(t, 0.5)
    for n in NAMES:
        assert torch.equal(merged[n], -pruned[n]), n
    assert torch.equal(M.merge("ties", [t], [-1.0], 1.0)["model.norm.weight"], -t["model.norm.weight"])


def test_magnitude_prune_keeps_the_largest_entries_of_each_tensor(files):
    t = D.load_tensors(files["a"])
    d = D.make_direction({"magnitude_prune": "a", "density": 0.25}, files.__getitem__)
    assert d.description == "magnitude_prune(a; density=0.25)"
    for n, x in t.items():
        assert torch.equal(d.tensors[n], MU.prune(x, 0.25, method="magnitude")), n
        k = int(0.25 * x.numel())
        kept = d.tensors[n] != 0
        assert int(kept.sum()) == k
        if k:
            assert float(x[kept].abs().min()) >= float(x[~kept].abs().max())
            assert torch.equal(d.tensors[n][kept], x[kept])


def test_restriction_equals_T_masked_by_name(files):
    t = D.load_tensors(files["b"])
    resolve = files.__getitem__
    attn = D.make_direction({"restrict": "b", "group": ["attention"]}, resolve).tensors
    mlp = D.make_direction({"restrict": "b", "group": "mlp"}, resolve).tensors
    for n, x in t.items():
        assert torch.equal(attn[n], x if ".self_attn." in n else torch.zeros_like(x)), n
        assert torch.equal(mlp[n], x if ".mlp." in n else torch.zeros_like(x)), n
    # attention + mlp + the rest is T again, exactly (the masks are disjoint)
    rest = D.make_direction({"restrict": "b", "exclude": r"\.(self_attn|mlp)\."}, resolve).tensors
    assert all(torch.equal(attn[n] + mlp[n] + rest[n], t[n]) for n in t)
    first = D.make_direction({"restrict": "b", "group": ["attention", "layers:0-0"]}, resolve)
    assert {n for n, x in first.tensors.items() if x.abs().sum() > 0} == {"model.layers.0.self_attn.q_proj.weight",
                                                                          "model.layers.0.self_attn.o_proj.weight"}
    assert first.description == "b restricted to group=attention+layers:0-0"
    emb = R.restrict(t, groups=["embeddings"])
    assert [n for n, x in emb.items() if x.abs().sum() > 0] == ["model.embed_tokens.weight"]
    inc = R.restrict(t, include=r"q_proj", exclude=r"layers\.1\.")
    assert [n for n, x in inc.items() if x.abs().sum() > 0] == ["model.layers.0.self_attn.q_proj.weight"]


@pytest.mark.parametrize("name, group, kept", [
    ("model.layers.3.self_attn.k_proj.weight", "attention", True),                      # Llama / Qwen
    ("model.language_model.layers.0.self_attn.q_norm.weight", "attention", True),       # Gemma-3
    ("model.layers.3.mlp.gate_proj.weight", "attention", False),
    ("model.language_model.layers.5.mlp.down_proj.weight", "mlp", True),
    ("lm_head.weight", "embeddings", True),
    ("model.language_model.embed_tokens.weight", "embeddings", True),
    ("model.layers.12.post_feedforward_layernorm.weight", "norms", True),
    ("model.norm.weight", "norms", True),
    ("model.layers.12.mlp.up_proj.weight", "layers:10-12", True),
    ("model.layers.1.mlp.up_proj.weight", "layers:10-12", False),
    ("model.layers.120.mlp.up_proj.weight", "layers:10-12", False),
])
def test_ready_made_groups_follow_hf_naming(name, group, kept):
    assert R.matcher(groups=[group])(name) is kept


@pytest.mark.parametrize("spec, message", [
    ({"ties": ["a", "b"], "density": 0.0}, "density"),
    ({"ties": ["a", "b"], "density": 1.5}, "density"),
    ({"ties": ["a", "b"], "weights": [1.0]}, "one number per task vector"),
    ({"ties": []}, "at least one"),
    ({"ties": ["a"], "seed": 1}, "unknown key"),
    ({"dare_linear": ["a"], "seed": "x"}, "seed"),
    ({"magnitude_prune": ["a"], "density": 0.5}, "one task-vector name"),
    ({"restrict": "a"}, "needs include, exclude or group"),
    ({"restrict": "a", "group": ["attn"]}, "unknown group 'attn'"),
    ({"restrict": "a", "group": ["layers:3-1"]}, "first layer is after the last"),
    ({"restrict": "a", "include": "("}, "not a valid regular expression"),
    ({"restrict": "a", "include": "nothing_matches_this"}, "matches none"),
])
def test_bad_merge_and_restriction_specs_name_the_key(files, spec, message):
    with pytest.raises(ConfigError, match=message) as info:
        D.make_direction(spec, files.__getitem__, key="sweep.derived_directions.x")
    assert str(info.value).startswith("sweep.derived_directions.x")


def test_descriptions_say_how_a_merge_was_made():
    assert describe({"ties": ["a", "b"], "weights": [1, 0.5], "density": 0.3}) == "ties(1*a, 0.5*b; density=0.3)"
    assert describe({"dare_ties": ["a"], "density": 0.9, "seed": 2}) == "dare_ties(1*a; density=0.9; seed=2)"
    assert group_pattern("layers:2-3") == r"(^|\.)layers\.(2|3)\."


def test_config_derived_directions_accept_merges_and_restrictions():
    spec = normalize({"dare_ties": ["a", "b"], "density": 0.5, "seed": 3}, "sweep.derived_directions.m")
    assert spec == {"dare_ties": ["a", "b"], "density": 0.5, "weights": [1.0, 1.0], "seed": 3}
    assert normalize({"restrict": "a", "group": ["mlp"]}, "k") == {"restrict": "a", "group": ["mlp"]}
    with pytest.raises(ConfigError, match="density: applies to merges"):
        normalize({"negate": "a", "density": 0.5}, "k")
    with pytest.raises(ConfigError, match="include, exclude and group apply to restrictions"):
        normalize({"negate": "a", "group": ["mlp"]}, "k")
    with pytest.raises(ConfigError, match="seed: applies to random"):
        normalize({"ties": ["a"], "seed": 2}, "k")


def test_merges_without_peft_fail_at_config_time(monkeypatch):
    import importlib.util
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "peft" else real(name, *a))
    with pytest.raises(ConfigError, match=r"sweep.derived_directions.m.ties: merges use peft.*pip install"):
        normalize({"ties": ["a", "b"]}, "sweep.derived_directions.m")
    normalize({"restrict": "a", "group": ["mlp"]}, "k")        # restrictions need no peft


def test_written_merge_says_how_it_was_made(files, tmp_path):
    spec = {"dare_ties": ["a", "b"], "weights": [1.0, -0.5], "density": 0.4, "seed": 9}
    path = tmp_path / "out" / "m.safetensors"
    meta = D.write_direction(path, spec, files.__getitem__)
    assert meta["finetuned"] == "derived: dare_ties(1*a, -0.5*b; density=0.4; seed=9)"
    assert json.loads(meta["derived"]) == spec
    assert set(json.loads(meta["sources"])) == {"a", "b"}
    written = D.load_tensors(path)
    expected = peft_expected("dare_ties", [D.load_tensors(files[n]) for n in "ab"], [1.0, -0.5], 0.4, 9)
    assert all(torch.equal(written[n], expected[n]) for n in NAMES)
