"""Wall time of one 900-point grid (30×30) with 1 local worker, 2 local workers and a Slurm
array (4 tasks, at most 2 at once), measured side by side in one run, one thread per worker.

    eval "$(slurm/local-cluster.sh start)"   # a real Slurm for the third case
    python bench/scaling.py [--texts 48] [--out /tmp/sitv-bench-scaling]

Prints the times, points/s, speed-up and parallel efficiency against 1 worker, checks that
the three launchers produced bitwise-identical losses, and the cost model
t = t_start + points/workers × t_point of each run (t_point: the steady wall time per point
of one worker process, from the evaluation log; t_start: the rest: process start, imports,
model load, tokenization, and for Slurm submission and scheduling, per wave of tasks).
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import time
from pathlib import Path

from sitv_dist.stages import sweep as pipeline
from sitv_dist.stages.finetune import finetune_here
from sitv_dist.outdir import OutDir
from sitv_dist.config import load_config


def base_overrides(out: Path, texts: int) -> list[str]:
    return [f"out_dir={out}", f"eval.max_texts={texts}", "finetune.max_steps=30", "finetune.epochs=1",
            "tasks=[{name: sentiment_positive}, {name: sentiment_negative}]",
            "sweep.directions=[]", "sweep.grids.0.range={start: -1.5, stop: 1.4, num: 30}",
            "sweep.threads_per_worker=1"]


def task_vectors(root: Path, texts: int) -> dict[str, str]:
    """Fine-tune the two sentiment tasks once (short) and return their task vectors."""
    cfg = load_config(None, base_overrides(root / "finetune", texts))
    names = ["sentiment_positive", "sentiment_negative"]
    return dict(zip(names, finetune_here(cfg, OutDir(cfg.out_dir).create(), names, announce=False)))


def timed_sweep(root: Path, name: str, texts: int, vectors: dict, extra: list[str]) -> tuple[float, Path]:
    out = root / name
    shutil.rmtree(out, ignore_errors=True)
    cfg = load_config(None, base_overrides(out, texts) + [f"sweep.task_vectors={json.dumps(vectors)}"] + extra)
    pipeline.plan_sweep(cfg, out)           # planning (hashing the eval data) is not the launcher's cost
    start = time.perf_counter()
    stats = pipeline.sweep(cfg, out, progress=False)
    elapsed = time.perf_counter() - start
    assert stats["complete"], f"{name}: {stats}"
    return elapsed, out


def per_process_rate(out: Path) -> float:
    """Median over worker processes of their steady wall time per point (evaluation log)."""
    stamps = {}
    for line in (out / "logs" / "evaluations.tsv").read_text().splitlines():
        _, _, proc, t = line.split("\t")
        stamps.setdefault(proc, []).append(float(t))
    rates = sorted((max(s) - min(s)) / (len(s) - 1) for s in stamps.values() if len(s) > 1)
    return rates[len(rates) // 2]


def losses(out: Path) -> dict:
    return {p.stem: json.loads(p.read_text())["sets"]["general"]["per_text_nll"] for p in (out / "points").glob("p*.json")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texts", type=int, default=48, help="texts per eval set (sets the cost of a point)")
    parser.add_argument("--out", default="/tmp/sitv-bench-scaling")
    args = parser.parse_args()
    if subprocess.run(["sinfo"], capture_output=True).returncode != 0:
        raise SystemExit('no Slurm reachable: run  eval "$(slurm/local-cluster.sh start)"  first')
    import torch
    torch.set_num_threads(1)
    root = Path(args.out)
    vectors = task_vectors(root, args.texts)
    cases = [("1 worker", "one", []),
             ("2 workers", "two", ["sweep.workers=2", "sweep.num_shards=2"]),
             ("slurm 4 tasks %2", "slurm", ["sweep.launcher=slurm", "slurm.tasks=4", "slurm.array_parallelism=2",
                                            "slurm.poll_s=2", "slurm.time_min=60"])]
    rows = []
    for label, name, extra in cases:
        elapsed, out = timed_sweep(root, name, args.texts, vectors, extra)
        rows.append((label, elapsed, out))
    points = json.loads((rows[0][2] / "plan.json").read_text())["unique_points"]
    reference = losses(rows[0][2])
    print(f"\n{points}-point grid, {args.texts} texts per eval set, 1 thread per worker, {time.strftime('%Y-%m-%d')}")
    print(f"{'launcher':<18}{'wall s':>9}{'points/s':>10}{'speed-up':>10}{'efficiency':>12}{'same bits':>11}")
    workers = {"1 worker": 1, "2 workers": 2, "slurm 4 tasks %2": 2}
    for label, elapsed, out in rows:
        speedup = rows[0][1] / elapsed
        print(f"{label:<18}{elapsed:>9.1f}{points / elapsed:>10.1f}{speedup:>10.2f}"
              f"{speedup / workers[label]:>11.0%}{str(losses(out) == reference):>11}")
    # t = t_start + points/workers × t_point, with t_point each run's steady wall per point and
    # process (evaluation log) and t_start what remains of the wall time
    print("cost model t = t_start + points/workers × t_point:")
    for (label, elapsed, out), waves in zip(rows, (1, 1, 2)):
        t_point = per_process_rate(out)
        t_start = (elapsed - points / workers[label] * t_point) / waves
        per = "per wave of array tasks" if waves > 1 else "per run"
        print(f"  {label:<18} t_point {t_point * 1e3:6.1f} ms   t_start {t_start:5.1f} s {per}")
    ideal = rows[0][1] / 2
    print(f"2 workers against a perfect halving ({ideal:.1f} s): {rows[1][1] - ideal:+.1f} s, of which "
          f"{points / 2 * (per_process_rate(rows[1][2]) - per_process_rate(rows[0][2])):+.1f} s from the slower "
          f"per-point time with both cores busy")

if __name__ == "__main__":
    main()
