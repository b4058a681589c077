"""The cost of exact derivatives against one point evaluation, side by side on the same model
and eval set:

  point       write base + αT in place, one pad-masked forward pass over the eval set (a sweep point)
  slope+curv  per-text dL/dα and d²L/dα² along one direction (nested forward-mode jvp)
  2x2 block   per-text gradient pair and 2×2 Hessian block of two directions (three nested jvps)

The directions are seeded random ones (the cost does not depend on which direction).

    python bench/derivatives.py                        # embedded default model, general set
    python bench/derivatives.py --texts 8 --max-length 64 --repeats 2 --no-grid --model ~/.cache/sitv-dist/gemma3-270m
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from sitv_dist.config import load_config
from sitv_dist.models.loading import load_model, load_tokenizer, parameters
from sitv_dist.stages.prepare import prepare_base
from sitv_dist.sweep.apply import PointWriter
from sitv_dist.sweep.forward_ad import per_text_derivatives
from sitv_dist.sweep.evaluation import build_eval_set, per_text_nll
from sitv_dist.texts import eval_texts
from sitv_dist.vectors.ops.random_control import random_direction


def timed(fn, repeats: int) -> float:
    fn()                                    # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="embedded")
    p.add_argument("--texts", type=int, default=0, help="eval.max_texts (0: the config's)")
    p.add_argument("--max-length", type=int, default=0, help="eval.max_length (0: the config's)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--no-grid", action="store_true", help="skip the 2×2 block (a second direction's memory)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    sets = [f"model.name_or_path={args.model}"]
    sets += [f"eval.max_texts={args.texts}"] if args.texts else []
    sets += [f"eval.max_length={args.max_length}"] if args.max_length else []
    cfg = load_config(None, sets)
    location = prepare_base(cfg)
    model = load_model(location, cfg.model, torch.device("cpu"), dtype="float32")
    es = build_eval_set("general", eval_texts(cfg)["general"], load_tokenizer(location), cfg.eval.max_length,
                        cfg.eval.batch_size, torch.device("cpu"), model.get_input_embeddings().num_embeddings)
    params = parameters(model)
    ref = {n: 1e-2 * p.detach().abs() + 1e-3 for n, p in params.items()}
    t1 = random_direction(ref, seed=1)
    t2 = None if args.no_grid else random_direction(ref, seed=2)
    del ref
    writer = PointWriter(model, {"T": t1})

    def point():
        writer.apply({"T": 0.5})
        per_text_nll(model, es)

    t_point = timed(point, args.repeats)
    writer.apply({})
    t_line = timed(lambda: per_text_derivatives(model, es, [t1]), args.repeats)
    t_grid = None if t2 is None else timed(lambda: per_text_derivatives(model, es, [t1, t2]), args.repeats)
    n_params = sum(p.numel() for p in params.values())
    print(f"model {args.model} ({n_params:,} parameters), {len(es.categories)} texts, {int(es.tokens.sum())} "
          f"predicted tokens, batch {cfg.eval.batch_size}, {args.threads} thread(s), median of {args.repeats}")
    print(f"{'what':<44}{'seconds':>10}{'× one point':>14}")
    for label, t in (("one point evaluation (apply + forward)", t_point),
                     ("slope + curvature along one direction", t_line),
                     ("gradient pair + 2×2 Hessian block", t_grid)):
        if t is not None:
                print(f"{label:<44}{t:>10.4f}{t / t_point:>14.2f}")


if __name__ == "__main__":
    main()
