"""Random and derived directions, and cosine similarity of task vectors."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from sitv_dist.vectors import derived as D
from sitv_dist.vectors.ops import random_control as RC
from sitv_dist.vectors.ops import ops_registry as registry
from sitv_dist.vectors.ops.negate import negate
from sitv_dist.vectors import similarity as S
from sitv_dist.vectors import taskvector
from sitv_dist.config import ConfigError


def make_tv(seed: int = 0, scale: float = 1.0) -> dict[str, torch.Tensor]:
    """A small task-vector-like dict: embedding, 2-D weights, a 3-D weight, 1-D norms/bias."""
    g = torch.Generator().manual_seed(seed)
    shapes = {"model.embed_tokens.weight": (50, 8), "model.layers.0.mlp.up_proj.weight": (16, 8),
              "model.layers.0.self_attn.q_proj.weight": (8, 8), "conv.weight": (4, 3, 2, 2),
              "model.layers.0.input_layernorm.weight": (8,), "model.norm.weight": (8,), "head.bias": (5,)}
    out = {n: scale * torch.randn(s, generator=g) * (1 + k) for k, (n, s) in enumerate(shapes.items())}
    out["model.embed_tokens.weight"][7] = 0.0          # a token row that fine-tuning never moved
    return out


def norm(tensors) -> float:
    return float(sum(t.double().pow(2).sum() for t in tensors.values()) ** 0.5)


def rows(t: torch.Tensor) -> torch.Tensor:
    return t.double().reshape(t.shape[0], -1).norm(dim=1)


# ----------------------------------------------------------------------------- random directions
def test_global_random_direction_has_exactly_the_norm_of_T_and_is_seeded():
    T = make_tv()
    d = RC.random_direction(T, seed=3)
    assert set(d) == set(T) and all(d[n].shape == T[n].shape and d[n].dtype == torch.float32 for n in T)
    assert norm(d) == pytest.approx(norm(T), rel=1e-6)
    again = RC.random_direction(T, seed=3)
    assert all(torch.equal(d[n], again[n]) for n in T)
    other = RC.random_direction(T, seed=4)
    assert not torch.equal(d["model.layers.0.mlp.up_proj.weight"], other["model.layers.0.mlp.up_proj.weight"])
    assert all(d[n].abs().sum() > 0 for n in T)                         # 1-D tensors included
    # a Gaussian direction is nearly orthogonal to T (|cos| ~ 1/sqrt(dim))
    assert abs(S.cosine_similarity(d, T)) < 0.2
    # dict order does not matter, only names
    shuffled = {n: T[n] for n in reversed(list(T))}
    assert all(torch.equal(RC.random_direction(shuffled, seed=3)[n], d[n]) for n in T)


def test_layer_normalised_direction_matches_every_tensor_norm():
    T = make_tv(1)
    d = RC.random_direction(T, seed=0, normalize="layer")
    for n in T:
        assert float(d[n].double().norm()) == pytest.approx(float(T[n].double().norm()), rel=1e-6), n
    assert norm(d) == pytest.approx(norm(T), rel=1e-6)
    zeroed = RC.random_direction(T, seed=0, normalize="layer", one_d="zero")
    assert float(zeroed["model.norm.weight"].abs().sum()) == 0.0


def test_filter_normalised_direction_matches_every_filter_norm():
    T = make_tv(2)
    d = RC.random_direction(T, seed=5, normalize="filter")
    for n, t in T.items():
        if t.dim() >= 2:
            torch.testing.assert_close(rows(d[n]), rows(t), rtol=1e-6, atol=1e-12)
        else:                                                            # Li et al.: 1-D zeroed
            assert float(d[n].abs().sum()) == 0.0
    assert float(d["model.embed_tokens.weight"][7].abs().sum()) == 0.0   # zero filter of T stays zero
    two_d = {n: t for n, t in T.items() if t.dim() >= 2}
    assert norm(d) == pytest.approx(norm(two_d), rel=1e-6)
    per_tensor = RC.random_direction(T, seed=5, normalize="filter", one_d="tensor")
    for n, t in T.items():
        if t.dim() == 1:
            assert float(per_tensor[n].double().norm()) == pytest.approx(float(t.double().norm()), rel=1e-6)
    assert norm(per_tensor) == pytest.approx(norm(T), rel=1e-6)
    # the filters are random: not a rescaled copy of T
    assert abs(S.cosine_similarity(d, T)) < 0.3


def test_bad_normalisation_is_refused():
    with pytest.raises(ValueError, match="normalize"):
        RC.random_direction(make_tv(), normalize="row")
    with pytest.raises(ValueError, match="one_d"):
        RC.random_direction(make_tv(), normalize="filter", one_d="keep")


# ----------------------------------------------------------------------------- derived directions
@pytest.fixture()
def files(tmp_path):
    paths = {}
    for k, name in enumerate(("a", "b", "c")):
        paths[name] = tmp_path / "tv" / f"{name}.safetensors"
        taskvector.save(paths[name], make_tv(10 + k, scale=0.1), "base-model", f"ft-{name}")
    return paths


def test_derived_arithmetic_is_exact(files):
    a, b, c = (D.load_tensors(files[n]) for n in "abc")
    resolve = files.__getitem__
    neg = D.make_direction({"negate": "a"}, resolve)
    assert all(torch.equal(neg.tensors[n], -a[n]) for n in a)
    s = D.make_direction({"sum": ["a", "b", "c"]}, resolve)
    assert all(torch.equal(s.tensors[n], (a[n] + b[n]) + c[n]) for n in a)
    diff = D.make_direction({"difference": ["a", "b"]}, resolve)
    assert all(torch.equal(diff.tensors[n], a[n] - b[n]) for n in a)
    assert diff.description == "a - b" and neg.description == "-a" and s.description == "a + b + c"
    assert registry.sources({"sum": ["a", "b", "c"]}) == ["a", "b", "c"] and registry.sources({"random": "a"}) == ["a"]
    assert neg.base_id == "base-model"
    rnd = D.make_direction({"random": "a", "normalize": "filter", "seed": 1}, resolve)
    assert rnd.description == "random(a; filter; one_d=zero; seed=1)"
    expected = RC.random_direction(a, seed=1, normalize="filter")
    assert all(torch.equal(rnd.tensors[n], expected[n]) for n in a)


def test_write_direction_is_a_task_vector_file_with_provenance(files, tmp_path):
    resolve = files.__getitem__
    spec = {"random": "b", "normalize": "global", "seed": 7}
    path = tmp_path / "derived" / "random_b.safetensors"
    meta = D.write_direction(path, spec, resolve)
    stored = taskvector.read_metadata(path)
    assert stored == meta
    assert stored["format"] == "sitv-dist/task-vector/1" and stored["base"] == "base-model"
    assert stored["finetuned"] == "derived: random(b; global; seed=7)"
    assert json.loads(stored["derived"]) == spec
    src = json.loads(stored["sources"])
    assert src["b"]["content_hash"] == taskvector.read_metadata(files["b"])["content_hash"]
    assert float(stored["global_norm"]) == pytest.approx(float(taskvector.read_metadata(files["b"])["global_norm"]),
                                                         rel=1e-6)
    # rerun: kept as is (resumable)
    mtime = path.stat().st_mtime_ns
    assert D.write_direction(path, spec, resolve) == stored and path.stat().st_mtime_ns == mtime
    # the source changed: rebuilt
    taskvector.save(files["b"], make_tv(99, scale=0.1), "base-model", "ft-b2")
    meta2 = D.write_direction(path, spec, resolve)
    assert meta2["content_hash"] != stored["content_hash"]
    # another spec at the same path: rebuilt
    meta3 = D.write_direction(path, {"negate": "b"}, resolve)
    assert json.loads(meta3["derived"]) == {"negate": "b"}


def test_taskvector_save_extra_cannot_replace_standard_keys(tmp_path):
    with pytest.raises(ValueError, match="global_norm"):
        taskvector.save(tmp_path / "x.safetensors", make_tv(), "b", "f", extra={"global_norm": "1"})


@pytest.mark.parametrize("spec, message", [
    ({"negate": "a", "sum": ["a", "b"]}, "exactly one of"),
    ({}, "exactly one of"),
    ({"difference": ["a"]}, "exactly two names"),
    ({"sum": ["a"]}, "at least two"),
    ({"negate": ["a"]}, "one task-vector name"),
    ({"random": "a", "normalize": "row"}, "normalize"),
    ({"random": "a", "seed": "x"}, "seed"),
    ({"negate": "a", "seed": 1}, "unknown key"),
    ({"negate": "zzz"}, "does not exist"),
])
def test_bad_specs_name_the_key(files, spec, message):
    with pytest.raises(ConfigError, match=message) as info:
        D.make_direction(spec, lambda n: files.get(n, files["a"].parent / f"{n}.safetensors"),
                         key="sweep.derived_directions.x")
    assert str(info.value).startswith("sweep.derived_directions.x")


def test_mismatched_task_vectors_are_refused(files, tmp_path):
    odd = make_tv(0)
    odd.pop("head.bias")
    taskvector.save(tmp_path / "odd.safetensors", odd, "other-base", "ft")
    resolve = {**files, "odd": tmp_path / "odd.safetensors"}.__getitem__
    with pytest.raises(ConfigError, match="different tensors"):
        D.make_direction({"sum": ["a", "odd"]}, resolve)


# ----------------------------------------------------------------------------- cosine similarity
def test_cosine_similarity_self_negation_orthogonal(files, tmp_path):
    a = D.load_tensors(files["a"])
    assert S.cosine_similarity(files["a"], files["a"]) == pytest.approx(1.0, abs=1e-12)
    taskvector.save(tmp_path / "neg.safetensors", negate(a), "base-model", "neg")
    assert S.cosine_similarity(files["a"], tmp_path / "neg.safetensors") == pytest.approx(-1.0, abs=1e-12)
    # orthogonal: b minus its projection on a (float64), and a vector with disjoint support
    b = {n: t.double() for n, t in D.load_tensors(files["b"]).items()}
    a64 = {n: t.double() for n, t in a.items()}
    coef = sum(float((a64[n] * b[n]).sum()) for n in a) / sum(float((a64[n] ** 2).sum()) for n in a)
    orth = {n: b[n] - coef * a64[n] for n in a}
    assert abs(S.cosine_similarity(a64, orth)) < 1e-12
    half = {n: (t if n.startswith("model.layers") else torch.zeros_like(t)) for n, t in a.items()}
    rest = {n: (torch.zeros_like(t) if n.startswith("model.layers") else t) for n, t in a.items()}
    assert S.cosine_similarity(half, rest) == 0.0
    # a hand-computed value, from files (streamed) and from memory alike
    c = D.load_tensors(files["c"])
    dot = sum(float((a[n].double() * c[n].double()).sum()) for n in a)
    expected = dot / (norm(a) * norm(c))
    assert S.cosine_similarity(files["a"], files["c"]) == pytest.approx(expected, rel=1e-12)
    assert S.cosine_similarity(a, c) == pytest.approx(expected, rel=1e-12)


def test_cosine_matrix_and_gram(files):
    paths = [files[n] for n in "abc"]
    m = S.cosine_matrix(paths)
    assert m.shape == (3, 3) and np.allclose(np.diag(m), 1.0) and np.allclose(m, m.T)
    g = S.gram_matrix(paths)
    metas = [taskvector.read_metadata(p) for p in paths]
    assert np.sqrt(np.diag(g)) == pytest.approx([float(x["global_norm"]) for x in metas], rel=1e-9)
    zero = {n: torch.zeros_like(t) for n, t in D.load_tensors(files["a"]).items()}
    assert np.isnan(S.cosine_similarity(zero, files["a"]))


def test_cosine_of_different_shapes_is_refused(files):
    a = D.load_tensors(files["a"])
    bad = dict(a, **{"head.bias": torch.zeros(6)})
    with pytest.raises(ValueError, match="tensors/shapes"):
        S.cosine_similarity(a, bad)
