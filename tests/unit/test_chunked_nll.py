"""Chunked NLL (final hidden states → the model's own head, a few positions at a time) gives
the losses of the full-logits path on Llama, Gemma-3 (soft-capped logits, sliding window),
Qwen2 and GPT-2 style models, random weights from configs (no hub)."""
import pytest
import torch

from sitv_dist.models.loss import check_chunked, chunked_token_nll, token_nll

V = 97


def tiny(kind: str) -> torch.nn.Module:
    import transformers as tf
    common = dict(vocab_size=V, hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
                  num_key_value_heads=2, max_position_embeddings=64)
    if kind == "llama":
        cfg = tf.LlamaConfig(**common, tie_word_embeddings=True)
        cls = tf.LlamaForCausalLM
    elif kind == "gemma3":
        cfg = tf.Gemma3TextConfig(**common, head_dim=8, sliding_window=4, final_logit_softcapping=2.0,
                                  layer_types=["sliding_attention", "full_attention"])
        cls = tf.Gemma3ForCausalLM
    elif kind == "qwen2":
        cfg = tf.Qwen2Config(**common, tie_word_embeddings=False)
        cls = tf.Qwen2ForCausalLM
    else:
        cfg = tf.GPT2Config(vocab_size=V, n_embd=32, n_layer=2, n_head=4, n_positions=64)
        cls = tf.GPT2LMHeadModel
    torch.manual_seed(0)
    model = cls(cfg).eval()
    with torch.no_grad():                       # larger weights: logits far from uniform, caps active
        for p in model.parameters():
            p.mul_(8.0 if p.dim() > 1 else 1.0)
    return model


def batch(seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, V, (5, 23), generator=g)
    lengths = torch.tensor([23, 19, 12, 2, 7])
    mask = (torch.arange(23)[None] < lengths[:, None]).long()
    return ids.masked_fill(mask == 0, 0), mask


@pytest.mark.parametrize("kind", ["llama", "gemma3", "qwen2", "gpt2"])
@pytest.mark.parametrize("chunk", [1, 7, 512])
def test_chunked_equals_full_logits(kind, chunk):
    model = tiny(kind)
    ids, mask = batch()
    with torch.no_grad():
        plain = token_nll(model(input_ids=ids, attention_mask=mask).logits, ids, mask)
        fast = chunked_token_nll(model, ids, mask, chunk)
    assert fast.shape == plain.shape
    assert torch.equal(fast == 0, plain == 0) and bool((mask[:, 1:] == 0).any())   # pads are 0 in both
    per_text = plain.double().sum(1)
    assert float(per_text.min()) > 1.0                                               # real, non-trivial losses
    torch.testing.assert_close(fast.double().sum(1), per_text, rtol=1e-6, atol=0.0)
    torch.testing.assert_close(fast, plain, rtol=1e-5, atol=1e-6)


def test_gemma_softcapping_is_applied():
    model = tiny("gemma3")
    ids, mask = batch()
    with torch.no_grad():
        plain = token_nll(model(input_ids=ids, attention_mask=mask).logits, ids, mask).sum()
        model.config.final_logit_softcapping = None        # the chunked path without the cap is wrong
        uncapped = chunked_token_nll(model, ids, mask, 8).sum()
    assert abs(float(uncapped - plain)) > 1e-3 * abs(float(plain))


def test_check_catches_a_head_it_does_not_know():
    model = tiny("llama")
    ids, mask = batch()
    assert check_chunked(model, ids, mask, 8) == ""
    model.config.final_logit_softcapping = 1.0       # Llama's forward ignores it; the chunked path would not
    assert "differ" in check_chunked(model, ids, mask, 8)


def test_worker_falls_back_to_full_logits_when_the_check_fails(capsys):
    from sitv_dist.sweep.evaluation import Batch, EvalSet, per_text_nll, usable_chunk
    model = tiny("gemma3")
    ids, mask = batch()
    es = EvalSet("general", ["all"] * 5, (mask.sum(1) - 1).numpy(), [Batch(list(range(5)), ids, mask)])
    assert usable_chunk(model, {"general": es}, 16) == 16
    torch.testing.assert_close(torch.from_numpy(per_text_nll(model, es, 16)), torch.from_numpy(per_text_nll(model, es)),
                               rtol=1e-6, atol=0.0)
    broken = tiny("llama")              # a head post-processing the chunked path would apply but the forward does not
    broken.config.final_logit_softcapping = 1.0
    assert usable_chunk(broken, {"general": es}, 16) == 0
    assert "computing full logits instead" in capsys.readouterr().out
