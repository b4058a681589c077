"""Per-point cost of accuracy scoring against the loss passes, measured side by side in one
run on the same model (every method at the same parameters, interleaved, median of repeats):

  losses      one pad-masked pass per eval set (general + every task set): what a point costs today
  native MC   the native multiple-choice scoring of every task's set (sitv_dist.sweep.scores.mc_scoring):
              each context run once, its KV cache shared by the choices
  whole rows  the same, every (context + choice) row run whole (share_context=False), as lm-eval does
  lm-eval MC  the same items as local lm-eval multiple-choice tasks, run through lm-eval's
              simple_evaluate on the resident model (HFLM), as `eval.lm_eval` does at a point
              (skipped with --no-lm-eval)

Printed: seconds per point of each, the ratios, and the forward rows and tokens each runs
(real tokens / tokens with padding).
The native and lm-eval accuracies are printed too (they must agree).

    python bench/accuracy.py                        # embedded model and sets, all items
    python bench/accuracy.py --items 40 --repeats 5
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from sitv_dist.config import load_config
from sitv_dist.models.loading import load_model, load_tokenizer
from sitv_dist.stages.prepare import prepare_base
from sitv_dist.mc_items import lm_eval_task_yaml, mc_sets, mc_source
from sitv_dist.sweep.evaluation import build_eval_set, per_text_nll
from sitv_dist.sweep.scores.mc_scoring import (
    MCBatch,
    build_mc_set,
    choice_loglikelihoods,
    model_window,
    score,
)
from sitv_dist.texts import eval_texts



def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="embedded", help="base model (a local directory, or 'embedded')")
    parser.add_argument("--items", type=int, default=0, help="texts per eval set and items per MC set (0: all)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-lm-eval", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg = load_config(None, [f"model.name_or_path={args.model}", f"eval.max_texts={args.items}"])
    location = prepare_base(cfg)
    device = torch.device("cpu")
    model, tok = load_model(location, cfg.model, device), load_tokenizer(location)
    texts = eval_texts(cfg)
    sets = [build_eval_set(n, texts[n], tok, cfg.eval.max_length, cfg.eval.batch_size, device) for n in texts]
    items = mc_sets(cfg)
    mcs = [build_mc_set(t, its, tok, cfg.eval.batch_size, model_window(model), device) for t, its in items.items()]
    whole = [build_mc_set(t, its, tok, cfg.eval.batch_size, model_window(model), device, share_context=False)
             for t, its in items.items()]

    methods = {"losses": lambda: [per_text_nll(model, s) for s in sets],
               "native MC": lambda: {mc.name: score(mc, choice_loglikelihoods(model, mc)) for mc in mcs},
               "whole rows": lambda: {mc.name: score(mc, choice_loglikelihoods(model, mc)) for mc in whole}}
    tmp = tempfile.TemporaryDirectory()
    if not args.no_lm_eval:
        import lm_eval
        from lm_eval.models.huggingface import HFLM
        from lm_eval.tasks import TaskManager
        for i, task in enumerate(cfg.tasks):
            if task.name in items:
                src = mc_source(task)
                data = src if not args.items else Path(tmp.name) / f"{task.name}.jsonl"
                if args.items:
                    data.write_text("".join(src.read_text().splitlines(keepends=True)[:args.items]))
                (Path(tmp.name) / f"{task.name}.yaml").write_text(lm_eval_task_yaml(f"bench_{task.name}", data))
        lm = HFLM(pretrained=model, tokenizer=tok, batch_size=cfg.eval.batch_size)
        manager = TaskManager(include_path=tmp.name)
        names = [f"bench_{t}" for t in items]
        methods["lm-eval MC"] = lambda: lm_eval.simple_evaluate(
            model=lm, tasks=names, task_manager=manager, use_cache=None, cache_requests=False, bootstrap_iters=0,
            log_samples=False, verbosity="ERROR")["results"]
    times = {m: [] for m in methods}
    results = {}
    for fn in methods.values():                  # warm-up
        fn()
    for _ in range(args.repeats):                # interleaved: drift hits every method alike
        for m, fn in methods.items():
            t, results[m] = timed(fn)
            times[m].append(t)
    med = {m: statistics.median(v) for m, v in times.items()}
    def tokens(batches) -> str:
        """Tokens run: real / with padding."""
        real = padded = 0
        for b in batches:
            if isinstance(b, MCBatch):
                real, padded = real + int(b.attention_mask.sum()), padded + b.input_ids.numel()
            else:
                real += int(b.ctx_mask.sum()) + sum(int(c.cont_mask[:, :-1].sum()) for c in b.chunks)
                padded += b.ctx_ids.numel() + sum(c.cont_ids[:, :-1].numel() for c in b.chunks)
        return f"{real}/{padded}"
    loss_tokens = (sum(int(s.tokens.sum()) + len(s.categories) for s in sets),
                   sum(b.input_ids.numel() for s in sets for b in s.batches))
    rows = {"losses": (sum(len(s.categories) for s in sets), f"{loss_tokens[0]}/{loss_tokens[1]}"),
            "native MC": (sum(mc.rows for mc in mcs), tokens([b for mc in mcs for b in mc.batches])),
            "whole rows": (sum(mc.rows for mc in whole), tokens([b for mc in whole for b in mc.batches]))}
    print(f"model {args.model} ({sum(p.numel() for p in model.parameters()):,} parameters), {args.threads} thread(s), "
          f"median of {args.repeats}")
    print(f"{'method':<12} {'s/point':>9} {'× losses':>9} {'rows':>7} {'tokens real/padded':>20}")
    for m in methods:
        r, tk = rows.get(m, ("", ""))
        print(f"{m:<12} {med[m]:>9.3f} {med[m] / med['losses']:>9.2f} {r!s:>7} {tk:>20}")
    print(f"whole rows / native MC: {med['whole rows'] / med['native MC']:.2f}")
    if "lm-eval MC" in med:
        print(f"lm-eval MC / native MC: {med['lm-eval MC'] / med['native MC']:.2f}")
    same = all(a["correct"] == b["correct"] and a["correct_norm"] == b["correct_norm"]
               for a, b in zip(results["native MC"].values(), results["whole rows"].values()))
    print(f"native MC and whole rows pick the same choices: {same}")
    for name, r in results["native MC"].items():
        other = (results.get("lm-eval MC") or {}).get(f"bench_{name}", {})
        print(f"  {name:<24} items {r['items']:>4}  acc {r['acc']:.4f} acc_norm {r['acc_norm']:.4f}"
              + (f"   lm-eval acc {other.get('acc,none'):.4f} acc_norm {other.get('acc_norm,none'):.4f}" if other else ""))
    tmp.cleanup()


if __name__ == "__main__":
    main()
