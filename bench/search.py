"""Per-layer (and per-group) coefficient search against the best uniform α on the line, on the
embedded default: one task's direction fine-tuned, its line swept and refined, then one search
per split on the same out_dir (the points are shared). Prints, side by side, the points each
used, its time, and the general loss of its best point and of the line's best (chosen by the
same rule, on the search half) on the search half and on the held-out half, with paired
bootstrap intervals, and what the difference says.

    python bench/search.py [--work DIR] [--direction sentiment_positive] [--budget 48]
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sitv_dist import Experiment  # noqa: E402


def fmt_ci(ci) -> str:
    return "n/a" if not ci else f"[{ci[0]:.4f}, {ci[1]:.4f}]"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default="runs/bench-search", help="out_dir parent (replaced)")
    ap.add_argument("--direction", default="sentiment_positive")
    ap.add_argument("--budget", type=int, default=48)
    ap.add_argument("--splits", default="layers,groups,none")
    args = ap.parse_args(argv)
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    base = {"out_dir": str(work / "out"), "sweep.directions": [args.direction], "sweep.grids": [],
            "sweep.derivatives": False}
    exp = Experiment.from_yaml(ROOT / "configs" / "default.yaml", **base)
    start = time.perf_counter()
    exp.finetune([args.direction])
    finetune_s = time.perf_counter() - start
    start = time.perf_counter()
    exp.sweep()
    exp.refine()
    line_s = time.perf_counter() - start
    plan = json.loads((work / "out" / "plan.json").read_text())
    line_points = sum(f"line_{args.direction}" in p["sweeps"] for p in plan["points"])
    rows = []
    for split in args.splits.split(","):
        search = Experiment.from_yaml(ROOT / "configs" / "default.yaml", **base, **{
            "sweep.search.directions": [args.direction], "sweep.search.split": split,
            "sweep.search.budget": args.budget, "sweep.search.bounds": [-0.5, 1.5]})
        t = time.perf_counter()
        entry = search.search(progress=False)
        seconds = time.perf_counter() - t
        rows.append((split, entry, seconds))
    print(f"\nembedded default, direction {args.direction}; line: {line_points} points (α grid, 2α, α+α², "
          f"refinement), {line_s:.0f} s (fine-tuning before it: {finetune_s:.0f} s)")
    header = ("split", "coefs", "points", "time s", "search half: search best", "line best", "held-out: search best",
              "line best", "held-out difference [95%]", "verdict")
    print(" | ".join(header))
    for split, e, seconds in rows:
        h = e["halves"]["objective"]
        s, o = h["search"], h["held_out"]
        print(" | ".join([
            split, str(len(e["coordinates"])), str(e["points_evaluated"]), f"{seconds:.0f}",
            f"{s['values'][0]:.4f} {fmt_ci(s['intervals'][0])}", f"{s['values'][1]:.4f} {fmt_ci(s['intervals'][1])}",
            f"{o['values'][0]:.4f} {fmt_ci(o['intervals'][0])}", f"{o['values'][1]:.4f} {fmt_ci(o['intervals'][1])}",
            f"{o['difference']['value']:+.4f} {fmt_ci(o['difference']['interval'])}", e["verdict"]]))
        print(f"    best: {', '.join(f'{k} = {v:.3f}' for k, v in e['best']['coefficients'].items())}; "
              f"line best: {e['sweep_best']['coefficients']}; start {e['start']} (σ {e['sigma']:g}); "
              f"search-half difference {h['search']['difference']['value']:+.4f} "
              f"{fmt_ci(h['search']['difference']['interval'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
