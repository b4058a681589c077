"""Compare experiments: ``sitv compare OUT1 OUT2 ... --out DEST``.

Reads each run through :class:`sitv_dist.outdir.OutDir` (its reduced sweeps, its resolved
config, its task vectors) and, where the per-point files are on disk, bootstraps the line
sweeps (:mod:`..uncertainty.run_bootstrap`). Writes ``DEST/compare.json``, ``DEST/compare.md`` and the
figures (:mod:`..plots.compare_plots`) in DEST's plots folder.

Every number comes from :func:`..analysis.landscape.analyse` on the run's own results, the same
function that wrote the run's analysis (which is cross-checked when present,
:mod:`.rows`), and is printed in one format (:mod:`.render`).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np

from ...io import atomic_write_text
from ...outdir import OutDir
from ...vectors.similarity import cosine_from_gram, gram_matrix, signature
from ..analysis.landscape import analyse, to_jsonable
from ..plots.compare_plots import plot_cosine, plot_general, plot_task
from ..run_config import RunConfig
from ..uncertainty.bootstrap import DEFAULT_LEVEL, DEFAULT_REPLICATES
from ..uncertainty.run_bootstrap import PointFiles, sweep_uncertainty
from .render import render
from .rows import grid_row, line_row, task_vector_path

SCHEMA = "sitv-dist/compare/1"
FIGURES = OutDir(".").plots_dir.name            # the folder name, as OutDir lays OUT out


def unique_labels(names: list[str], dirs: list[Path]) -> list[str]:
    """Each experiment's name; where names collide (two runs of "default"), the name of its
    out_dir, and the whole path only where those collide too."""
    labels = []
    for name, d in zip(names, dirs):
        same = [o for n, o in zip(names, dirs) if n == name]
        label = name if len(same) == 1 else d.name if [o.name for o in same].count(d.name) == 1 else str(d)
        while label in labels:
            label += "'"
        labels.append(label)
    return labels


# ----------------------------------------------------------------------------- cosine similarity
def cosine_table(vectors: dict[str, Path]) -> dict:
    """Pairwise cosine similarities of the task vectors involved (labels → files).

    Vectors are compared within groups of identical tensor names and shapes; pairs from
    different groups (e.g. different base models) get None. Each file is read once.
    """
    labels = list(vectors)
    files = sorted({str(p) for p in vectors.values()})
    groups: dict[tuple, list[str]] = {}
    for f in files:
        groups.setdefault(signature(Path(f)), []).append(f)
    cos_file: dict[tuple[str, str], float] = {}
    norm_file: dict[str, float] = {}
    for members in groups.values():
        g = gram_matrix([Path(m) for m in members])
        c = cosine_from_gram(g)
        for i, a in enumerate(members):
            norm_file[a] = float(np.sqrt(max(g[i, i], 0.0)))
            for j, b in enumerate(members):
                cos_file[(a, b)] = float(c[i, j])
    matrix = [[cos_file.get((str(vectors[a]), str(vectors[b]))) for b in labels] for a in labels]
    return to_jsonable({"labels": labels, "files": {k: str(v) for k, v in vectors.items()},
                        "norms": {k: norm_file[str(v)] for k, v in vectors.items()},
                        "groups": len(groups), "matrix": matrix})


# ----------------------------------------------------------------------------- entry point
def compare(out_dirs: Sequence[Path], dest: Path, replicates: int = DEFAULT_REPLICATES,
            level: float = DEFAULT_LEVEL, seed: int = 0, stratify: bool = True) -> dict:
    """Compare the line sweeps of several runs; write compare.md, compare.json and plots to ``dest``.

    ``replicates=0`` skips the bootstrap. Returns the contents of compare.json.
    """
    outs = [Path(d) for d in out_dirs]
    dest = Path(dest)
    for o in outs:
        run = OutDir(o)
        if not run.results_dir.is_dir() or not any(run.results_dir.glob("*.json")):
            raise FileNotFoundError(f"{run.results_dir} has no results files: reduce the run first "
                                    f"(`sitv reduce {o}`)")
    cfgs = [RunConfig.read(o) for o in outs]
    labels = unique_labels([str(c.name() or o.name) for c, o in zip(cfgs, outs)], outs)
    experiments, lines, grids, vectors = [], [], [], {}
    for label, out, cfg in zip(labels, outs, cfgs):
        run = OutDir(out)
        results = run.read_results()
        has_points = run.points_dir.is_dir() and run.eval_sets.is_file()
        points = PointFiles(run) if has_points else None
        exp = {"label": label, "out_dir": str(out), "model": cfg.model(), "line_sweeps": [], "grid_sweeps": [],
               "bootstrap": False}
        for sweep, res in results.items():
            an = analyse(res)
            if res.get("kind") == "line":
                unc = None
                if points is not None and replicates > 0:
                    unc = sweep_uncertainty(out, res, replicates, level, seed, stratify, points=points)
                row = line_row(label, out, cfg, sweep, an, unc)
                lines.append(row)
                exp["line_sweeps"].append(sweep)
                exp["bootstrap"] = exp["bootstrap"] or row["bootstrap"]["available"]
                dirs = [row["direction"]]
            else:
                grids.append(grid_row(label, sweep, an))
                exp["grid_sweeps"].append(sweep)
                dirs = list(an["directions"])
            for d in dirs:
                tv = task_vector_path(out, cfg, d)
                if tv is not None:
                    vectors.setdefault(f"{label}: {d}", tv)
        experiments.append(exp)
    cos = cosine_table(vectors)
    figures = dest / FIGURES                        # DEST keeps its figures where a run keeps its own
    plots = [plot_general(lines, figures / "compare_general.png", level)]
    if any(r["curves"]["task"] is not None for r in lines):
        plots.append(plot_task(lines, figures / "compare_task.png"))
    if len(cos["labels"]) >= 2:
        plots.append(plot_cosine(cos, figures / "compare_cosine.png"))
    doc = to_jsonable({
        "schema": SCHEMA, "experiments": experiments, "lines": lines, "grids": grids, "cosine": cos,
        "bootstrap": {"replicates": int(replicates), "level": float(level), "seed": int(seed),
                      "stratify": bool(stratify)},
        "plots": [p.relative_to(dest).as_posix() for p in plots]})
    atomic_write_text(dest / "compare.json", json.dumps(doc, indent=1, allow_nan=False) + "\n")
    atomic_write_text(dest / "compare.md", render(doc))
    return doc
