"""Task vectors T = M_ft − M_base over parameters (tied weights counted once), stored as
safetensors with metadata, and checked against the model they are applied to."""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from ..config import ConfigError, ModelConfig
from ..config import ExperimentConfig
from ..io import named_os_error, new_file_mode, os_error
from ..models.loading import DTYPE, load_model, local_or_hub, parameters
from ..outdir import OutDir


@torch.no_grad()
def difference(base: torch.nn.Module, finetuned: torch.nn.Module) -> dict[str, torch.Tensor]:
    """ft − base for every (deduplicated) parameter of the base, computed in float32."""
    b, f = parameters(base), parameters(finetuned)
    if set(b) != set(f):
        missing, extra = sorted(set(b) - set(f)), sorted(set(f) - set(b))
        raise ConfigError(f"finetuned: parameter names differ from the base (missing {missing[:5]}, "
                          f"extra {extra[:5]}); both checkpoints must share one architecture")
    out = {}
    for name, p in b.items():
        if p.shape != f[name].shape:
            raise ConfigError(f"finetuned: {name} has shape {tuple(f[name].shape)}, base {tuple(p.shape)}")
        out[name] = f[name].detach().float().cpu() - p.detach().float().cpu()
    return out


def content_hash(tensors: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for name in sorted(tensors):
        h.update(name.encode())
        h.update(tensors[name].contiguous().view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:32]


def save(path: Path, tensors: dict[str, torch.Tensor], base_id: str, finetuned_id: str,
         dtype: str = "float32", extra: dict[str, str] | None = None) -> dict:
    """Write T (optionally cast) with metadata: ids, dtype, global and per-tensor norms, and
    ``extra`` string entries (e.g. how a derived direction was made; they cannot replace the
    standard keys)."""
    tensors = {k: v.to(DTYPE[dtype]).contiguous() for k, v in tensors.items()}
    norms = {k: float(v.double().norm()) for k, v in tensors.items()}
    meta = {"format": "sitv-dist/task-vector/1", "base": base_id, "finetuned": finetuned_id, "dtype": dtype,
            "global_norm": repr(sum(n * n for n in norms.values()) ** 0.5),
            "tensor_norms": json.dumps(norms), "num_parameters": str(sum(v.numel() for v in tensors.values())),
            "content_hash": content_hash(tensors)}
    for key, value in (extra or {}).items():
        if key in meta:
            raise ValueError(f"extra metadata key {key!r} would replace a standard key")
        meta[str(key)] = str(value)
    needed = sum(v.numel() * v.element_size() for v in tensors.values())
    path.parent.mkdir(parents=True, exist_ok=True)
    try:        # a hidden temp name of its own (as sitv_dist.io writes), fsynced, then renamed
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
    except OSError as exc:
        raise named_os_error(exc.errno, path, needed) from exc
    tmp = Path(name)
    try:
        save_file(tensors, str(tmp), metadata=meta)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, new_file_mode())
        tmp.replace(path)
    except (SafetensorError, OSError) as exc:   # safetensors reports a full disk as its own error type
        tmp.unlink(missing_ok=True)
        named = named_os_error(exc.errno, path, needed) if isinstance(exc, OSError) and exc.errno \
            else os_error(exc, path, needed)
        if named is exc:
            raise
        raise named from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return meta


def _open(path: Path, key: str):
    """safe_open with a one-line error naming the config key when the file is not a (complete)
    safetensors file."""
    try:
        return safe_open(str(path), framework="pt")
    except FileNotFoundError:
        raise ConfigError(f"{key}: {path} does not exist") from None
    except Exception as exc:      # SafetensorError: bad header, truncated data, not safetensors at all
        raise ConfigError(f"{key}: {path} is not a readable safetensors file ({str(exc).splitlines()[0]}); "
                          "recompute it with `sitv taskvector` or `sitv finetune`") from None


def read_metadata(path: Path, key: str = "task vector") -> dict:
    with _open(path, key) as f:
        return dict(f.metadata() or {})


def _check_fits(path: Path, names_shapes: dict[str, tuple], expected: dict[str, tuple], key: str) -> None:
    missing, extra = sorted(set(expected) - set(names_shapes)), sorted(set(names_shapes) - set(expected))
    if missing or extra:
        raise ConfigError(f"{key}: task vector {path} does not fit the model: missing {missing[:5]}"
                          f"{' …' if len(missing) > 5 else ''}, unexpected {extra[:5]}"
                          f"{' …' if len(extra) > 5 else ''}; compute it from this base model")
    for name, shape in expected.items():
        if names_shapes[name] != shape:
            raise ConfigError(f"{key}: tensor {name} has shape {names_shapes[name]} but the model's is {shape}")


def file_shapes(path: Path, key: str = "task vector") -> dict[str, tuple]:
    """Names and shapes stored in a safetensors file, read from its header only (a file whose
    data is shorter than its header says is refused here too)."""
    with _open(path, key) as f:
        return {name: tuple(f.get_slice(name).get_shape()) for name in f.keys()}


def config_shapes(config) -> dict[str, tuple]:
    """Parameter names and shapes of a model from its transformers config (meta device, no weights)."""
    from transformers import AutoModelForCausalLM
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    return {n: tuple(p.shape) for n, p in parameters(model).items()}


def model_shapes(location: str, gguf_file: str = "") -> dict[str, tuple]:
    """Parameter names and shapes of a model, from its config alone (meta device, no weights)."""
    from transformers import AutoConfig
    return config_shapes(AutoConfig.from_pretrained(local_or_hub(location),
                                                    **({"gguf_file": gguf_file} if gguf_file else {})))


def check_fits(path: Path, shapes: dict[str, tuple], key: str) -> None:
    """Fail before any weights load if T's names or shapes do not match the model's `shapes`."""
    _check_fits(path, file_shapes(path, key), shapes, key)


def load(path: Path, model: torch.nn.Module, key: str, device: torch.device | None,
         dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    """Load T for `model`, failing (naming `key`) if names or shapes do not match. `device`
    None: each tensor on its parameter's device (a model placed over several devices)."""
    params = parameters(model)
    _check_fits(path, file_shapes(path, key), {n: tuple(p.shape) for n, p in params.items()}, key)
    with _open(path, key) as f:
        return {name: f.get_tensor(name).to(device=device or p.device, dtype=dtype) for name, p in params.items()}


def from_checkpoints(base_location: str, finetuned_location: str, out: Path, dtype: str = "float32",
                     gguf_file: str = "") -> dict:
    """The `sitv taskvector` command: any two checkpoints (hub ids or local paths) → safetensors."""
    cfg = ModelConfig(name_or_path=base_location, gguf_file=gguf_file, dtype="float32", device="cpu")
    base = load_model(base_location, cfg)
    ft = load_model(finetuned_location, ModelConfig(name_or_path=finetuned_location, dtype="float32", device="cpu"))
    return save(out, difference(base, ft), base_location, finetuned_location, dtype)


def direction_files(cfg: ExperimentConfig, out: OutDir) -> dict[str, Path]:
    """Direction name -> file for every swept direction: sweep.task_vectors first, else the
    run's own OUT/task_vectors/<name>.safetensors."""
    return {name: direction_file(cfg, out, name) for name in cfg.direction_names()}


def direction_file(cfg: ExperimentConfig, out: OutDir, name: str) -> Path:
    explicit = cfg.sweep.task_vectors.get(name)
    return Path(explicit).expanduser() if explicit else out.task_vector(name)
