"""The memory plan of a sweep worker, before anything loads (`sitv plan`, and the check
`sitv sweep` runs first).

The model is built on the meta device from its `config.json` (no weights read). A worker
holds, per device: its share of the model, a base copy of every parameter some direction moves
(model dtype), each direction it sweeps (dense: every parameter in `sweep.vector_dtype`, also
for files that do not exist yet; LoRA adapters: their factors, by their real size), and the
activations of one eval batch: the decoder's (hidden states, attention scores and MLP
intermediates of one layer at a time) plus the logits of `eval.logit_chunk` positions (or of
the whole batch) with their fp32 copy and log-softmax, and the fp32 scratch of one parameter
when the model is in lower precision, and a fixed working allowance (WORKING). With
`sweep.resident: host` the base and dense vectors count in host memory instead; with
`devices_per_worker` N the static parts are split N ways.
"""
from __future__ import annotations

import math
import os
from dataclasses import replace
from pathlib import Path

import torch

from ..config import ConfigError, ExperimentConfig
from ..models.loading import DTYPE, local_or_hub, parameters
from ..outdir import OutDir
from ..vectors import lora
from ..vectors.taskvector import direction_file
from .apply import scratch_elements

GIB = 2 ** 30
HEADROOM = 0.92        # of a device's memory: the rest for the CUDA context and allocator fragmentation
WORKING = 32 * 2 ** 20  # a worker's fixed working memory (tokenizer, tokenized sets, allocator arenas):
                        # 20-40 MiB measured on the CPU by bench/memory.py --plan; counted in activations


class DoesNotFit(ConfigError):
    """The plan's worker does not fit its device(s); `sitv plan` and `sitv sweep` exit 3."""
    exit_code = 3


def _meta_model(location: str, cfg: ExperimentConfig):
    from transformers import AutoConfig, AutoModelForCausalLM
    kwargs = {"gguf_file": cfg.model.gguf_file} if cfg.model.gguf_file else {}
    try:
        config = AutoConfig.from_pretrained(local_or_hub(location), **kwargs)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"model.name_or_path: no config.json to plan from at {location!r} ({exc})") from None
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config, dtype=DTYPE[cfg.model.dtype])
    return model, getattr(config, "text_config", None) or config


def _batch_shape(cfg: ExperimentConfig, location: str) -> tuple[int, int]:
    """(tokens of the widest eval batch, most predicted positions in one batch), from the eval
    texts batched as evaluation batches them (sorted by length); without a tokenizer (a bare
    config.json) every text counts as eval.max_length tokens."""
    b, m = cfg.eval.batch_size, cfg.eval.max_length
    local = Path(location).expanduser()
    tokenizer_files = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json")
    if local.is_dir() and not any((local / f).is_file() for f in tokenizer_files):
        return m, b * (m - 1)
    try:
        from ..models.loading import load_tokenizer
        from ..texts import eval_texts
        tok = load_tokenizer(location)
        width = positions = 0
        for texts in eval_texts(cfg).values():
            lengths = sorted((len(tok(t.text, truncation=True, max_length=m)["input_ids"]) for t in texts), reverse=True)
            for start in range(0, len(lengths), b):
                batch = lengths[start:start + b]
                width, positions = max(width, batch[0]), max(positions, sum(max(n - 1, 0) for n in batch))
        return width, positions
    except Exception:  # noqa: BLE001 - texts or tokenizer not at hand: plan for the worst case
        return m, b * (m - 1)


def _activations(cfg: ExperimentConfig, config, width: int, positions: int) -> int:
    b, e = cfg.eval.batch_size, DTYPE[cfg.model.dtype].itemsize
    d = config.hidden_size
    inter = getattr(config, "intermediate_size", None) or getattr(config, "n_inner", None) or 4 * d
    heads = config.num_attention_heads
    vocab = config.vocab_size
    trunk = b * width * (3 * d + 3 * inter) * e + 2 * b * heads * width * width * 4
    if cfg.eval.logit_chunk:          # only predicted (non-pad) positions are projected, a chunk at a time:
        per_position = vocab * (e + (4 if e != 4 else 0) + 4)      # logits, their fp32 copy, log-softmax
        return trunk + min(cfg.eval.logit_chunk, positions) * per_position
    # the model's [batch, seq, vocab] logits, the fp32 copy of logits[:, :-1] (a copy also in fp32:
    # the shifted view is flattened), log-softmax
    return trunk + b * width * vocab * (e + 4 + 4)


def _directions(cfg: ExperimentConfig, out: OutDir, params: dict[str, torch.nn.Parameter]) -> dict:
    """Per swept direction: kind, the parameters it moves, its bytes as held by a worker."""
    ve = DTYPE[cfg.sweep.vector_dtype].itemsize
    shapes = {n: tuple(p.shape) for n, p in params.items()}
    result = {}
    for name in cfg.direction_names():
        path = direction_file(cfg, out, name)
        if lora.is_adapter(path):
            direction = lora.read(path, f"sweep.task_vectors.{name}")
            lora.check_fits(direction, shapes, f"sweep.task_vectors.{name}")
            elements = sum(f.A.numel() + f.B.numel() for f in direction.factors.values())
            result[name] = {"kind": "lora", "moves": sorted(direction.factors), "bytes": elements * ve,
                            "rank": max(f.A.shape[0] for f in direction.factors.values())}
        else:
            result[name] = {"kind": "dense", "moves": list(params), "exists": Path(path).is_file(),
                            "bytes": sum(p.numel() for p in params.values()) * ve}
    return result


def memory_plan(cfg: ExperimentConfig, device_memory: int | None = None, location: str | None = None,
                suggest: bool = True) -> dict:
    """Bytes per worker by part, whether they fit one device (`device_memory` bytes; default
    sweep.device_memory_gib, else this machine's GPU or memory), points and shards."""
    from ..models.location import model_location
    from .plan import make_plan
    location = location or model_location(cfg)
    model, config = _meta_model(location, cfg)
    params = parameters(model)
    e = DTYPE[cfg.model.dtype].itemsize
    out = OutDir(cfg.out_dir)
    dirs = _directions(cfg, out, params)
    moved = set().union(*(set(d["moves"]) for d in dirs.values())) if dirs else set()
    n_params = sum(p.numel() for p in params.values())
    model_bytes = n_params * e + sum(b.numel() * b.element_size() for b in model.buffers())
    base = sum(params[n].numel() for n in moved) * e
    vectors = sum(d["bytes"] for d in dirs.values())
    low_rank = sum(d["bytes"] for d in dirs.values() if d["kind"] == "lora")      # stays on the device
    scratch = max((scratch_elements(params[n].shape) for n in moved), default=0) \
        * DTYPE[cfg.sweep.apply_dtype].itemsize if cfg.model.dtype != cfg.sweep.apply_dtype else 0
    width, positions = _batch_shape(cfg, location)
    activations = _activations(cfg, config, width, positions) + scratch + WORKING
    host = cfg.sweep.resident == "host"
    on_device = model_bytes + (low_rank if host else base + vectors)
    n_dev = cfg.sweep.devices_per_worker
    per_device = math.ceil(on_device / n_dev) + activations
    memory = device_memory or _device_memory(cfg)
    plan = make_plan(cfg, None, cfg.sweep.workers)
    fits = per_device <= memory * HEADROOM
    result = {"parameters": n_params,
              "bytes": {"model": model_bytes, "base": base, "vectors": vectors, "activations": activations,
                        "total": model_bytes + base + vectors + activations},
              "device_memory": memory, "fits": fits, "per_device": per_device, "devices_per_worker": n_dev,
              "host": base + vectors - low_rank if host else 0, "headroom": HEADROOM,
              "points": len(plan.points), "shards": plan.num_shards,
              "eval_batch": {"texts": cfg.eval.batch_size, "tokens": width, "predicted_positions": positions,
                             "logit_chunk": cfg.eval.logit_chunk},
              "settings": {"model.dtype": cfg.model.dtype, "sweep.vector_dtype": cfg.sweep.vector_dtype,
                           "sweep.resident": cfg.sweep.resident, "sweep.devices_per_worker": n_dev},
              "directions": {k: {x: v for x, v in d.items() if x != "moves"} | {"parameters_moved": len(d["moves"])}
                             for k, d in dirs.items()}}
    if not fits and suggest:
        result["suggestions"] = suggestions(cfg, memory, location)
    return result


def _device_memory(cfg: ExperimentConfig) -> int:
    if cfg.sweep.device_memory_gib:
        return int(cfg.sweep.device_memory_gib * GIB)
    if torch.cuda.is_available():
        return torch.cuda.get_device_properties(0).total_memory
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def suggestions(cfg: ExperimentConfig, memory: int, location: str) -> list[str]:
    """Single changes of the config that make the worker fit (each re-planned, not guessed)."""
    tries = []
    if cfg.sweep.vector_dtype == "float32":
        tries.append(("sweep.vector_dtype=bfloat16", replace(cfg, sweep=replace(cfg.sweep, vector_dtype="bfloat16"))))
    if cfg.sweep.resident == "device":
        tries.append(("sweep.resident=host", replace(cfg, sweep=replace(cfg.sweep, resident="host"))))
    tries += [(f"sweep.devices_per_worker={n}", replace(cfg, sweep=replace(cfg.sweep, devices_per_worker=n)))
              for n in (2, 4, 8) if n > cfg.sweep.devices_per_worker]
    batch, smaller = cfg.eval.batch_size // 2, []
    while batch >= 1:
        smaller.append((f"eval.batch_size={batch}", replace(cfg, eval=replace(cfg.eval, batch_size=batch))))
        batch //= 2
    found = []
    for group in ([t] for t in tries):
        label, changed = group[0]
        plan = memory_plan(changed, memory, location, suggest=False)
        if plan["fits"]:
            found.append(f"{label} ({plan['per_device'] / GIB:.1f} GiB per device)")
    for label, changed in smaller:          # the largest batch that fits, if any
        plan = memory_plan(changed, memory, location, suggest=False)
        if plan["fits"]:
            found.append(f"{label} ({plan['per_device'] / GIB:.1f} GiB per device)")
            break
    found.append("LoRA adapters as directions (sweep.task_vectors.NAME: a PEFT adapter directory): the base copy "
                 "and the vectors cover only the adapted weights")
    return found


def render(plan: dict) -> str:
    """The plan as text (`sitv plan` without --json)."""
    b = plan["bytes"]
    gib = lambda x: f"{x / GIB:8.2f} GiB" if x >= GIB / 10 or not x else f"{x / 2 ** 20:8.1f} MiB"   # noqa: E731
    lines = [f"parameters      {plan['parameters']:,}",
             f"model           {gib(b['model'])}   ({plan['settings']['model.dtype']})",
             f"base copy       {gib(b['base'])}   (parameters some direction moves)",
             f"vectors         {gib(b['vectors'])}   ({len(plan['directions'])} direction(s): "
             + ", ".join(f"{k} {d['kind']}" + (f" r{d['rank']}" if d["kind"] == "lora" else "")
                         for k, d in plan["directions"].items()) + ")",
             f"activations     {gib(b['activations'])}   (batch {plan['eval_batch']['texts']} x "
             f"{plan['eval_batch']['tokens']} tokens, logit_chunk {plan['eval_batch']['logit_chunk']})",
             f"total           {gib(b['total'])}"]
    if plan["host"]:
        lines.append(f"in host memory  {gib(plan['host'])}   (sweep.resident: host)")
    lines += [f"per device      {gib(plan['per_device'])}   ({plan['devices_per_worker']} device(s) per worker; "
              f"device memory {plan['device_memory'] / GIB:.1f} GiB, {plan['headroom']:.0%} usable)",
              f"points          {plan['points']} in {plan['shards']} shard(s)",
              "fits            " + ("yes" if plan["fits"] else "NO")]
    for s in plan.get("suggestions", []):
        lines.append(f"  would fit with: {s}")
    return "\n".join(lines)


def check(cfg: ExperimentConfig, location: str) -> dict:
    """`sitv sweep`'s check before loading: DoesNotFit with the plan's text when it does not."""
    plan = memory_plan(cfg, location=location)
    if not plan["fits"]:
        raise DoesNotFit("the sweep worker does not fit its device (`sitv plan` for details):\n" + render(plan))
    return plan
