"""Time per point on one device, split into the parameter update and the forward passes, with
the update's memory bandwidth and the forward passes' arithmetic rate against the card's peak.

Default: a Llama-3.2-1B-shaped model (random weights from a config: 1.24 B parameters) in
bfloat16, the task vector in float32 and the update formed in float32 (the engine's GPU
default), about 10k eval tokens. Runs on the CPU too (use a small --hidden/--layers there).

    python bench/device.py                          # on a GPU node
    python bench/device.py --device cpu --hidden 256 --layers 4 --vocab 8192 --tokens 2048 --points 5

Peaks are looked up by GPU name (table below) or given with --peak-gbps/--peak-tflops.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from sitv_dist.sweep.apply import PointWriter
from sitv_dist.sweep.evaluation import Batch, EvalSet, per_text_nll
from sitv_dist.models.loading import DTYPE, parameters

# GPU name fragment -> (memory GB/s, dense bf16 TFLOP/s), vendor data sheets.
PEAKS = {"H200": (4800, 989), "H100 80GB HBM3": (3350, 989), "H100 PCIe": (2000, 756), "H100": (3350, 989),
         "A100-SXM4-80GB": (2039, 312), "A100-SXM4-40GB": (1555, 312), "A100": (1935, 312), "L40S": (864, 362),
         "L4": (300, 121), "RTX 4090": (1008, 165), "V100": (900, 125)}


def build_model(args, device: torch.device) -> torch.nn.Module:
    from transformers import LlamaConfig, LlamaForCausalLM
    config = LlamaConfig(vocab_size=args.vocab, hidden_size=args.hidden, intermediate_size=args.intermediate or 4 * args.hidden,
                         num_hidden_layers=args.layers, num_attention_heads=args.heads, num_key_value_heads=args.kv_heads,
                         max_position_embeddings=max(2048, args.seq), tie_word_embeddings=True)
    torch.manual_seed(0)
    with torch.device(device):
        model = LlamaForCausalLM(config).to(DTYPE[args.dtype])
    model.config.use_cache = False
    return model.eval()


def eval_set(args, device: torch.device) -> EvalSet:
    """Random token sequences of full length (`tokens` in all), in batches as the engine cuts them."""
    gen = torch.Generator().manual_seed(0)
    texts = max(1, args.tokens // args.seq)
    ids = torch.randint(0, args.vocab, (texts, args.seq), generator=gen)
    batches = [Batch(list(range(s, min(s + args.batch, texts))), ids[s:s + args.batch].to(device),
                     torch.ones_like(ids[s:s + args.batch]).to(device)) for s in range(0, texts, args.batch)]
    return EvalSet("random", ["random"] * texts, np.full(texts, args.seq - 1), batches)


def forward_flops(model: torch.nn.Module, args, tokens: int) -> float:
    """2 FLOP per weight per token (matmuls, the tied LM head counted as a matmul) plus causal
    attention scores and values (2·2·seq/2·hidden per token and layer)."""
    body = sum(p.numel() for n, p in parameters(model).items() if p.dim() == 2 and "embed" not in n)
    head = args.vocab * args.hidden
    attention = 2 * 2 * (args.seq / 2) * args.hidden * args.layers
    return tokens * (2 * (body + head) + attention)


def update_bytes(model: torch.nn.Module, vector_dtype: torch.dtype, apply_dtype: torch.dtype) -> int:
    """Bytes the update moves: read base and T, write the parameter (via an apply-dtype scratch
    buffer, written and read once more, when the model is in lower precision)."""
    total = 0
    for p in parameters(model).values():
        n, own = p.numel(), p.element_size()
        scratch = 2 * n * torch.finfo(apply_dtype).bits // 8 if p.dtype != apply_dtype else 0
        total += n * own + n * torch.finfo(vector_dtype).bits // 8 + n * own + scratch
    return total


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", default="bfloat16", choices=sorted(DTYPE))
    parser.add_argument("--vector-dtype", default="float32", choices=sorted(DTYPE))
    parser.add_argument("--apply-dtype", default="float32", choices=sorted(DTYPE))
    parser.add_argument("--hidden", type=int, default=2048)
    parser.add_argument("--intermediate", type=int, default=8192)
    parser.add_argument("--layers", type=int, default=16)
    parser.add_argument("--heads", type=int, default=32)
    parser.add_argument("--kv-heads", type=int, default=8)
    parser.add_argument("--vocab", type=int, default=128256)
    parser.add_argument("--tokens", type=int, default=10240, help="eval tokens per point")
    parser.add_argument("--seq", type=int, default=256)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--points", type=int, default=20)
    parser.add_argument("--peak-gbps", type=float, default=0.0)
    parser.add_argument("--peak-tflops", type=float, default=0.0)
    args = parser.parse_args()
    device = torch.device(args.device)
    model = build_model(args, device)
    params = parameters(model)
    n_params = sum(p.numel() for p in params.values())
    gen = torch.Generator(device=device).manual_seed(1)
    T = {n: (torch.randn(p.shape, generator=gen, device=device) * 1e-3).to(DTYPE[args.vector_dtype])
         for n, p in params.items()}
    writer = PointWriter(model, {"t": T}, DTYPE[args.apply_dtype])
    es = eval_set(args, device)
    tokens = int(len(es.categories) * args.seq)
    alphas = np.linspace(-0.5, 1.5, args.points + 2)
    t_apply, t_fwd = [], []
    for i, a in enumerate(alphas):
        sync(device)
        t0 = time.perf_counter()
        writer.apply({"t": float(a)})
        sync(device)
        t1 = time.perf_counter()
        nll = per_text_nll(model, es)
        sync(device)
        t2 = time.perf_counter()
        assert np.isfinite(nll).all()
        if i >= 2:                                            # two warm-up points
            t_apply.append(t1 - t0)
            t_fwd.append(t2 - t1)
    apply_s, fwd_s = float(np.median(t_apply)), float(np.median(t_fwd))
    point_s = apply_s + fwd_s
    gbps = update_bytes(model, DTYPE[args.vector_dtype], DTYPE[args.apply_dtype]) / apply_s / 1e9
    tflops = forward_flops(model, args, tokens) / fwd_s / 1e12
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
    peak_gbps, peak_tflops = args.peak_gbps, args.peak_tflops
    for fragment, (gb, tf) in PEAKS.items():
        if fragment in name and not (peak_gbps or peak_tflops):
            peak_gbps, peak_tflops = gb, tf
            break
    of = lambda x, peak: f" = {x / peak:.0%} of {peak:g}" if peak else ""    # noqa: E731
    print(f"\n{name}; {time.strftime('%Y-%m-%d')}; torch {torch.__version__}")
    print(f"model: {n_params / 1e9:.3f} B parameters in {args.dtype}, task vector in {args.vector_dtype}, "
          f"update in {args.apply_dtype}; {tokens} eval tokens per point ({len(es.batches)} batches of "
          f"{args.batch}×{args.seq}); median of {len(t_apply)} points")
    print(f"time per point          {point_s * 1e3:10.1f} ms")
    print(f"  parameter update      {apply_s * 1e3:10.1f} ms  ({apply_s / point_s:.1%})  {gbps:8.1f} GB/s{of(gbps, peak_gbps)}")
    print(f"  forward passes        {fwd_s * 1e3:10.1f} ms  ({fwd_s / point_s:.1%})  {tflops:8.2f} TFLOP/s"
          f"{of(tflops, peak_tflops)}")
    print(f"1D sweep throughput     {3600 / point_s:10.0f} points/h; a 100-point line with squaring and "
          f"compositional curves (~300 points) in {300 * point_s / 60:.1f} min")
    if device.type == "cuda":
        print(f"peak GPU memory         {torch.cuda.max_memory_allocated(device) / 2 ** 30:10.2f} GiB")


if __name__ == "__main__":
    main()
