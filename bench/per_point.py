"""Per-point cost of a 1D experiment (α grid + squaring + compositional), measured side by
side in one run on the same model and data:

  sitv-dist   the planned sweep (unique points, in-place writes, one pad-masked pass per set)
  floor       the forward passes alone over the same eval tokens, model fixed
  reference   the reference tool's method: per α rewrite the parameters and evaluate general,
              task, opposite-sentiment, 2α and α+α² general, and every category in separate
              passes, re-tokenizing each call, padding counted in the loss
  reload      reload the model from disk for every point (timed on a subset, per point)

    python bench/per_point.py [--alphas 100] [--texts 0] [--reload-points 10]
"""
from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import numpy as np
import torch

from sitv_dist import pipeline, taskvector
from sitv_dist.config import load_config
from sitv_dist.data import load_texts
from sitv_dist.evaluation import build_eval_set, per_text_nll
from sitv_dist.modeling import load_model, load_tokenizer, model_location, parameters
from sitv_dist.plan import axis, coef
from sitv_dist.store import read_point


def overrides(out: Path, alphas: int, texts: int) -> list[str]:
    return [f"out_dir={out}", "finetune.max_steps=30", "finetune.epochs=1", f"eval.max_texts={texts}",
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
    parser.add_argument("--out", default="/tmp/sitv-bench-per-point")
    args = parser.parse_args()
    root = Path(args.out)
    cfg = load_config(None, overrides(root / "finetune", args.alphas, args.texts))
    tv_path = pipeline.finetune_task(cfg, pipeline.out_dir(cfg), "sentiment_positive")
    sweep_out = root / "sweep"
    shutil.rmtree(sweep_out, ignore_errors=True)
    cfg = load_config(None, overrides(sweep_out, args.alphas, args.texts) +
                      [f"sweep.task_vectors={{sentiment_positive: {tv_path}}}"])

    # sitv-dist
    start = time.perf_counter()
    pipeline.sweep(cfg, sweep_out, progress=False)
    t_sitv = time.perf_counter() - start
    plan = pipeline.plan_sweep(cfg, sweep_out)
    point_time = sum(read_point(sweep_out, p["id"], plan["fingerprint"])["time_s"] for p in plan["points"])

    # floor: the same forward passes, model fixed
    location = model_location(cfg)
    device = torch.device("cpu")
    model, tok = load_model(location, cfg.model, device), load_tokenizer(location)
    from sitv_dist.worker import eval_texts
    texts = eval_texts(cfg)
    sets = {n: build_eval_set(n, texts[n], tok, cfg.eval.max_length, cfg.eval.batch_size, device) for n in texts}
    start = time.perf_counter()
    for p in plan["points"]:
        for name in p["sets"]:
            per_text_nll(model, sets[name])
    t_floor = time.perf_counter() - start

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
        reference_loss(model, tok, raw["general"])
        reference_loss(model, tok, raw["task:sentiment_positive"])
        reference_loss(model, tok, raw["task:sentiment_negative"])
        for members in cats.values():
            reference_loss(model, tok, members)
        rewrite(2 * a)
        reference_loss(model, tok, raw["general"])
        rewrite(a + a * a)
        reference_loss(model, tok, raw["general"])
    t_ref = time.perf_counter() - start
    rewrite(0.0)
    ref_l0 = reference_loss(model, tok, raw["general"])

    # reload per point (subset, then per point)
    subset = plan["points"][: args.reload_points]
    start = time.perf_counter()
    for p in subset:
        fresh = load_model(location, cfg.model, device)
        with torch.no_grad():
            for n, prm in parameters(fresh).items():
                prm.add_(T[n], alpha=p["coefficients"][0])
        for name in p["sets"]:
            es = build_eval_set(name, texts[name], tok, cfg.eval.max_length, cfg.eval.batch_size, device)
            per_text_nll(fresh, es)
    t_reload = (time.perf_counter() - start) / len(subset) * len(plan["points"])

    res = __import__("json").loads((sweep_out / "plan.json").read_text())
    l0 = next(read_point(sweep_out, p["id"], plan["fingerprint"]) for p in plan["points"] if not any(p["coefficients"]))
    n_alpha = len(alphas)
    print(f"\n1D experiment: {n_alpha} α in [-0.5, 1.5] + squaring + compositional; {res['unique_points']} unique points "
          f"for {res['requested_evaluations']} requested; torch threads {torch.get_num_threads()}; {time.strftime('%Y-%m-%d')}")
    print(f"{'method':<34}{'wall s':>9}{'s per α':>9}{'× sitv':>8}")
    rows = [("sitv-dist sweep (incl. start-up)", t_sitv), ("forward-pass floor", t_floor),
            ("reference method", t_ref), (f"reload per point (from {len(subset)})", t_reload)]
    for label, t in rows:
        print(f"{label:<34}{t:>9.1f}{t / n_alpha:>9.3f}{t / t_sitv:>8.2f}")
    print(f"per-point overhead over the floor: {(point_time - t_floor) / t_floor:+.1%} (sum of per-point times "
          f"{point_time:.1f} s vs floor {t_floor:.1f} s); start-up and bookkeeping: {t_sitv - point_time:.1f} s")
    print(f"L(0): sitv-dist (pads masked) {l0['sets']['general']['loss']:.4f}; reference (pads counted) {ref_l0:.4f}")


if __name__ == "__main__":
    main()
