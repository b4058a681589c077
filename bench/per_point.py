"""Per-point cost of a 1D experiment (α grid + squaring + compositional), measured side by
side in one run on the same model and data:

  sitv-dist   the planned sweep (unique points, in-place writes, one pad-masked pass per set)
  floor       the forward passes alone over the same eval tokens, model fixed
  reference   the reference tool's method: per α rewrite the parameters and evaluate general,
              task, opposite-sentiment, 2α and α+α² general, and every category in separate
              passes, re-tokenizing each call, padding counted in the loss
  reload      reload the model from disk for every point (timed on a subset, per point)

Also printed: the per-point overhead of the sweep (its steady-state time per point, from the
evaluation log's timestamps, against the floor measured before and after it), the number of
passes over eval texts each method makes, and setting the parameters of one point in place
against reloading the model.

    python bench/per_point.py --alphas 100 --texts 100                  # embedded model
    python bench/per_point.py --alphas 10 --texts 16 --max-length 64 \
        --model ~/.cache/sitv-dist/smollm2-135m-instruct --finetune-steps 5   # SmolLM2-135M
"""
from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import numpy as np
import torch

from sitv_dist.stages import sweep as pipeline
from sitv_dist.stages.finetune import finetune_here
from sitv_dist.vectors import taskvector
from sitv_dist.sweep.apply import PointWriter
from sitv_dist.config import load_config
from sitv_dist.sweep.evaluation import build_eval_set, per_text_nll
from sitv_dist.models.loading import load_model, load_tokenizer, parameters
from sitv_dist.stages.prepare import prepare_base
from sitv_dist.sweep.plan import axis
from sitv_dist.outdir import OutDir
from sitv_dist.texts import eval_texts


def overrides(out: Path, args) -> list[str]:
    alphas, texts = args.alphas, args.texts
    return [f"out_dir={out}", f"model.name_or_path={args.model}", f"finetune.max_steps={args.finetune_steps}",
            "finetune.epochs=1", f"eval.max_texts={texts}", f"eval.max_length={args.max_length}",
            f"finetune.max_length={min(args.max_length, 64)}",
            "tasks=[{name: sentiment_positive}, {name: sentiment_negative}]", "sweep.directions=[sentiment_positive]",
            f"sweep.alpha={{start: -0.5, stop: 1.5, num: {alphas}}}", "sweep.grids=[]", "sweep.refine_rounds=0"]


def reference_loss(model, tok, texts: list[str], batch_size: int = 32, max_length: int = 128) -> float:
    """The reference's evaluation: tokenize per call, pad to the batch, labels = input_ids
    (pads included), mean of the batch means."""
    losses = []
    for i in range(0, len(texts), batch_size):
        enc = tok(texts[i:i + batch_size], return_tensors="pt", padding=True, truncation=True, max_length=max_length)
        with torch.no_grad():
            losses.append(model(**enc, labels=enc["input_ids"]).loss.item())
    return float(np.mean(losses))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--alphas", type=int, default=100)
    parser.add_argument("--texts", type=int, default=0, help="texts per eval set (0: all)")
    parser.add_argument("--reload-points", type=int, default=10)
    parser.add_argument("--model", default="embedded", help="base model (a local directory, or 'embedded')")
    parser.add_argument("--max-length", type=int, default=128, help="eval max_length (the reference truncates alike)")
    parser.add_argument("--finetune-steps", type=int, default=30, help="steps of the (short) fine-tune giving T")
    parser.add_argument("--out", default="/tmp/sitv-bench-per-point")
    args = parser.parse_args()
    root = Path(args.out)
    cfg = load_config(None, overrides(root / "finetune", args))
    tv_path = Path(finetune_here(cfg, cfg.out_dir, ["sentiment_positive"], announce=False)[0])
    sweep_out = root / "sweep"
    shutil.rmtree(sweep_out, ignore_errors=True)
    cfg = load_config(None, overrides(sweep_out, args) +
                      [f"sweep.task_vectors={{sentiment_positive: {tv_path}}}"])

    # floor before the sweep, the sweep, floor after it (the machine's speed drifts)
    location = prepare_base(cfg)
    device = torch.device("cpu")
    model, tok = load_model(location, cfg.model, device), load_tokenizer(location)
    texts = eval_texts(cfg)
    sets = {n: build_eval_set(n, texts[n], tok, cfg.eval.max_length, cfg.eval.batch_size, device) for n in texts}
    plan = pipeline.plan_sweep(cfg, sweep_out)
    for es in sets.values():                                   # warm-up
        per_text_nll(model, es)
    floor_before = floor(model, sets, plan)
    start = time.perf_counter()
    pipeline.sweep(cfg, sweep_out, progress=False)
    t_sitv = time.perf_counter() - start
    floor_after = floor(model, sets, plan)
    t_floor = (floor_before + floor_after) / 2
    stamps = sorted(float(line.split("\t")[3]) for line in (sweep_out / "logs" / "evaluations.tsv").read_text().splitlines())
    n_points = len(plan.points)
    steady = (stamps[-1] - stamps[0]) / (len(stamps) - 1)          # wall per point, writes included
    startup = t_sitv - (stamps[-1] - stamps[0]) - steady

    # reference method
    T = taskvector.load(tv_path, model, "tv", device)
    base = {n: p.detach().clone() for n, p in parameters(model).items()}
    raw = {n: [t.text for t in ts] for n, ts in texts.items()}
    cats = {}
    for t in texts["general"]:
        cats.setdefault(t.category, []).append(t.text)

    def rewrite(c):
        with torch.no_grad():
            for n, p in parameters(model).items():
                p.copy_(base[n] + c * T[n])

    alphas = axis(-0.5, 1.5, args.alphas)
    start = time.perf_counter()
    for a in alphas:
        rewrite(a)
        reference_loss(model, tok, raw["general"], max_length=args.max_length)
        reference_loss(model, tok, raw["task:sentiment_positive"], max_length=args.max_length)
        reference_loss(model, tok, raw["task:sentiment_negative"], max_length=args.max_length)
        for members in cats.values():
            reference_loss(model, tok, members, max_length=args.max_length)
        rewrite(2 * a)
        reference_loss(model, tok, raw["general"], max_length=args.max_length)
        rewrite(a + a * a)
        reference_loss(model, tok, raw["general"], max_length=args.max_length)
    t_ref = time.perf_counter() - start
    rewrite(0.0)
    ref_l0 = reference_loss(model, tok, raw["general"], max_length=args.max_length)
    ref_texts = len(alphas) * (4 * len(raw["general"]) + len(raw["task:sentiment_positive"]) +
                               len(raw["task:sentiment_negative"]))
    sitv_texts = sum(len(texts[name]) for p in plan.points for name in p.sets)

    # reload per point (subset, then per point); setting one point: reload vs in place
    subset = plan.points[:: max(1, n_points // args.reload_points)][: args.reload_points]   # the plan's mix of sets
    loads = []
    start = time.perf_counter()
    for p in subset:
        t0 = time.perf_counter()
        fresh = load_model(location, cfg.model, device)
        loads.append(time.perf_counter() - t0)
        with torch.no_grad():
            for n, prm in parameters(fresh).items():
                prm.add_(T[n], alpha=p.coefficients[0])
        for name in p.sets:
            es = build_eval_set(name, texts[name], tok, cfg.eval.max_length, cfg.eval.batch_size, device)
            per_text_nll(fresh, es)
    t_reload = (time.perf_counter() - start) / sum(len(p.sets) for p in subset) * \
        sum(len(p.sets) for p in plan.points)
    writer = PointWriter(model, {"t": T})
    applies = []
    for p in subset:
        t0 = time.perf_counter()
        writer.apply({"t": p.coefficients[0]})
        applies.append(time.perf_counter() - t0)

    # the same experiment planned the sitv-dist way: α step h = 2/alphas containing 0, so that
    # most 2α fall on points already planned (other coefficients: reported beside, not compared)
    own = None
    if args.alphas % 4 == 0:
        own_out = root / "own-grid"
        shutil.rmtree(own_out, ignore_errors=True)
        own_cfg = load_config(None, overrides(own_out, args) + [f"sweep.task_vectors={{sentiment_positive: {tv_path}}}",
                                                                  f"sweep.alpha.num={args.alphas + 1}"])
        own_plan = pipeline.plan_sweep(own_cfg, own_out)
        start = time.perf_counter()
        pipeline.sweep(own_cfg, own_out, progress=False)
        own = (f"sitv-dist, own grid ({args.alphas + 1} α, step {2 / args.alphas:g}, 0 on it)",
               time.perf_counter() - start, sum(len(texts[n]) for p in own_plan.points for n in p.sets),
               len(own_plan.points))

    l0 = next(OutDir(sweep_out).read_point(p.id, plan.fingerprint) for p in plan.points if not any(p.coefficients))
    n_alpha = len(alphas)
    n_params = sum(p.numel() for p in parameters(model).values())
    print(f"\n1D experiment: {n_alpha} α in [-0.5, 1.5] + squaring + compositional; {n_points} unique points "
          f"for {plan.requested_evaluations} requested; model {args.model} ({n_params / 1e6:.1f} M parameters); "
          f"{len(raw['general'])} general + 2×{len(raw['task:sentiment_positive'])} task texts, max_length "
          f"{args.max_length}; torch threads {torch.get_num_threads()}; {time.strftime('%Y-%m-%d %H:%M')}")
    print(f"{'method':<36}{'wall s':>9}{'s per α':>9}{'× sitv':>8}{'texts passed':>14}")
    rows = [("sitv-dist sweep (incl. start-up)", t_sitv, sitv_texts),
            ("forward-pass floor (same points)", t_floor, sitv_texts),
            ("reference method", t_ref, ref_texts), (f"reload per point (from {len(subset)})", t_reload, sitv_texts)]
    for label, t, n_texts in rows:
        print(f"{label:<36}{t:>9.1f}{t / n_alpha:>9.3f}{t / t_sitv:>8.2f}{n_texts:>14}")
    if own:
        print(f"{own[0]}: {own[3]} unique points, {own[2]} texts passed, {own[1]:.1f} s "
              f"({own[1] / (args.alphas + 1):.3f} s per α; the reference method is {t_ref / own[1]:.2f}× that)")
    print(f"per-point overhead over the floor: {(steady - t_floor / n_points) / (t_floor / n_points):+.1%} "
          f"(steady-state {steady * 1e3:.1f} ms per point incl. update and writes, floor {t_floor / n_points * 1e3:.1f} ms "
          f"[{floor_before:.1f} s before, {floor_after:.1f} s after]); start-up {startup:.1f} s")
    print(f"setting one point: in place {np.median(applies) * 1e3:.2f} ms, reload {np.median(loads) * 1e3:.1f} ms "
          f"({np.median(loads) / np.median(applies):.0f}×)")
    print(f"L(0): sitv-dist (pads masked) {l0['sets']['general']['loss']:.4f}; reference (pads counted) {ref_l0:.4f}")


def floor(model, sets: dict, plan) -> float:
    """The forward passes of every planned point over its sets, model fixed."""
    start = time.perf_counter()
    for p in plan.points:
        for name in p.sets:
            per_text_nll(model, sets[name])
    return time.perf_counter() - start

if __name__ == "__main__":
    main()
