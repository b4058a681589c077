"""Writing base + Σ cT in place: no drift, order-independent, tied weights once."""
import torch

from sitv_dist.sweep.apply import PointWriter
from sitv_dist.models.loading import load_model, parameters
from sitv_dist.config import ModelConfig
from sitv_dist.vectors.taskvector import difference


def load(path, dtype="float32"):
    return load_model(str(path), ModelConfig(name_or_path=str(path), device="cpu"), torch.device("cpu"), dtype)


def test_in_place_apply_is_bitwise_a_fresh_build_after_any_walk(toy):
    base, ft = load(toy["base"]), load(toy["ft"])
    T = difference(base, ft)
    T2 = {k: torch.roll(v, 1, dims=0) for k, v in T.items()}
    snapshot = {k: v.detach().clone() for k, v in parameters(base).items()}
    writer = PointWriter(base, {"t": T, "u": T2})
    for c in (1.7, -3.0, 0.25, 1e3, 0.0, 0.5):   # walk around, including a huge step
        writer.apply({"t": c, "u": 0.3})
    writer.apply({"t": 0.5, "u": -0.75})
    for name, p in parameters(base).items():
        fresh = torch.add(snapshot[name], T[name], alpha=0.5).add_(T2[name], alpha=-0.75)
        assert torch.equal(p, fresh), name
        assert torch.allclose(p, snapshot[name] + 0.5 * T[name] - 0.75 * T2[name], atol=1e-6)
    writer.apply({"t": 0.0, "u": 0.0})
    assert all(torch.equal(p, snapshot[n]) for n, p in parameters(base).items())


def test_tied_embedding_is_one_parameter_and_stays_tied(toy):
    base, ft = load(toy["base"]), load(toy["ft"])
    T = difference(base, ft)
    assert "model.embed_tokens.weight" in T and "lm_head.weight" not in T
    PointWriter(base, {"t": T}).apply({"t": 2.0})
    assert base.lm_head.weight.data_ptr() == base.model.embed_tokens.weight.data_ptr()


def test_bf16_model_rounds_once_from_fp32(toy):
    base32, ft = load(toy["base"]), load(toy["ft"])
    T = difference(base32, ft)
    model = load(toy["base"], "bfloat16")
    writer = PointWriter(model, {"t": T}, torch.float32)
    writer.apply({"t": 0.3})
    writer.apply({"t": 0.7})
    for name, p in parameters(model).items():
        expected = torch.add(parameters(base32)[name].detach().to(torch.bfloat16).float(), T[name], alpha=0.7)
        assert p.dtype == torch.bfloat16
        assert torch.equal(p, expected.to(torch.bfloat16)), name


def test_low_precision_vectors_are_upcast_exactly_and_base_stays_in_model_dtype(toy):
    base32, ft = load(toy["base"]), load(toy["ft"])
    T = difference(base32, ft)
    T16 = {k: v.to(torch.bfloat16) for k, v in T.items()}
    snapshot = {k: v.detach().clone() for k, v in parameters(base32).items()}
    writer = PointWriter(base32, {"t": T16, "u": T16})
    writer.apply({"t": 0.9, "u": -0.2})
    for name, p in parameters(base32).items():
        upcast_first = torch.add(snapshot[name], T16[name].float(), alpha=0.9).add_(T16[name].float(), alpha=-0.2)
        assert torch.equal(p, upcast_first), name
        # rounding T to bf16 moves each entry by at most 2^-8 of |T| (times |c|)
        exact = snapshot[name] + 0.7 * T[name]
        assert torch.all((p - exact).abs() <= 0.7 * T[name].abs() * 2 ** -8 + 1e-6), name
    model = load(toy["base"], "bfloat16")
    writer = PointWriter(model, {"t": T16}, torch.float32)
    assert {b.dtype for b in writer.base.values()} == {torch.bfloat16}       # no fp32 copy of the base
    writer.apply({"t": -1.25})
    for name, p in parameters(model).items():
        expected = torch.add(snapshot[name].to(torch.bfloat16).float(), T16[name].float(), alpha=-1.25)
        assert torch.equal(p, expected.to(torch.bfloat16)), name


def test_low_precision_parameters_formed_in_row_blocks_give_the_same_bits(toy, monkeypatch):
    """A bf16 model's parameters are formed in fp32 scratch of bounded size, block by block."""
    from sitv_dist.sweep import apply as apply_module
    base32, ft = load(toy["base"]), load(toy["ft"])
    T = difference(base32, ft)
    whole = load(toy["base"], "bfloat16")
    PointWriter(whole, {"t": T, "u": T}, torch.float32).apply({"t": 0.7, "u": -0.3})
    monkeypatch.setattr(apply_module, "SCRATCH_ELEMENTS", 100)       # 32-wide rows: 3 rows per block
    blocked = load(toy["base"], "bfloat16")
    writer = PointWriter(blocked, {"t": T, "u": T}, torch.float32)
    assert writer.scratch[torch.device("cpu")].numel() == 3 * 32     # 3 rows of the 32-wide embedding at most
    writer.apply({"t": 0.7, "u": -0.3})
    for name, p in parameters(blocked).items():
        assert torch.equal(p, parameters(whole)[name]), name
