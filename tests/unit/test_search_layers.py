"""Per-layer directions are views of one resident T and give the uniform point's bits."""
import torch

from sitv_dist.sweep.apply import PointWriter
from sitv_dist.vectors.ops.layer_split import part_names, split_name, views


class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.self_attn = torch.nn.Linear(6, 6)
        self.mlp = torch.nn.Linear(6, 6)


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.model = torch.nn.Module()
        self.model.embed_tokens = torch.nn.Embedding(10, 6)
        self.model.layers = torch.nn.ModuleList([Block(), Block()])
        self.lm_head = torch.nn.Linear(6, 10, bias=False)


def _setup():
    torch.manual_seed(0)
    model = Tiny()
    T = {n: torch.randn_like(p) for n, p in model.named_parameters()}
    return model, T


def test_parts_partition_and_are_views():
    model, T = _setup()
    parts = views(T, "qa", "layers")
    assert sorted(parts) == ["qa@embed", "qa@head", "qa@layer0", "qa@layer1"]
    assert part_names("qa", list(T), "layers") == list(parts)
    names = [n for p in parts.values() for n in p]
    assert sorted(names) == sorted(T) and len(names) == len(set(names))
    # one copy of T in memory: every part's tensor is T's own storage
    ptrs = {t.data_ptr() for t in T.values()}
    assert all(t is T[n] for p in parts.values() for n, t in p.items())
    assert {t.data_ptr() for p in parts.values() for t in p.values()} == ptrs
    assert split_name("qa@layer1") == ("qa", "layer1") and split_name("qa") is None
    assert sorted(views(T, "qa", "groups")) == ["qa@attention", "qa@embeddings", "qa@mlp"]


def test_per_layer_point_equals_uniform_point_bitwise():
    model, T = _setup()
    parts = views(T, "qa", "layers")
    writer = PointWriter(model, {"qa": T, **parts})
    c = 0.3700000001
    writer.apply({"qa": c})
    uniform = {n: p.detach().clone() for n, p in model.named_parameters()}
    writer.apply({"qa": 0.0, **{d: c for d in parts}})
    for n, p in model.named_parameters():
        assert torch.equal(p.detach(), uniform[n]), n
    writer.apply({"qa": 0.0, **{d: (c if d != "qa@layer0" else 0.0) for d in parts}})
    assert not torch.equal(model.model.layers[0].mlp.weight.detach(), uniform["model.layers.0.mlp.weight"])
    assert torch.equal(model.lm_head.weight.detach(), uniform["lm_head.weight"])
