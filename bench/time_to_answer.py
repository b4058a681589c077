"""Time to answer: every crossing and interior minimum of one line located to `tol` in α, with
bootstrap intervals, by the planned grid plus refinement rounds (sitv-dist) against a uniform
grid fine enough for the same precision (the reference method's only way), on the same model,
task vector and eval sets. Prints evaluations, wall time and their ratios side by side.

    python bench/time_to_answer.py --out /tmp/tta                 # embedded default, qa_factual
    python bench/time_to_answer.py --out /tmp/tta --max-texts 40  # smaller eval sets: faster

Both runs share the fine-tune (copied from the first run's OUT), so only sweeping is compared.
The uniform grid has step tol over the planned α range (2 / 1e-3 + 1 = 2001 points by default).
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path


def sitv(*args: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "sitv_dist.cli", *args], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def findings(out: Path, sweep: str) -> dict:
    return json.loads((out / "analysis.json").read_text())["sweeps"][sweep]["findings"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--direction", default="qa_factual")
    ap.add_argument("--tol", type=float, default=1e-3)
    ap.add_argument("--max-texts", type=int, default=0, help="eval texts per set (0: all)")
    ap.add_argument("--bootstrap", type=int, default=1000)
    args = ap.parse_args()
    start, stop = -0.5, 1.5
    common = ["--set", f"sweep.directions=[{args.direction}]", "--set", "sweep.grids=[]",
              "--set", f"eval.max_texts={args.max_texts}", "--set", f"sweep.alpha.start={start}",
              "--set", f"sweep.alpha.stop={stop}"]
    refined, uniform = args.out / "refined", args.out / "uniform"
    shutil.rmtree(args.out, ignore_errors=True)
    # fine-tune once (not timed), then sweep + refine to tol
    sitv("finetune", "--set", f"out_dir={refined}", *common)
    uniform.mkdir(parents=True)
    for folder in ("finetune", "task_vectors"):
        shutil.copytree(refined / folder, uniform / folder)
    t_refined = sitv("sweep", "--set", f"out_dir={refined}", *common, "--set", "sweep.alpha.num=21", "--no-reduce")
    t_refined += sitv("refine", "--set", f"out_dir={refined}", *common, "--set", "sweep.alpha.num=21",
                      "--rounds", "20", "--tol", str(args.tol))
    num = int(round((stop - start) / args.tol)) + 1
    t_uniform = sitv("sweep", "--set", f"out_dir={uniform}", *common, "--set", f"sweep.alpha.num={num}",
                     "--set", "sweep.squaring=false", "--set", "sweep.compositional=false",
                     "--set", "sweep.refine_rounds=0", "--confirm-large", "--no-reduce")
    sitv("reduce", str(uniform))
    sitv("report", str(uniform), "--bootstrap", str(args.bootstrap))
    sitv("report", str(refined), "--bootstrap", str(args.bootstrap))
    sweep = f"line_{args.direction}"
    rows = {}
    for label, out, seconds in (("planned grid + refinement", refined, t_refined), ("uniform grid", uniform, t_uniform)):
        f = findings(out, sweep)
        plan = json.loads((out / "plan.json").read_text())
        rows[label] = {"evaluations": len(plan["points"]), "seconds": seconds,
                       "crossings": [round(c["x"], 4) for c in f["crossings"]],
                       "minima": [round(m["x"], 4) for m in f["minima"]],
                       "widest bracket": max([c["bracket"][1] - c["bracket"][0] for c in f["crossings"]] +
                                             [m["bracket"][1] - m["bracket"][0] for m in f["minima"]] or [0.0])}
    a, b = rows["planned grid + refinement"], rows["uniform grid"]
    print(f"{'':28s} {'evaluations':>12s} {'wall s':>9s}  crossings / interior minima at c (widest bracket)")
    for label, r in rows.items():
        print(f"{label:28s} {r['evaluations']:12d} {r['seconds']:9.1f}  {r['crossings']} / {r['minima']} "
              f"({r['widest bracket']:.2g})")
    print(f"{'ratio uniform / refined':28s} {b['evaluations'] / a['evaluations']:12.1f} "
          f"{b['seconds'] / a['seconds']:9.1f}")
    print(json.dumps({"tol": args.tol, "max_texts": args.max_texts, **rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
