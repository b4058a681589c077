"""Exact slope and curvature along directions (issue #14, acceptance 2): the forward-mode
per-text derivatives equal central finite differences of the sweep's own loss (PointWriter +
per_text_nll) to 1e-4 relative and reverse-mode autograd (torch.autograd.grad twice) to 1e-6,
in float64 on a toy Llama; then the step, the analysis entry and the report section."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import SENTENCES, make_config
from torch.nn.attention import SDPBackend, sdpa_kernel

from sitv_dist.models.loss import token_nll
from sitv_dist.results.uncertainty.derivative_intervals import quadratic, replicate_derivatives, set_derivatives
from sitv_dist.sweep.apply import PointWriter
from sitv_dist.sweep.forward_ad import per_text_derivatives
from sitv_dist.sweep.evaluation import build_eval_set, per_text_nll
from sitv_dist.texts import Text


def _eval_set(tok):
    cats = ["a", "b"] * 5
    return build_eval_set("general", [Text(s, c) for s, c in zip(SENTENCES, cats)], tok, 64, 4, torch.device("cpu"))


def _directions(model, seed: int, scale: float = 0.05) -> tuple[dict, dict]:
    gen = torch.Generator().manual_seed(seed)
    params = dict(model.named_parameters(remove_duplicate=True))
    return tuple({n: scale * torch.randn(p.shape, generator=gen, dtype=p.dtype) for n, p in params.items()}
                 for _ in range(2))


@pytest.fixture(scope="module")
def gpt2(toy):
    return _setup(toy, "gpt2")


@pytest.fixture(scope="module", params=["gpt2", "llama"])
def setup(toy, request):
    return _setup(toy, request.param)


def _setup(toy, kind):
    """float64 toy models: GPT-2 (LayerNorm, GELU, learned positions; every op in float64) and
    the toy Llama (RMSNorm, SiLU, rotary, tied embeddings), with two dense directions."""
    from transformers import AutoModelForCausalLM, AutoTokenizer, GPT2Config, GPT2LMHeadModel
    tok = AutoTokenizer.from_pretrained(toy["base"])
    if kind == "gpt2":
        torch.manual_seed(0)
        model = GPT2LMHeadModel(GPT2Config(vocab_size=len(tok), n_embd=32, n_layer=2, n_head=2, n_positions=128,
                                           bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id))
        model = model.double().eval()
    else:
        model = AutoModelForCausalLM.from_pretrained(toy["base"], dtype=torch.float64).eval()
    return (kind, model, _eval_set(tok)) + _directions(model, 3)


def _loss(model, writer, es, coefficients) -> float:
    writer.apply(coefficients)
    return float(per_text_nll(model, es).sum() / es.tokens.sum())


def test_slope_and_curvature_equal_finite_differences(gpt2):
    """On GPT-2, computed in float64 throughout. (transformers' LlamaRMSNorm computes in float32
    even in a float64 model: L(α) carries float32 rounding, which a second difference over 1e-3
    magnifies to ~1e-3; the Llama's derivatives are checked against autograd below.)"""
    _, model, es, t1, t2 = gpt2
    writer = PointWriter(model, {"T1": t1, "T2": t2}, torch.float64)
    for at in (0.0, 0.3):
        writer.apply({"T1": at})
        d = set_derivatives(per_text_derivatives(model, es, [t1]), es.tokens)
        eps = 1e-3
        lp, l0, lm = (_loss(model, writer, es, {"T1": at + s}) for s in (eps, 0.0, -eps))
        slope, curv = (lp - lm) / (2 * eps), (lp - 2 * l0 + lm) / eps ** 2
        assert abs(d["loss"] - l0) <= 1e-12 * abs(l0)
        assert abs(d["grad"][0] - slope) <= 1e-4 * abs(slope)
        assert abs(d["hess"][0, 0] - curv) <= 1e-4 * abs(curv)
        assert abs(d["grad"][0]) > 1e-3 and abs(d["hess"][0, 0]) > 1e-3      # not trivially 0 = 0
    # the same derivative at α = 0.3 by coefficients instead of moving the base
    writer.apply({})
    shifted = set_derivatives(per_text_derivatives(model, es, [t1], [0.3]), es.tokens)
    assert np.allclose(shifted["grad"], d["grad"], rtol=1e-10) and np.allclose(shifted["hess"], d["hess"], rtol=1e-10)


def _autograd(model, es, dirs):
    """g_i = <∇L, T_i> by one backward pass, H_ij = <∇ g_i, T_j> by a second one (a direction
    without a parameter is zero there)."""
    params = dict(model.named_parameters(remove_duplicate=True))
    with sdpa_kernel(SDPBackend.MATH):      # the fused CPU kernel has no double backward
        loss = sum(token_nll(model(input_ids=b.input_ids, attention_mask=b.attention_mask).logits, b.input_ids,
                             b.attention_mask).double().sum() for b in es.batches) / float(es.tokens.sum())
        grads = torch.autograd.grad(loss, list(params.values()), create_graph=True)
        g = [sum((gr * d[n]).sum() for gr, n in zip(grads, params) if n in d) for d in dirs]
        h = [[float(sum((x * d[n]).sum() for x, n in zip(torch.autograd.grad(gi, list(params.values()),
                                                                             retain_graph=True), params) if n in d))
              for d in dirs] for gi in g]
    return np.array([float(x.detach()) for x in g]), np.array(h)


def test_gradient_and_hessian_block_equal_autograd(setup):
    kind, model, es, t1, t2 = setup
    PointWriter(model, {}, torch.float64).apply({})
    per_text = per_text_derivatives(model, es, [t1, t2])
    d = set_derivatives(per_text, es.tokens)
    g, h = _autograd(model, es, [t1, t2])
    assert np.allclose(d["grad"], g, rtol=1e-6, atol=0) and np.allclose(d["hess"], h, rtol=1e-6, atol=0)
    assert abs(h[0, 1]) > 1e-4                                # the off-diagonal entry is really tested
    assert np.allclose(per_text["hess"], per_text["hess"].transpose(0, 2, 1))
    # per text: the one-direction run gives the same per-text values as the block's diagonal
    single = per_text_derivatives(model, es, [t2])
    assert np.allclose(single["grad"][:, 0], per_text["grad"][:, 1], rtol=1e-10)
    assert np.allclose(single["hess"][:, 0, 0], per_text["hess"][:, 1, 1], rtol=1e-10)


def test_composite_layer_norm_is_layer_norm():
    import torch.nn.functional as F

    from sitv_dist.sweep.forward_ad import _differentiable_ops, _layer_norm
    gen = torch.Generator().manual_seed(0)
    x, w, b = (torch.randn(s, generator=gen, dtype=torch.float64) for s in ((3, 5, 8), (8,), (8,)))
    assert torch.allclose(_layer_norm(x, (8,), w, b, 1e-5), F.layer_norm(x, (8,), w, b, 1e-5), rtol=1e-12, atol=1e-12)
    with _differentiable_ops():
        assert F.layer_norm is _layer_norm
    assert F.layer_norm is not _layer_norm


def test_bootstrap_of_derivatives_and_quadratic():
    rng = np.random.default_rng(0)
    per_text = {"nll": rng.random(6) * 10, "grad": rng.normal(size=(6, 1)), "hess": rng.random((6, 1, 1))}
    tokens = np.array([3, 4, 5, 6, 7, 8])
    obs = set_derivatives(per_text, tokens)
    assert np.isclose(obs["grad"][0], per_text["grad"][:, 0].sum() / 33)
    counts = np.array([[1] * 6, [2, 0, 1, 1, 1, 1]])
    reps = replicate_derivatives(per_text, tokens, counts)
    assert np.allclose(reps["grad"][0], obs["grad"])
    manual = (2 * per_text["grad"][0, 0] + per_text["grad"][2:, 0].sum()) / (6 + 5 + 6 + 7 + 8)
    assert np.isclose(reps["grad"][1, 0], manual)
    assert quadratic(-0.2, 4.0) == {"predicted_min": pytest.approx(0.05), "predicted_return": pytest.approx(0.1)}
    assert quadratic(0.2, -4.0) == {"predicted_min": None, "predicted_return": pytest.approx(0.1)}
    assert quadratic(0.0, 1.0)["predicted_return"] is None


def test_derivatives_step_analysis_and_report(toy, tmp_path, monkeypatch):
    from sitv_dist.cli import main
    from sitv_dist.stages import derivatives as stage
    out = tmp_path / "out"
    cfg = make_config(toy, tmp_path, out, grid_num=3, squaring=False, compositional=False, refine_rounds=0)
    assert main(["sweep", "-c", str(cfg), "--set", "sweep.alpha.num=3"]) == 0
    assert main(["derivatives", "-c", str(cfg), "--set", "sweep.alpha.num=3", "--controls", "1"]) == 0
    data = json.loads((out / "derivatives.json").read_text())
    assert sorted(data["entries"]) == ["grid_mytask__other", "line_mytask", "line_mytask/random1"]
    an = json.loads((out / "analysis.json").read_text())
    d = an["sweeps"]["line_mytask"]["derivatives"]
    assert sorted(d) == ["general", "task:mytask"]
    for v in d.values():
        assert {"slope", "curvature", "slope_interval", "curvature_interval", "predicted_min",
                "predicted_return"} <= set(v)
        assert v["slope_interval"][0] <= v["slope"] <= v["slope_interval"][1]
        assert v["curvature_interval"][0] <= v["curvature"] <= v["curvature_interval"][1]
    # the float32 step agrees with a float64 recomputation of the same loss
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from sitv_dist.config import load_config
    from sitv_dist.texts import eval_texts
    model = AutoModelForCausalLM.from_pretrained(toy["base"], dtype=torch.float64).eval()
    ft = dict(AutoModelForCausalLM.from_pretrained(toy["ft"], dtype=torch.float64).named_parameters())
    t1 = {n: (ft[n] - p).detach() for n, p in model.named_parameters(remove_duplicate=True)}
    es = build_eval_set("general", eval_texts(load_config(cfg))["general"], AutoTokenizer.from_pretrained(toy["base"]),
                        64, 4, torch.device("cpu"))
    ref = set_derivatives(per_text_derivatives(model, es, [t1]), es.tokens)
    assert d["general"]["slope"] == pytest.approx(ref["grad"][0], rel=1e-4)
    assert d["general"]["curvature"] == pytest.approx(ref["hess"][0, 0], rel=1e-4)
    # base loss of the step is the sweep's L(0)
    assert d["general"]["loss"] == pytest.approx(an["sweeps"]["line_mytask"]["base_loss"], rel=1e-6)
    controls = an["sweeps"]["line_mytask"]["derivative_controls"]
    assert len(controls) == 1 and controls[0]["seed"] == 1
    grid = an["sweeps"]["grid_mytask__other"]["derivatives"]["general"]
    assert len(grid["gradient"]) == 2 and grid["gradient"][0] == pytest.approx(d["general"]["slope"], rel=1e-9)
    assert grid["hessian"][0][1] == grid["hessian"][1][0]
    h, g = np.array(grid["hessian"]), np.array(grid["gradient"])
    if np.linalg.eigvalsh(h).min() > 0:
        assert np.allclose(h @ np.array(grid["predicted_min"]), -g)
    else:
        assert grid["predicted_min"] is None
    report = (out / "report.md").read_text()
    assert "## Slope and curvature at α = 0" in report and "### line_mytask" in report
    assert "Measured over all" in report        # the sampled line's minimum and crossing beside −g/h, −2g/h
    # a rerun reuses every entry whose fingerprint holds
    monkeypatch.setattr(stage, "_evaluate", lambda *a, **k: pytest.fail("recomputed an up-to-date entry"))
    assert main(["derivatives", "-c", str(cfg), "--set", "sweep.alpha.num=3", "--controls", "1"]) == 0


def test_fingerprint_follows_the_direction_and_sets():
    from sitv_dist.stages.derivatives import jobs
    from sitv_dist.sweep.plan import Plan, Sweep
    inputs = {"model": {"files": {"m": "x"}}, "settings": {}, "directions": {"a": "1", "b": "2"},
              "sets": {"general": "g"}}
    plan = Plan(inputs, ["a", "b"], ["general"], 1, 0, 0, [], [Sweep("line_a", "line", ["a"], [0.0])])
    before = {j["key"]: j["fingerprint"] for j in jobs(plan, 1)}
    plan.inputs = inputs | {"directions": {"a": "1", "b": "changed"}}
    assert {j["key"]: j["fingerprint"] for j in jobs(plan, 1)} == before      # b is not on line_a
    plan.inputs = inputs | {"directions": {"a": "changed", "b": "2"}}
    after = {j["key"]: j["fingerprint"] for j in jobs(plan, 1)}
    assert all(after[k] != before[k] for k in before) and before["line_a"] != before["line_a/random1"]


def test_grid_quadratic_minimum():
    from sitv_dist.results.uncertainty.derivative_intervals import stationary_min
    assert np.allclose(stationary_min({"gradient": [1.0, -2.0], "hessian": [[2.0, 0.5], [0.5, 1.0]]}),
                       np.linalg.solve([[2.0, 0.5], [0.5, 1.0]], [-1.0, 2.0]))
    assert stationary_min({"gradient": [1.0, -2.0], "hessian": [[2.0, 3.0], [3.0, 1.0]]}) is None   # a saddle


def test_analysis_leaves_out_stale_entries(tmp_path):
    """Derivatives computed for other inputs than the current plan's are not reported."""
    from sitv_dist.io import write_json
    from sitv_dist.outdir import OutDir
    from sitv_dist.results.uncertainty.derivative_intervals import add_derivatives
    from sitv_dist.sweep.derivative_jobs import SCHEMA, jobs
    from sitv_dist.sweep.plan import Plan, Sweep
    inputs = {"model": {"files": {"m": "x"}}, "settings": {}, "directions": {"a": "1"}, "sets": {"general": "g"}}
    plan = Plan(inputs, ["a"], ["general"], 1, 0, 0, [], [Sweep("line_a", "line", ["a"], [0.0])])
    out = OutDir(tmp_path)
    write_json(out.plan, plan.to_json())
    fp = {j["key"]: j["fingerprint"] for j in jobs(plan, 1)}
    per_set = {"general": {"tokens": [2, 3], "categories": ["c", "c"], "nll": [1.0, 2.0], "grad": [[0.2], [0.4]],
                           "hess": [[[1.0]], [[2.0]]]}}
    entry = {"sweep": "line_a", "directions": ["a"], "at": [0.0], "sets": per_set}
    write_json(out.derivatives, {"schema": SCHEMA, "entries": {
        "line_a": entry | {"fingerprint": fp["line_a"], "control": None},
        "line_a/random1": entry | {"fingerprint": "old", "control": {"random": "a", "seed": 1, "normalize": "global"}}}})
    an = {"sweeps": {"line_a": {"kind": "line"}}}
    add_derivatives(out, an, replicates=50)
    d = an["sweeps"]["line_a"]["derivatives"]["general"]
    assert d["slope"] == pytest.approx(0.6 / 5) and d["curvature"] == pytest.approx(3.0 / 5)
    assert d["predicted_min"] == pytest.approx(-0.2) and d["predicted_return"] == pytest.approx(-0.4)
    assert "derivative_controls" not in an["sweeps"]["line_a"] and an["derivatives_stale"] == ["line_a/random1"]


def test_lora_direction_slope_and_curvature(gpt2, tmp_path):
    """A LoRA adapter as the direction (GPT-2's Conv1D: fan_in_fan_out): the derivatives of its
    dense scaling·B·A equal finite differences of the sweep's own LoRA path (PointWriter adds
    B·A per adapted weight) to 1e-4 relative, and autograd to 1e-6."""
    peft = pytest.importorskip("peft")
    from sitv_dist.vectors import directions, lora
    _, model, es, _, _ = gpt2
    PointWriter(model, {}, torch.float64).apply({})
    torch.manual_seed(4)
    config = peft.LoraConfig(r=4, lora_alpha=8, target_modules=["c_attn", "c_fc"], fan_in_fan_out=True,
                             init_lora_weights=False)
    wrapped = peft.get_peft_model(type(model)(model.config).double(), config)
    wrapped.save_pretrained(tmp_path / "adapter")
    direction = directions.load(tmp_path / "adapter", model, "k", None, torch.float64)
    assert isinstance(direction, lora.LoraDirection)
    dense = {n: t.double() for n, t in lora.densify(direction).items()}
    d = set_derivatives(per_text_derivatives(model, es, [dense]), es.tokens)
    writer = PointWriter(model, {"L": direction}, torch.float64)
    eps = 1e-3
    lp, l0, lm = (_loss(model, writer, es, {"L": s}) for s in (eps, 0.0, -eps))
    slope, curv = (lp - lm) / (2 * eps), (lp - 2 * l0 + lm) / eps ** 2
    assert abs(d["grad"][0] - slope) <= 1e-4 * abs(slope) and abs(d["hess"][0, 0] - curv) <= 1e-4 * abs(curv)
    assert abs(d["grad"][0]) > 1e-3 and abs(d["hess"][0, 0]) > 1e-3
    writer.apply({})                                            # back to the base for autograd
    g, h = _autograd(model, es, [dense])
    assert np.allclose(d["grad"], g, rtol=1e-6, atol=0) and np.allclose(d["hess"], h, rtol=1e-6, atol=0)


def test_grid_block_from_its_lines_and_one_cross_pass(setup):
    """A two-direction grid needs one pass (the cross term) when both lines are differentiated:
    the block so assembled equals the block computed whole (to 1e-10; the passes order the same
    sums differently), and its diagonal is the lines' own values exactly."""
    kind, model, es, t1, t2 = setup
    PointWriter(model, {}, torch.float64).apply({})
    whole = per_text_derivatives(model, es, [t1, t2])
    cross = per_text_derivatives(model, es, [t1, t2], cross_only=True)
    assert not cross["grad"].any() and not cross["hess"][:, 0, 0].any() and not cross["hess"][:, 1, 1].any()
    assert np.allclose(cross["hess"][:, 0, 1], whole["hess"][:, 0, 1], rtol=1e-10, atol=0)
    assert np.array_equal(cross["hess"][:, 0, 1], cross["hess"][:, 1, 0])
    assert np.allclose(cross["nll"], whole["nll"], rtol=1e-12, atol=0)


def test_derivatives_step_reuses_the_lines_for_a_grid(toy, tmp_path, monkeypatch):
    from sitv_dist.cli import main
    from sitv_dist.sweep import forward_ad
    from sitv_dist.stages import derivatives as stage
    out = tmp_path / "out"
    cfg = make_config(toy, tmp_path, out, grid_num=3, squaring=False, compositional=False, refine_rounds=0,
                      directions=["mytask", "other"])
    args = ["--set", "sweep.alpha.num=3"]
    assert main(["sweep", "-c", str(cfg), *args]) == 0
    calls = []
    real = forward_ad.per_text_derivatives
    monkeypatch.setattr(stage, "per_text_derivatives",
                        lambda m, es, dirs, **kw: calls.append((len(dirs), kw.get("cross_only", False))) or
                        real(m, es, dirs, **kw))
    assert main(["derivatives", "-c", str(cfg), *args, "--controls", "0"]) == 0
    assert (2, True) in calls and (2, False) not in calls          # the grid: the cross term only
    entries = json.loads((out / "derivatives.json").read_text())["entries"]
    grid, lines = entries["grid_mytask__other"], [entries["line_mytask"], entries["line_other"]]
    for name, s in grid["sets"].items():
        for i, line in enumerate(lines):
            assert [g[i] for g in s["grad"]] == [g[0] for g in line["sets"][name]["grad"]]
            assert [h[i][i] for h in s["hess"]] == [h[0][0] for h in line["sets"][name]["hess"]]
    # the whole block computed in one go agrees
    monkeypatch.setattr(stage, "_own_derivatives", lambda *a: None)
    (out / "derivatives.json").unlink()
    assert main(["derivatives", "-c", str(cfg), *args, "--controls", "0"]) == 0
    whole = json.loads((out / "derivatives.json").read_text())["entries"]["grid_mytask__other"]
    for name, s in whole["sets"].items():
        assert np.allclose(s["hess"], grid["sets"][name]["hess"], rtol=1e-6, atol=1e-9)
        assert np.allclose(s["grad"], grid["sets"][name]["grad"], rtol=1e-6, atol=1e-9)


def test_a_failed_derivatives_step_keeps_the_entries_it_finished(toy, tmp_path, monkeypatch):
    from sitv_dist.cli import main
    from sitv_dist.stages import derivatives as stage
    out = tmp_path / "out"
    cfg = make_config(toy, tmp_path, out, squaring=False, compositional=False, refine_rounds=0)
    args = ["--set", "sweep.alpha.num=3"]
    assert main(["sweep", "-c", str(cfg), *args]) == 0
    real, calls = stage.per_text_derivatives, []

    def second_entry_fails(model, es, dirs, **kw):
        calls.append(es.name)
        if len(calls) > 2:             # the line's two sets done; its first control fails
            raise RuntimeError("killed")
        return real(model, es, dirs, **kw)

    monkeypatch.setattr(stage, "per_text_derivatives", second_entry_fails)
    with pytest.raises(RuntimeError, match="killed"):
        main(["derivatives", "-c", str(cfg), *args, "--controls", "1"])
    kept = json.loads((out / "derivatives.json").read_text())["entries"]
    assert sorted(kept) == ["line_mytask"]
    monkeypatch.setattr(stage, "per_text_derivatives", real)
    assert main(["derivatives", "-c", str(cfg), *args, "--controls", "1"]) == 0
    entries = json.loads((out / "derivatives.json").read_text())["entries"]
    assert sorted(entries) == ["line_mytask", "line_mytask/random1"] and entries["line_mytask"] == kept["line_mytask"]


def test_chunked_logits_give_the_same_derivatives(setup):
    """The derivatives stage forms the logits a few positions at a time (eval.logit_chunk / 4:
    nested forward mode carries four values per logit); the per-text values equal the whole
    logits' to 1e-10 relative in float64, for one direction and a pair, and at a moved origin."""
    _, model, es, t1, t2 = setup
    for dirs, at in (([t1], None), ([t1, t2], None), ([t1], [0.3])):
        whole = per_text_derivatives(model, es, dirs, at)
        for chunk in (1, 7):
            part = per_text_derivatives(model, es, dirs, at, logit_chunk=chunk)
            for key in ("nll", "grad", "hess"):
                assert np.allclose(part[key], whole[key], rtol=1e-10, atol=1e-12), (key, chunk)
            assert np.abs(part["hess"]).max() > 1e-3
