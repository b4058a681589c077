"""Peak resident memory of one sweep worker vs model size, and what keeping task vectors in
lower precision saves and costs, measured side by side in one run.

Part 1 (memory): for Llama-style models of several sizes (random weights from a config, the
embedded tokenizer) and, if prepared, SmolLM2-135M, each setting runs in a fresh process:
  after imports -> Worker built (model + base copy + task vectors + tokenized sets) -> points
  evaluated. The process's RSS is read at each step (VmRSS) and its peak (VmHWM, reset after
  the build so that the evaluation peak is its own). Printed beside the bytes the design
  predicts: model + base copy (model dtype) + task vectors (vector dtype).

Part 2 (accuracy): the embedded model and a short sentiment_positive fine-tune, one line of
α, with the task vector kept in float32, bfloat16 and float16 (and, for scale, the model
itself in bfloat16): the largest change of the general and task loss against float32.

Part 3 (`--plan`, alone): `sitv plan`'s prediction beside the measured peak of the same worker,
for dense task vectors, rank-16 LoRA adapters and full (unchunked) logits, on the random models
and, if prepared, SmolLM2-135M and Gemma-3-270M (docs/performance.md §5).

    python bench/memory.py [--hidden 512,1024,1536] [--smollm2 ~/.cache/sitv-dist/smollm2-135m-instruct]
    python bench/memory.py --plan --hidden 512,1024 --smollm2 "" --batch 8 --length 64
    python bench/memory.py --skip-memory --accuracy-model ~/.cache/sitv-dist/smollm2-135m-instruct \
        --accuracy-alphas 9 --accuracy-steps 10            # the accuracy table on SmolLM2-135M
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

GIB = 2 ** 30
CACHE = os.environ.get("SITV_CACHE") or "~/.cache/sitv-dist"      # where scripts/prepare_model.py writes
BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}


def proc_status(key: str) -> int:
    """A /proc/self/status field in bytes (VmRSS, VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(key)


def reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")        # VmHWM := VmRSS (Linux >= 4.0)


def sweep_overrides(model_dir: str, vectors: dict[str, str], texts: int, length: int, batch: int) -> list[str]:
    return [f"model.name_or_path={model_dir}", "tasks=[{name: sentiment_positive}]", f"eval.max_texts={texts}",
            f"eval.max_length={length}", f"eval.batch_size={batch}", f"sweep.task_vectors={json.dumps(vectors)}",
            f"sweep.directions={json.dumps(sorted(vectors))}", "sweep.alpha={start: 0.0, stop: 1.0, num: 3}",
            "sweep.squaring=false", "sweep.compositional=false", "sweep.refine_rounds=0",
            "sweep.grids=" + (json.dumps([{"directions": sorted(vectors), "range": {"start": 0.0, "stop": 1.0, "num": 2}}])
                              if len(vectors) > 1 else "[]"),
            "sweep.threads_per_worker=2"]


def child(spec: dict) -> None:
    """One setting in this (fresh) process; prints one JSON line."""
    import torch
    from sitv_dist.stages import sweep as pipeline
    from sitv_dist.config import load_config
    from sitv_dist.sweep.worker import Worker
    import transformers.models.llama.modeling_llama  # noqa: F401  (library code is not the worker's data)
    from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: F401
    torch.set_num_threads(2)
    cfg = load_config(None, [f"out_dir={spec['out']}", f"model.dtype={spec['model_dtype']}",
                             f"sweep.vector_dtype={spec['vector_dtype']}"] + spec["overrides"])
    out = Path(spec["out"])
    shutil.rmtree(out, ignore_errors=True)
    plan = pipeline.plan_sweep(cfg, out)
    from sitv_dist.sweep.budget import memory_plan
    planned = memory_plan(cfg, 1 << 40)
    after_imports = proc_status("VmRSS")
    reset_peak()
    worker = Worker(cfg, out, plan, torch.device("cpu"))
    built, build_peak = proc_status("VmRSS"), proc_status("VmHWM")
    reset_peak()
    # points that use every task vector first (a vector file is mapped, and counts once touched)
    points = sorted((p for p in plan.points if any(p.coefficients)),
                    key=lambda p: -sum(c != 0 for c in p.coefficients))[: spec["points"]]
    for point in points:
        worker.evaluate(point)
    print(json.dumps({"after_imports": after_imports, "built": built, "build_peak": build_peak,
                      "eval_peak": proc_status("VmHWM"), "points": len(points), "plan": planned["bytes"],
                      "tokens": int(sum(s.tokens.sum() for s in worker.sets.values()))}))


def run_child(spec: dict) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True, text=True,
                         env=dict(os.environ, OMP_NUM_THREADS="2"))
    if out.returncode != 0:
        raise SystemExit(f"setting {spec} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def random_model(root: Path, tokenizer_dir: str, hidden: int) -> tuple[str, int]:
    """A Llama-style model of the given width (random weights) with the embedded tokenizer."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM
    target = root / f"llama-h{hidden}"
    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    layers = max(2, hidden // 128)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=hidden, intermediate_size=hidden * 8 // 3 // 64 * 64,
                         num_hidden_layers=layers, num_attention_heads=max(1, hidden // 64),
                         num_key_value_heads=max(1, hidden // 64), max_position_embeddings=512, tie_word_embeddings=True)
    if not (target / "config.json").is_file():
        torch.manual_seed(hidden)
        LlamaForCausalLM(config).save_pretrained(target)
        tok.save_pretrained(target)
    return str(target), count_parameters(str(target))


def count_parameters(model_dir: str) -> int:
    from safetensors import safe_open
    total = 0
    for f in Path(model_dir).glob("*.safetensors"):
        with safe_open(str(f), "pt") as st:
            total += sum(math.prod(st.get_slice(k).get_shape()) for k in st.keys())
    return total


def random_vectors(root: Path, model_dir: str, count: int) -> dict[str, str]:
    """Task vectors of the model's shapes with 1 % of each tensor's RMS (the size does not
    matter for memory)."""
    import torch
    from safetensors import safe_open
    from sitv_dist.vectors import taskvector
    paths = {}
    for i in range(count):
        path = root / f"{Path(model_dir).name}-T{i}.safetensors"
        if not path.is_file():
            gen = torch.Generator().manual_seed(i)
            tensors = {}
            for f in Path(model_dir).glob("*.safetensors"):
                with safe_open(str(f), "pt") as st:
                    for k in st.keys():
                        w = st.get_tensor(k).float()
                        tensors[k] = torch.randn(w.shape, generator=gen) * (0.01 * w.pow(2).mean().sqrt() + 1e-4)
            tensors.pop("lm_head.weight", None)                # tied to the embedding
            taskvector.save(path, tensors, model_dir, f"random-{i}")
        paths[f"t{i}"] = str(path)
    return paths


def memory_table(args) -> None:
    from sitv_dist.config import load_config
    from sitv_dist.stages.prepare import prepare_base
    root = Path(args.out)
    root.mkdir(parents=True, exist_ok=True)
    tokenizer_dir = prepare_base(load_config(None, []))
    models = [random_model(root, tokenizer_dir, int(h)) for h in args.hidden.split(",") if h]
    smol = Path(args.smollm2).expanduser()
    if args.smollm2 and (smol / "config.json").is_file():
        models.append((str(smol), count_parameters(str(smol))))
    settings = [("float32", "float32", 1), ("float32", "float32", 2), ("float32", "bfloat16", 2),
                ("bfloat16", "bfloat16", 2)]
    print(f"\nPeak RSS of one sweep worker (CPU, 2 threads), {args.texts} texts per set, length {args.length}, "
          f"batch {args.batch}; {time.strftime('%Y-%m-%d')}; {os.cpu_count()} CPUs")
    print(f"{'model':<24}{'params':>8}{'model':>9}{'vectors':>9}{'#T':>4}{'imports':>9}{'predicted':>10}"
          f"{'built':>8}{'build pk':>9}{'eval pk':>9}{'pk-pred.':>9}")
    for model_dir, n in models:
        for model_dtype, vector_dtype, count in settings:
            vectors = random_vectors(root, model_dir, count)
            spec = {"out": str(root / "sweep"), "model_dtype": model_dtype, "vector_dtype": vector_dtype,
                    "points": args.points, "overrides": sweep_overrides(model_dir, vectors, args.texts, args.length,
                                                                        args.batch)}
            r = run_child(spec)
            static = n * (2 * BYTES[model_dtype] + count * BYTES[vector_dtype])
            eval_peak = r['eval_peak'] - r['after_imports']
            print(f"{Path(model_dir).name[:23]:<24}{n / 1e6:>7.0f}M{model_dtype:>9}{vector_dtype:>9}{count:>4}"
                  f"{r['after_imports'] / GIB:>9.2f}{static / GIB:>10.2f}{(r['built'] - r['after_imports']) / GIB:>8.2f}"
                  f"{(r['build_peak'] - r['after_imports']) / GIB:>9.2f}{eval_peak / GIB:>9.2f}"
                  f"{(eval_peak - static) / GIB:>9.2f}")
    print("GiB. imports: RSS before the worker is built (python, torch, transformers, plan); predicted: model + "
          "base copy (model dtype) + task vectors (vector dtype); built, build pk, eval pk: RSS after the worker was "
          "built, its peak while building, its peak while evaluating, all minus 'imports'; pk-pred.: activations "
          "and everything else.")


def random_adapter(root: Path, model_dir: str, rank: int, seed: int = 0) -> str:
    """A PEFT LoRA adapter of rank `rank` on every Linear of the decoder layers (attention and
    MLP), random A and B, saved by peft."""
    import peft
    import torch
    from transformers import AutoModelForCausalLM
    target = root / f"{Path(model_dir).name}-lora-r{rank}-{seed}"
    if not (target / "adapter_config.json").is_file():
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_pretrained(model_dir)
        config = peft.LoraConfig(r=rank, lora_alpha=2 * rank, init_lora_weights=False,
                                 target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                                                 "down_proj"])
        peft.get_peft_model(model, config).save_pretrained(target)
    return str(target)


def plan_table(args) -> None:
    """`sitv plan`'s total against the measured peak of the same worker (RSS over the process
    after imports), and LoRA directions against dense ones, and chunked against full logits."""
    from sitv_dist.config import load_config
    from sitv_dist.stages.prepare import prepare_base
    root = Path(args.out)
    root.mkdir(parents=True, exist_ok=True)
    tokenizer_dir = prepare_base(load_config(None, []))
    models = [random_model(root, tokenizer_dir, int(h))[0] for h in args.hidden.split(",") if h]
    for extra in (args.smollm2, args.gemma3):
        if extra and (Path(extra).expanduser() / "config.json").is_file():
            models.append(str(Path(extra).expanduser()))
    settings = [("dense x1", "float32", "float32", 1, 0, 512), ("dense x2", "float32", "float32", 2, 0, 512),
                ("dense x2 bf16", "bfloat16", "bfloat16", 2, 0, 512), ("LoRA r16 x2", "float32", "float32", 0, 2, 512),
                ("dense x1, full logits", "float32", "float32", 1, 0, 0)]
    print(f"\nPlanned (`sitv plan`) vs measured peak RSS of one sweep worker (CPU, 2 threads), {args.texts} texts "
          f"per set, length {args.length}, batch {args.batch}; {time.strftime('%Y-%m-%d %H:%M')}; {os.cpu_count()} CPUs")
    print(f"{'model':<16}{'setting':<24}{'model':>8}{'base':>8}{'vectors':>9}{'activ.':>8}{'planned':>9}"
          f"{'measured':>9}{'meas/plan':>10}")
    for model_dir in models:
        for label, model_dtype, vector_dtype, dense, adapters, chunk in settings:
            vectors = random_vectors(root, model_dir, dense) if dense else {}
            vectors |= {f"l{i}": random_adapter(root, model_dir, 16, i) for i in range(adapters)}
            spec = {"out": str(root / "sweep"), "model_dtype": model_dtype, "vector_dtype": vector_dtype,
                    "points": args.points, "overrides": sweep_overrides(model_dir, vectors, args.texts, args.length,
                                                                        args.batch) + [f"eval.logit_chunk={chunk}"]}
            r = run_child(spec)
            p, measured = r["plan"], r["eval_peak"] - r["after_imports"]
            print(f"{Path(model_dir).name[:15]:<16}{label:<24}" + "".join(
                f"{p[k] / GIB:>{w}.2f}" for k, w in (("model", 8), ("base", 8), ("vectors", 9), ("activations", 8),
                                                     ("total", 9)))
                  + f"{measured / GIB:>9.2f}{measured / p['total']:>10.3f}")
    print("GiB. planned: model + base copy + vectors + activations as `sitv plan` computes them; measured: peak RSS "
          "while evaluating minus RSS after imports (python, torch, transformers, the plan).")


def accuracy_table(args) -> None:
    from sitv_dist.stages import sweep as pipeline
    from sitv_dist.stages.finetune import finetune_here
    from sitv_dist.config import load_config
    root = Path(args.out) / ("accuracy" if args.accuracy_model == "embedded" else f"accuracy-{Path(args.accuracy_model).name}")
    base = [f"out_dir={root / 'finetune'}", f"model.name_or_path={args.accuracy_model}",
            f"finetune.max_steps={args.accuracy_steps}", "finetune.epochs=1", "finetune.max_length=64",
            f"eval.max_texts={args.texts}", "tasks=[{name: sentiment_positive}]", "sweep.directions=[sentiment_positive]",
            "sweep.grids=[]", "sweep.refine_rounds=0", f"sweep.alpha={{start: -0.5, stop: 1.5, num: {args.accuracy_alphas}}}"]
    cfg = load_config(None, base)
    tv = Path(finetune_here(cfg, cfg.out_dir, ["sentiment_positive"], announce=False)[0])
    curves = {}
    for label, extra in [("float32", []), ("bfloat16", ["sweep.vector_dtype=bfloat16"]),
                         ("float16", ["sweep.vector_dtype=float16"]), ("model bf16", ["model.dtype=bfloat16"])]:
        out = root / label.replace(" ", "-")
        shutil.rmtree(out, ignore_errors=True)
        cfg = load_config(None, base + [f"out_dir={out}", f"sweep.task_vectors={{sentiment_positive: {tv}}}"] + extra)
        pipeline.sweep(cfg, out, progress=False)
        curves[label] = {}
        for p in (out / "points").glob("p*.json"):
            rec = json.loads(p.read_text())
            curves[label][rec["coefficients"]["sentiment_positive"]] = {k: v["loss"] for k, v in rec["sets"].items()}
    ref = curves["float32"]
    print(f"\nAccuracy cost of lower precision ({args.accuracy_model}, sentiment_positive, {len(ref)} points on the "
          f"line α ∈ [-0.5, 1.5] incl. 2α and α+α²), max over points of |L - L_float32|:")
    print(f"{'stored in lower precision':<28}{'general':>12}{'task':>12}{'rel. general':>14}{'argmin α moved':>16}")
    for label, curve in curves.items():
        if label == "float32":
            continue
        d_gen = max(abs(curve[a]["general"] - ref[a]["general"]) for a in ref)
        d_task = max(abs(curve[a]["task:sentiment_positive"] - ref[a]["task:sentiment_positive"])
                     for a in ref if "task:sentiment_positive" in ref[a])
        rel = max(abs(curve[a]["general"] - ref[a]["general"]) / ref[a]["general"] for a in ref)
        argmin = lambda c: min(c, key=lambda a: c[a]["general"])    # noqa: E731
        what = f"T in {label}" if label != "model bf16" else "model in bf16 (T fp32)"
        print(f"{what:<28}{d_gen:>12.2e}{d_task:>12.2e}{rel:>14.2e}{argmin(curve) - argmin(ref):>16.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hidden", default="512,1024,1536", help="widths of the random Llama models")
    parser.add_argument("--smollm2", default=f"{CACHE}/smollm2-135m-instruct",
                        help="a prepared SmolLM2 directory (scripts/prepare_model.py); skipped if absent")
    parser.add_argument("--gemma3", default=f"{CACHE}/gemma3-270m",
                        help="a prepared Gemma-3-270M directory (scripts/prepare_model.py --model gemma3-270m)")
    parser.add_argument("--plan", action="store_true", help="only the planned-vs-measured table (with LoRA and "
                        "full-logit rows)")
    parser.add_argument("--texts", type=int, default=8, help="texts per eval set")
    parser.add_argument("--length", type=int, default=128)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--points", type=int, default=1, help="points evaluated per setting")
    parser.add_argument("--out", default="/tmp/sitv-bench-memory")
    parser.add_argument("--skip-accuracy", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--accuracy-model", default="embedded", help="model of the accuracy table (a local directory)")
    parser.add_argument("--accuracy-alphas", type=int, default=21)
    parser.add_argument("--accuracy-steps", type=int, default=30, help="fine-tune steps giving T")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(json.loads(args.child))
    if args.plan:
        return plan_table(args)
    if not args.skip_memory:
        memory_table(args)
    if not args.skip_accuracy:
        accuracy_table(args)


if __name__ == "__main__":
    main()
