"""The loss is Σ NLL / Σ predicted tokens, per text, with padding excluded."""
import numpy as np
import torch
import torch.nn.functional as F
from transformers import AutoModelForCausalLM, AutoTokenizer

from sitv_dist.texts import load_texts
from sitv_dist.sweep.evaluation import build_eval_set, per_text_nll, summarize


def direct_nll(model, tok, text, max_length):
    """One text, no batch, no padding: the definition in the guide."""
    ids = tok(text, truncation=True, max_length=max_length, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0, :-1]
    return F.cross_entropy(logits.float(), ids[0, 1:], reduction="sum").item(), ids.shape[1] - 1


def test_batched_loss_matches_per_text_computation(toy):
    tok = AutoTokenizer.from_pretrained(toy["base"])
    assert tok.pad_token_id is None          # a tokenizer without a pad token must just work
    from sitv_dist.models.loading import load_tokenizer
    tok = load_tokenizer(str(toy["base"]))
    model = AutoModelForCausalLM.from_pretrained(toy["base"]).eval()
    texts = load_texts(str(toy["general"]), key="eval.general", embedded_name="general", split="eval",
                       category_field="category")
    es = build_eval_set("general", texts, tok, max_length=64, batch_size=4, device=torch.device("cpu"))
    assert any((b.attention_mask == 0).any() for b in es.batches)      # padding really happens
    nll = per_text_nll(model, es)
    direct = [direct_nll(model, tok, t.text, 64) for t in texts]
    np.testing.assert_allclose(nll, [d[0] for d in direct], rtol=1e-5)
    assert es.tokens.tolist() == [d[1] for d in direct]
    summary = summarize(es, nll)
    assert summary["loss"] == summary["nll_sum"] / summary["tokens"]
    assert abs(summary["loss"] - sum(d[0] for d in direct) / sum(d[1] for d in direct)) < 1e-5
    coding = [d for d, t in zip(direct, texts) if t.category == "coding"]
    assert abs(summary["categories"]["coding"]["loss"] - sum(d[0] for d in coding) / sum(d[1] for d in coding)) < 1e-5
    assert sum(c["tokens"] for c in summary["categories"].values()) == summary["tokens"]


def test_empty_eval_file_is_a_clear_error(tmp_path):
    import pytest

    from sitv_dist.config import ConfigError
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(ConfigError, match="tasks.0.eval: .* holds no texts"):
        load_texts(str(empty), key="tasks.0.eval", embedded_name="x", split="eval")
