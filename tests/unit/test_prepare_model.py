"""scripts/prepare_model.py on a tiny Llama GGUF written here with the `gguf` package
(byte-level BPE tokenizer, F32 tensors, no output.weight: tied embeddings, as SmolLM2):
no 93 MB package needed. Skipped when `gguf` is not installed."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

gguf = pytest.importorskip("gguf")

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "prepare_model.py"
HIDDEN, FFN, HEADS, KV_HEADS, LAYERS = 16, 32, 2, 1, 2


@pytest.fixture(scope="module")
def prep():
    spec = importlib.util.spec_from_file_location("prepare_model", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_tiny_gguf(path: Path) -> None:
    from transformers.convert_slow_tokenizer import bytes_to_unicode
    byte_chars = list(bytes_to_unicode().values())
    merges = ["Ġ t", "h e", "Ġt he", "i s"]
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tokens = specials + byte_chars + [m.replace(" ", "") for m in merges]
    types = [3] * len(specials) + [1] * (len(tokens) - len(specials))     # 3: control, 1: normal
    rng = np.random.default_rng(0)
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_context_length(64)
    w.add_embedding_length(HIDDEN)
    w.add_block_count(LAYERS)
    w.add_feed_forward_length(FFN)
    w.add_head_count(HEADS)
    w.add_head_count_kv(KV_HEADS)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_dimension_count(HIDDEN // HEADS)
    w.add_rope_freq_base(10000.0)
    w.add_vocab_size(len(tokens))
    w.add_tokenizer_model("gpt2")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_pad_token_id(2)
    w.add_unk_token_id(0)
    head_dim = HIDDEN // HEADS

    def t(*shape):
        return (0.2 * rng.standard_normal(shape)).astype(np.float32)

    w.add_tensor("token_embd.weight", t(len(tokens), HIDDEN))
    w.add_tensor("output_norm.weight", np.ones(HIDDEN, np.float32))
    for i in range(LAYERS):
        w.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(HIDDEN, np.float32))
        w.add_tensor(f"blk.{i}.attn_q.weight", t(HEADS * head_dim, HIDDEN))
        w.add_tensor(f"blk.{i}.attn_k.weight", t(KV_HEADS * head_dim, HIDDEN))
        w.add_tensor(f"blk.{i}.attn_v.weight", t(KV_HEADS * head_dim, HIDDEN))
        w.add_tensor(f"blk.{i}.attn_output.weight", t(HIDDEN, HEADS * head_dim))
        w.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(HIDDEN, np.float32))
        w.add_tensor(f"blk.{i}.ffn_gate.weight", t(FFN, HIDDEN))
        w.add_tensor(f"blk.{i}.ffn_up.weight", t(FFN, HIDDEN))
        w.add_tensor(f"blk.{i}.ffn_down.weight", t(HIDDEN, FFN))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("gguf") / "tiny.gguf"
    write_tiny_gguf(path)
    return path


def test_find_gguf_does_not_import_the_package(prep, tmp_path, monkeypatch):
    pkg = tmp_path / "site" / "fake_smol_pkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("raise ImportError('must not be imported')\n")
    (pkg / "Model.Q4_1.gguf").write_bytes(b"GGUF")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    assert prep.find_gguf("fake_smol_pkg") == pkg / "Model.Q4_1.gguf"
    with pytest.raises(SystemExit, match="not installed"):
        prep.find_gguf("no_such_package_for_sitv")


def test_convert_gives_a_plain_checkpoint_with_the_same_outputs(prep, tiny_gguf, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    out = tmp_path / "plain"
    prep.convert(tiny_gguf, out)
    assert prep.prepared(out)
    config = (out / "config.json").read_text()
    assert "quantization_config" not in config and "gguf" not in config
    assert not list(out.glob("*.gguf")) and (out / "model.safetensors").is_file()

    src = AutoModelForCausalLM.from_pretrained(tiny_gguf.parent, gguf_file=tiny_gguf.name, dtype=torch.float32).eval()
    src_tok = AutoTokenizer.from_pretrained(tiny_gguf.parent, gguf_file=tiny_gguf.name)
    plain = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32).eval()
    tok = AutoTokenizer.from_pretrained(out)
    text = "the cat is there<|im_end|>"
    assert tok(text)["input_ids"] == src_tok(text)["input_ids"]
    assert plain.config.tie_word_embeddings == src.config.tie_word_embeddings
    ids = torch.tensor([tok(text)["input_ids"]])
    with torch.no_grad():
        torch.testing.assert_close(plain(input_ids=ids).logits, src(input_ids=ids).logits, rtol=0, atol=0)
    # a generation check runs on it (a random model does not say "Rome", so only the call is checked)
    assert isinstance(prep.check(out, max_new_tokens=2), str)


def test_main_is_idempotent(prep, tiny_gguf, tmp_path, capsys):
    out = tmp_path / "plain"
    rc = prep.main(["--gguf", str(tiny_gguf), "--out", str(out)])
    assert rc == 1                       # converted, but a random model fails the "Rome" check
    stamp = (out / "model.safetensors").stat().st_mtime_ns
    capsys.readouterr()
    prep.main(["--gguf", str(tiny_gguf), "--out", str(out)])
    assert "nothing to do" in capsys.readouterr().out
    assert (out / "model.safetensors").stat().st_mtime_ns == stamp


def test_gemma3_gguf_is_reassembled_by_its_package(prep, tmp_path, monkeypatch):
    """The gemma3 entry asks its package to write the GGUF (chunked wheels) into a cache beside
    the output, then converts that file like any other."""
    pkg = tmp_path / "site" / "fake_chunked_gguf"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(
        "from pathlib import Path\nMODEL_NAME = 'm.gguf'\n"
        "def assemble(path):\n    Path(path).parent.mkdir(parents=True, exist_ok=True)\n"
        "    Path(path).write_bytes(b'GGUF'); return Path(path)\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    got = prep.assembled_gguf("fake_chunked_gguf", tmp_path / "cache")
    assert got == tmp_path / "cache" / "m.gguf" and got.read_bytes() == b"GGUF"
    with pytest.raises(SystemExit, match="pip install gguf no-such-gguf-pkg"):
        prep.assembled_gguf("no_such_gguf_pkg", tmp_path / "cache")
    converted = []
    monkeypatch.setattr(prep, "convert", lambda gguf, out: converted.append((gguf, out)))
    monkeypatch.setattr(prep, "check", lambda out, n, prompt: " the capital of the country of France.")
    monkeypatch.setitem(prep.MODELS, "gemma3-270m", prep.MODELS["gemma3-270m"]._replace(package="fake_chunked_gguf"))
    assert prep.main(["--model", "gemma3-270m", "--out", str(tmp_path / "g")]) == 0
    assert converted == [(tmp_path / ".g-gguf" / "m.gguf", (tmp_path / "g").resolve())]


def test_default_output_honours_sitv_cache(prep, monkeypatch, tmp_path):
    monkeypatch.setenv("SITV_CACHE", str(tmp_path / "cache"))
    assert prep.default_out(prep.MODELS["gemma3-270m"]) == tmp_path / "cache" / "gemma3-270m"
    monkeypatch.delenv("SITV_CACHE")
    assert prep.default_out(prep.MODELS["smollm2"]) == Path("~/.cache/sitv-dist/smollm2-135m-instruct").expanduser()


def test_shipped_configs_find_the_prepared_model_under_sitv_cache(tmp_path, monkeypatch):
    """#24: configs/gemma3-270m.yaml (and smollm2's) name the model as `$SITV_CACHE/<dir>`, the
    folder scripts/prepare_model.py writes; no shipped config or script hard-codes ~/.cache."""
    import yaml

    from sitv_dist.config.experiment import ModelConfig, expand_cache
    repo = Path(__file__).resolve().parents[2]
    monkeypatch.setenv("SITV_CACHE", str(tmp_path / "cache"))
    for name, folder in (("gemma3-270m.yaml", "gemma3-270m"), ("smollm2-135m.yaml", "smollm2-135m-instruct")):
        raw = yaml.safe_load((repo / "configs" / name).read_text())["model"]["name_or_path"]
        assert ModelConfig(name_or_path=raw).name_or_path == str(tmp_path / "cache" / folder)
    monkeypatch.delenv("SITV_CACHE")
    assert expand_cache("${SITV_CACHE}/m") == "~/.cache/sitv-dist/m" and expand_cache("$SITV_CACHEX/m") == "$SITV_CACHEX/m"
    for path in list((repo / "configs").glob("*.yaml")) + list((repo / "scripts").glob("*.py")):
        for line in path.read_text().splitlines():
            if "~/.cache" in line:
                assert "SITV_CACHE" in line, f"{path.name}: {line.strip()}"   # only as the documented fallback
