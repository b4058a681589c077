"""The memory of each phase of `sitv run`, before anything loads (`sitv plan`): on a CPU, the
peak RSS of the process that runs it, so that the run's peak (OUT/peak_memory.json,
`/usr/bin/time -v`) can be held to it. Each term names what is resident at the phase's peak;
the constants were measured on Gemma-3-270M and the embedded model (docs/gemma3-270m.md
compares this estimate with a run's recorded peaks).

- every process: Python with torch, transformers and sitv imported and computing (RUNTIME) and
  the loaded tokenizer (TOKENIZER_PER_TOKEN bytes per vocabulary entry).
- fine-tuning (AdamW in float32, one process): 16 bytes per parameter (weights, gradients, two
  moments) and, at the backward pass, the kept activations of a finetune.batch_size ×
  finetune.max_length batch with its logits (value, softmax, gradient), plus the largest
  parameter's second gradient when the embedding is tied to the head (its two contributions
  are summed); or, at the optimizer step, two temporaries of the largest parameter (AdamW's
  per-tensor denominator on a CPU). The larger of the two.
- sweep: `memory_plan`'s worker (model, base copy, vectors, one batch's activations) plus the
  process, times `sweep.workers` when the workers share this host.
- derivatives (float32, one process: :mod:`.derivatives`): the model and every swept direction
  (dense float32: a LoRA direction is densified, counted here as dense, an upper bound), and
  the larger of (a) a nested-jvp pass: one random control and a chunk of the loss
  (eval.logit_chunk // 4 positions: CHUNK_LOGITS [chunk, vocab] float32 tensors and
  CHUNK_HEAD head-weight-sized ones, with the decoder's activations four values each), and
  (b) drawing the second random control while the first is still held: the Gaussian in
  float64 (two vectors' worth) and the largest tensor of the reference in float64 twice
  (:func:`..vectors.ops.random_control.random_direction` squares it to match the norm).
On a GPU the phases' bytes are device memory and the host's RSS is not estimated.
"""
from __future__ import annotations

from ..config import ExperimentConfig
from ..sweep.derivative_jobs import CONTROLS

GIB = 2 ** 30
# A `sitv run` process beyond its model's tensors: its imports (torch 2.13 CPU, transformers,
# accelerate, deepspeed: 0.25-0.28 GiB) and the working memory of the libraries and the allocator
# once it computes: the embedded model's whole run (< 1 M parameters) peaks at 0.52-0.60 GiB RSS.
RUNTIME = int(0.5 * GIB)
TOKENIZER_PER_TOKEN = 1300      # Gemma-3's fast tokenizer (262,144 entries) adds 0.32 GiB of RSS once loaded
# one chunk of the nested-jvp loss (cross-entropy of hidden @ W.T with tangents in both factors),
# torch 2.13 CPU, peak RSS over chunks of 64 and 128 positions: 10.2 [chunk, vocab] + 0.4 [vocab, d]
CHUNK_LOGITS, CHUNK_HEAD = 10, 0.4


def on_host(cfg: ExperimentConfig) -> bool:
    import torch
    return cfg.model.device == "cpu" or (cfg.model.device == "auto" and not torch.cuda.is_available())


def process_bytes(arch) -> int:
    """RSS of a `sitv` process with the model's tokenizer loaded and no model yet."""
    return RUNTIME + TOKENIZER_PER_TOKEN * arch.vocab_size


def _largest(arch) -> int:
    """Elements of the largest parameter (the embedding, or an MLP matrix)."""
    d = arch.hidden_size
    return max(arch.vocab_size * d, (getattr(arch, "intermediate_size", None) or 4 * d) * d)


def finetune_bytes(cfg: ExperimentConfig, n: int, arch) -> int:
    ft, d = cfg.finetune, arch.hidden_size
    inter = getattr(arch, "intermediate_size", None) or 4 * d
    layers, heads, vocab = arch.num_hidden_layers, arch.num_attention_heads, arch.vocab_size
    tokens = ft.batch_size * ft.max_length
    kept = layers * (tokens * (8 * d + 3 * inter) * 4 + ft.batch_size * heads * ft.max_length ** 2 * 4 * 2)
    tied = _largest(arch) * 4 if getattr(arch, "tie_word_embeddings", False) else 0
    backward = kept + tokens * vocab * 4 * 3 + tied
    step = 2 * _largest(arch) * 4
    return 16 * n + max(backward, step)


def derivatives_bytes(cfg: ExperimentConfig, n: int, arch, directions: int, lines: int) -> int:
    """The derivatives stage without its process (module docstring); `directions`: distinct swept
    directions, `lines`: lines (each gets CONTROLS random controls)."""
    d, vocab = arch.hidden_size, arch.vocab_size
    inter = getattr(arch, "intermediate_size", None) or 4 * d
    vector = 4 * n
    resident = 4 * n + directions * vector
    e = cfg.eval
    chunk = max(1, e.logit_chunk // 4) if e.logit_chunk else e.batch_size * e.max_length
    trunk = e.batch_size * e.max_length * (3 * d + 3 * inter) * 4 \
        + 2 * e.batch_size * arch.num_attention_heads * e.max_length ** 2 * 4
    loss = int(CHUNK_LOGITS * chunk * vocab * 4 + CHUNK_HEAD * vocab * d * 4) + 4 * trunk
    controls = CONTROLS if lines else 0
    jvp_pass = resident + (vector if controls else 0) + loss
    draw = resident + (vector if controls >= 2 else 0) + 2 * vector + 2 * _largest(arch) * 8 if controls else 0
    return max(jvp_pass, draw)


def phase_memory(cfg: ExperimentConfig, memory: dict, arch, plan=None, train: bool = True, evaluate: bool = True,
                 derive: bool = True) -> dict:
    """Bytes of each phase (module docstring); ``memory`` is `memory_plan`'s result, ``plan`` the
    sweep plan (its directions and lines; None: cfg's directions, one line each); ``train``,
    ``evaluate``, ``derive``: whether fine-tuning, sweep points, derivative entries are left to
    do (a phase with nothing left is no part of this run's peak)."""
    n = memory["parameters"]
    host = on_host(cfg)
    process = process_bytes(arch) if host else 0
    workers = cfg.sweep.workers if host else 1
    if plan is not None:
        names = {x for s in plan.sweeps for x in s.directions}
        lines = sum(1 for s in plan.sweeps if s.kind == "line")
    else:
        names, lines = set(cfg.direction_names()), len(cfg.direction_names())
    sweep = (memory["per_device"] + process) * workers
    derivatives = process + derivatives_bytes(cfg, n, arch, len(names), lines) if cfg.sweep.derivatives else 0
    finetune = process + finetune_bytes(cfg, n, arch)
    counted = [b for b, left in ((sweep, evaluate), (derivatives, derive), (finetune, train)) if left]
    notes = []
    if not host:
        notes.append("device memory of a GPU; the host's RSS is not estimated")
    if any(d.get("kind") == "lora" for d in (memory.get("directions") or {}).values()):
        notes.append("LoRA directions counted dense in the derivatives (an upper bound)")
    if host and workers > 1:
        notes.append(f"the sweep's {workers} worker processes together (each one's RSS is a {workers}th)")
    return {"sweep": sweep, "sweep_workers_on_host": workers, "derivatives": derivatives, "finetune": finetune,
            "process": process, "peak": max(counted, default=0),
            "left_to_run": {"finetune": train, "sweep": evaluate, "derivatives": derive},
            "basis": "peak RSS of the host" if host else "device memory", "notes": notes}
