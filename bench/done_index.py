"""A second `sitv sweep` with nothing to do, on a 961-point grid (31×31 over two task vectors
of the embedded base, 200 texts per eval set), with and without the done-index
(OUT/points/done.jsonl), the whole command timed side by side in one run:

  without index   the index deleted before each run: the first reader rebuilds it by parsing
                  every point file (the real rebuild path), as a sweep on an OUT written
                  before the index existed does once
  with index      the index as the first sweep left it: point files are stat'ed, not parsed
  code at PATH    (--before-code PATH) the same command run by another checkout of sitv-dist,
                  e.g. the commit before the index, which parses every point file per reader

    python bench/done_index.py [--runs 5] [--out /tmp/sitv-bench-done-index] [--before-code PATH]

Writing 961 points for real takes too long on a small machine, so the point files are made
the cheapest honest way: a few points (--real, default 4) are evaluated for real by a sweep
worker and every other point's file is a copy of one of them with its own id, fingerprint and
coefficients, written through OutDir like a worker's (so each file has the real size and
structure: per-text arrays for 200 texts in every eval set; its losses are not its own, which
no timing here depends on). Two commands are timed: the default `sitv sweep`, which finds
nothing to evaluate, then reduces and reports (the reducer reads every point's losses, index
or not), and `sitv sweep --no-reduce` (planning and the done checks only).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from sitv_dist.config import dump, load_config
from sitv_dist.models.location import model_location
from sitv_dist.outdir import OutDir
from sitv_dist.stages import sweep as pipeline
from sitv_dist.sweep.plan import load_plan
from sitv_dist.sweep.reduce import read_records
from sitv_dist.sweep.worker import Worker

from memory import random_vectors                # bench/memory.py: task vectors of a model's shapes

ROOT = Path(__file__).resolve().parents[1]


def overrides(out: Path, texts: int, num: int) -> list[str]:
    return [f"out_dir={out}", f"eval.max_texts={texts}", "tasks=[{name: sentiment_positive}, {name: sentiment_negative}]",
            "sweep.directions=[]", "sweep.refine_rounds=0", "sweep.threads_per_worker=1",
            f"sweep.grids=[{{directions: [t0, t1], range: {{start: -1.5, stop: 1.5, num: {num}}}}}]"]


def write_points(cfg, out: OutDir, real: int) -> int:
    """Plan, evaluate `real` points for real, write every other point as a copy (see above)."""
    plan = pipeline.plan_sweep(cfg, out)
    torch.set_num_threads(1)
    picks = plan.points[:: max(1, len(plan.points) // real)][:real]
    worker = Worker(cfg, out, plan, torch.device("cpu"), picks)
    records = [worker.evaluate(p) for p in picks]
    for i, p in enumerate(plan.points):
        record = records[i % len(records)] | {"id": p.id, "fingerprint": p.fingerprint,
                                              "coefficients": plan.coefficients(p)}
        out.write_point(record)
        out.log_evaluation(p.id, p.shard)
    return len(plan.points)


def components(out: OutDir, runs: int) -> None:
    """The part the index changes, in this process: one done check of the whole plan with the
    index, rebuilding it (deleted first), and one parse of every point file (the reducer's
    read_records, which is what each done check did before the index; a no-op sweep made 3)."""
    plan = load_plan(out)

    def best(fn, setup=lambda: None) -> float:
        seconds = []
        for _ in range(runs):
            setup()
            start = time.perf_counter()
            fn()
            seconds.append(time.perf_counter() - start)
        return min(seconds)

    rows = {"done_ids, index present": best(lambda: out.done_ids(plan)),
            "done_ids, index deleted (rebuilt)": best(lambda: out.done_ids(plan),
                                                      lambda: out.done_index.path.unlink(missing_ok=True)),
            "parse every point file (read_records)": best(lambda: read_records(out, plan))}
    print(f"\n{'in-process, whole plan':40s} {'best s':>8s}   ({runs} runs each)")
    for name, seconds in rows.items():
        print(f"{name:40s} {seconds:8.3f}")


def timed(cmd: list[str], code: Path) -> float:
    """Seconds of one whole command run by the checkout at `code` (its own working directory:
    `python -m` puts the current directory first on the path)."""
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=code, env=os.environ | {"PYTHONPATH": str(code)}, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0 or "0 evaluated" not in done.stdout:
        raise SystemExit(f"{' '.join(cmd)} did not run as a no-op sweep:\n{done.stdout[-2000:]}")
    return seconds


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("/tmp/sitv-bench-done-index"))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--texts", type=int, default=200, help="texts per eval set")
    ap.add_argument("--num", type=int, default=31, help="coefficients per grid axis (num² points)")
    ap.add_argument("--real", type=int, default=4, help="points evaluated for real (the rest are copies)")
    ap.add_argument("--before-code", type=Path, help="another sitv-dist checkout to time on the same OUT")
    args = ap.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    out_dir = args.out / "out"
    cfg = load_config(None, [f"out_dir={out_dir}"])             # the embedded default: where its base is
    vectors = random_vectors(args.out, model_location(cfg), 2)
    cfg = load_config(None, overrides(out_dir, args.texts, args.num) + [f"sweep.task_vectors={json.dumps(vectors)}"])
    config = args.out / "config.yaml"
    config.write_text(dump(cfg))
    out = OutDir(out_dir)
    n = write_points(cfg, out, args.real)
    size = sum(f.stat().st_size for f in out.points_dir.glob("p*.json"))
    print(f"{n} point files, {size / 2**20:.1f} MiB; index {out.done_index.path.stat().st_size / 2**10:.0f} KiB", flush=True)

    components(out, args.runs)

    base = [sys.executable, "-m", "sitv_dist.cli", "sweep", "-c", str(config)]
    variants = {"without index": (ROOT, True), "with index": (ROOT, False)}
    if args.before_code:
        variants[f"code at {args.before_code}"] = (args.before_code.resolve(), False)
    commands = {"sitv sweep": base, "sitv sweep --no-reduce": base + ["--no-reduce"]}
    times = {(c, v): [] for c in commands for v in variants}
    for c, cmd in commands.items():
        timed(cmd, ROOT)                                            # warm-up: page cache, hash cache
        for _ in range(args.runs):                                  # paired: the variants alternate
            for v, (code, drop_index) in variants.items():
                if drop_index:
                    out.done_index.path.unlink(missing_ok=True)
                times[c, v].append(timed(cmd, code))
    print(f"\n{'command':24s} {'variant':34s} {'median s':>9s} {'min–max s':>12s} {'÷ with index':>13s}"
          f"   ({args.runs} runs each, paired)")
    for c in commands:
        ref = statistics.median(times[c, "with index"])
        for v in variants:
            t = times[c, v]
            print(f"{c:24s} {v:34s} {statistics.median(t):9.2f} {f'{min(t):.2f}–{max(t):.2f}':>12s} "
                  f"{statistics.median(t) / ref:12.2f}×")
    print(json.dumps({f"{c} | {v}": t for (c, v), t in times.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
