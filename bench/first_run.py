"""The first run as a new user sees it: the README's `sitv run` on the embedded default, the
default of an earlier commit (default: the one before issue #20) and of this checkout, one after
the other, each on a fresh cache (so each pays the pre-training) and a fresh out_dir. Prints
when report.md first appeared, when the run ended, and both sets of findings side by side.

    python bench/first_run.py [--before REV] [--work DIR]

The earlier commit is exported with `git archive` and run from there with the same venv.
Times are wall seconds from the start of `sitv run` (the install is not included)."""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEFORE = "27a8239"          # main before issue #20: 21-point α grids, an 11 × 11 grid, all phases at the end


def export(rev: str, dest: Path) -> Path:
    """The tree of `rev`, unpacked into `dest`."""
    data = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", rev], check=True,
                          capture_output=True).stdout
    dest.mkdir(parents=True)
    archive = dest.with_suffix(".tar")
    archive.write_bytes(data)
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="data")
    archive.unlink()
    return dest


def timed_run(tree: Path, work: Path, label: str, overrides: list[str] = ()) -> dict:
    """`sitv run` of `tree`'s configs/default.yaml, on a fresh cache; the first report's time."""
    slug = "".join(ch if ch.isalnum() else "-" for ch in label)
    out, cache = work / f"{slug}-out", work / f"{slug}-cache"
    for p in (out, cache):
        shutil.rmtree(p, ignore_errors=True)
    env = dict(os.environ, SITV_CACHE=str(cache), PYTHONPATH=str(tree), TQDM_DISABLE="1")
    report = out / "report.md"
    first: list[float] = []
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "sitv_dist.cli", "run", "-c", str(tree / "configs/default.yaml"),
                             "--set", f"out_dir={out}", *[x for o in overrides for x in ("--set", o)]], cwd=work, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)

    def watch():
        while proc.poll() is None and not first:
            if report.is_file():
                first.append(time.perf_counter() - start)
            time.sleep(0.5)
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    log = proc.stdout.read()
    proc.wait()
    total = time.perf_counter() - start
    watcher.join()
    (work / f"{slug}.log").write_text(log)
    if proc.returncode:
        raise SystemExit(f"{label}: sitv run failed (exit {proc.returncode}); see {work / f'{slug}.log'}")
    return {"label": label, "first_report_s": first[0] if first else total, "total_s": total,
            "timings": json.loads((out / "timings.json").read_text()), "findings": findings(out)}


def findings(out: Path) -> dict:
    """What the README calls the default's findings, from the run's analysis.json."""
    an = json.loads((out / "analysis.json").read_text())
    rows = {}
    for name, a in sorted(an["sweeps"].items()):
        if a["kind"] == "line":
            f = a["findings"]
            dips = [m for m in f["minima"] if m["kind"] == "dip below L(0)"]
            ups = [c for c in f["crossings"] if c["direction"] == "up"]
            d = (a.get("derivatives") or {}).get("general") or {}
            rows[name] = {"points": f["samples"], "min_c": dips[0]["x"] if dips else None,
                          "min_dL": dips[0]["depth"] if dips else None,
                          "min_resolved": bool(dips and dips[0]["resolved"]),
                          "crossing_c": ups[0]["x"] if ups else None,
                          "crossing_interval": ups[0]["interval"] if ups else None,
                          "crossing_resolved": bool(ups and ups[0]["resolved"]),
                          "accuracy": name in an.get("accuracy", {}),
                          "slope": d.get("slope"), "curvature": d.get("curvature")}
        elif a["kind"] == "grid":
            rows[name] = {"lowest": a["min"]["coefficients"], "lowest_loss": a["min"]["loss"],
                          "accuracy": name in an.get("accuracy", {})}
    return rows


def _f(x, digits=3):
    return "—" if x is None else f"{x:.{digits}f}"


def table(runs: list[dict]) -> str:
    head = ["", *[r["label"] for r in runs]]
    rows = [["first report.md (s)", *[f"{r['first_report_s']:.0f}" for r in runs]],
            ["run ends (s)", *[f"{r['total_s']:.0f}" for r in runs]]]
    for stage in ("pretrain", "sweep", "sweep:lines", "refine", "sweep:grids", "derivatives"):
        rows.append([f"stage {stage} (s)", *[_f(r["timings"].get(stage), 0) for r in runs]])
    for name in sorted(set().union(*(r["findings"] for r in runs))):
        cells = [r["findings"].get(name) for r in runs]
        if name.startswith("line_"):
            rows.append([f"{name}: points", *[str(c["points"]) if c else "—" for c in cells]])
            rows.append([f"{name}: dip below L(0) at c (ΔL), resolved",
                         *[f"{_f(c['min_c'])} ({_f(c['min_dL'])}) {'yes' if c['min_resolved'] else 'no'}" if c else "—"
                           for c in cells]])
            rows.append([f"{name}: return crossing at c [interval], resolved",
                         *[f"{_f(c['crossing_c'])} [{_f((c['crossing_interval'] or [None])[0])}, "
                           f"{_f((c['crossing_interval'] or [None, None])[1])}] {'yes' if c['crossing_resolved'] else 'no'}"
                           if c else "—" for c in cells]])
            rows.append([f"{name}: slope g, curvature h (general)",
                         *[f"{_f(c['slope'])}, {_f(c['curvature'])}" if c else "—" for c in cells]])
            rows.append([f"{name}: accuracy curves", *["yes" if c and c["accuracy"] else "no" for c in cells]])
        else:
            rows.append([f"{name}: lowest cell (loss)",
                         *[f"({', '.join(_f(v, 2) for v in c['lowest'])}) ({_f(c['lowest_loss'], 4)})" if c else "—"
                           for c in cells]])
            rows.append([f"{name}: accuracy maps", *["yes" if c and c["accuracy"] else "no" for c in cells]])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--before", default=BEFORE, help=f"the earlier commit (default {BEFORE})")
    p.add_argument("--work", type=Path, help="folder for the runs (default: a new temporary folder)")
    p.add_argument("--only-new", action="store_true", help="run this checkout's default only")
    p.add_argument("--variant", action="append", default=[], metavar="KEY=VALUE[,KEY=VALUE...]",
                   help="one more run of this checkout's default with these overrides, e.g. "
                        "sweep.workers=2,sweep.num_shards=2,sweep.threads_per_worker=1 (repeatable)")
    args = p.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="sitv-first-run-"))
    work.mkdir(parents=True, exist_ok=True)
    runs = []
    if not args.only_new:
        tree = export(args.before, work / f"tree-{args.before}")
        runs.append(timed_run(tree, work, f"before ({args.before})"))
    runs.append(timed_run(ROOT, work, "this checkout"))
    for variant in args.variant:
        runs.append(timed_run(ROOT, work, variant, variant.split(",")))
    print(f"cores: {os.cpu_count()}; load average at the end: {os.getloadavg()[0]:.2f}; runs in {work}")
    print(table(runs))
    (work / "first_run.json").write_text(json.dumps(runs, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
