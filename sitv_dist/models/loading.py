"""Load a causal LM and its tokenizer from a local directory or a hub id: dtypes, devices,
the pad token, and the parameters a task vector covers (tied weights counted once)."""
from __future__ import annotations

import os
from pathlib import Path

import torch

from ..config import ModelConfig

DTYPE = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def resolve_device(spec: str = "auto") -> torch.device:
    """'auto' picks cuda:LOCAL_RANK when a GPU is visible, else the CPU."""
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)) % torch.cuda.device_count())
        return torch.device("cpu")
    return torch.device(spec)


def local_or_hub(location: str) -> str:
    """A local directory (with ~ expanded), or the string as a hub id."""
    path = Path(location).expanduser()
    return str(path) if path.is_dir() else location


def load_tokenizer(location: str):
    from transformers import AutoTokenizer
    return with_pad_token(AutoTokenizer.from_pretrained(local_or_hub(location)))


def with_pad_token(tok):
    """A tokenizer without a pad token is normal: padding is masked, so EOS (or id 0) pads."""
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token if tok.eos_token is not None else tok.convert_ids_to_tokens(0)
    return tok


def load_model(location: str, model_cfg: ModelConfig, device: torch.device | None = None,
               dtype: str | None = None) -> torch.nn.Module:
    from transformers import AutoModelForCausalLM
    kwargs = {"dtype": DTYPE[dtype or model_cfg.dtype]}
    if model_cfg.gguf_file:
        kwargs["gguf_file"] = model_cfg.gguf_file
    model = AutoModelForCausalLM.from_pretrained(local_or_hub(location), **kwargs)
    model.config.use_cache = False
    return model.to(device or resolve_device(model_cfg.device)).eval()


def parameters(model: torch.nn.Module) -> dict[str, torch.nn.Parameter]:
    """Named parameters with tied weights counted once (the first name wins)."""
    return dict(model.named_parameters(remove_duplicate=True))


def is_local(location: str) -> bool:
    return Path(location).expanduser().is_dir()
