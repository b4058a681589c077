"""Compare experiments: ``sitv compare OUT1 OUT2 ... --out DEST``.

Reads each run's ``results/*.json`` (docs/layout.md), its ``config.resolved.yaml`` and
task-vector files, and, where the per-point files are on disk, bootstraps the line sweeps
(:mod:`sitv_dist.uncertainty`). Writes ``DEST/compare.json``, ``DEST/compare.md`` and
``DEST/plots/*.png``.

Every number comes from :func:`sitv_dist.analysis.analyse` on the run's own results, the
same function that wrote its ``analysis.json`` (which is cross-checked when present), and
is printed in one format (``{:.4f}``). The wording says what was measured and with what
uncertainty; it does not interpret the curves.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import yaml  # noqa: E402

from . import bootstrap_run, uncertainty  # noqa: E402
from ..vectors.similarity import cosine_from_gram, gram_matrix, signature  # noqa: E402
from ..vectors.taskvector import read_metadata  # noqa: E402
from .analysis import analyse, as_array, to_jsonable  # noqa: E402
from .report import _f, _table, _write_atomic  # noqa: E402

SCHEMA = "sitv-dist/compare/1"
DPI = 120
CURVES = (("crossings", "L(α)"), ("squaring", "L(2α)"), ("compositional", "L(α+α²)"))   # row key, curve


# ----------------------------------------------------------------------------- loading
def _read_json(path: Path) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _config(out: Path) -> dict:
    path = out / "config.resolved.yaml"
    if not path.is_file():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else {}


def experiment_name(cfg: dict, out: Path) -> str:
    """The config's ``name`` (or ``experiment.name``), else the directory name."""
    exp = cfg.get("experiment")
    name = cfg.get("name") or (exp.get("name") if isinstance(exp, dict) else None)
    return str(name or out.name)


def task_vector_path(out: Path, cfg: dict, direction: str) -> Path | None:
    """The file of a direction: ``sweep.task_vectors[direction]`` in the resolved config,
    else ``OUT/task_vectors/<direction>.safetensors``; None if neither exists."""
    explicit = ((cfg.get("sweep") or {}).get("task_vectors") or {}).get(direction)
    candidates = []
    if explicit:
        p = Path(str(explicit)).expanduser()
        candidates += [p] if p.is_absolute() else [p, out / p, out.parent / p]
    candidates.append(out / "task_vectors" / f"{direction}.safetensors")
    return next((c for c in candidates if c.is_file()), None)


def _unique_labels(names: list[str], dirs: list[Path]) -> list[str]:
    labels = []
    for name, d in zip(names, dirs):
        label = name if names.count(name) == 1 else f"{name} ({d})"
        while label in labels:
            label += "'"
        labels.append(label)
    return labels


def _analysis_check(out: Path, sweep: str, an: dict) -> str:
    """Does the run's analysis.json say the same (base loss, minima, crossings)?"""
    path = out / "analysis.json"
    if not path.is_file():
        return "no analysis.json"
    stored = (_read_json(path).get("sweeps") or {}).get(sweep)
    if stored is None:
        return "sweep absent from analysis.json"
    fresh = json.loads(json.dumps(an))
    keys = []
    for k in ("base_loss", "general_min", "task_base_loss", "task_min", "crossings"):
        if stored.get(k) != fresh.get(k):
            keys.append(k)
    for k in ("squaring", "compositional"):
        if (stored.get(k) or {}).get("crossings") != (fresh.get(k) or {}).get("crossings"):
            keys.append(f"{k}.crossings")
    return "matches analysis.json" if not keys else "differs from analysis.json in " + ", ".join(keys)


# ----------------------------------------------------------------------------- one line sweep
def _improvement(ref: float | None, low: float | None) -> float | None:
    """100 (ref − low) / ref: how much lower the minimum is than the value at α = 0, in %."""
    if ref is None or low is None or ref == 0:
        return None
    return 100.0 * (ref - low) / ref


def _crossing_entries(an_crossings: list[dict], unc_curve: dict | None, coefficient: float | None) -> list[dict]:
    boot = (unc_curve or {}).get("crossings") or []
    verdicts = ((unc_curve or {}).get("returns_to_base") or {}).get("crossings") or []
    out = []
    for k, c in enumerate(an_crossings):
        e = {"x": c["x"], "direction": c["direction"], "exact": c.get("exact", False),
             "coefficient": c.get("coefficient", c["x"] if coefficient is None else coefficient * c["x"]),
             "ci": None, "exists": None, "resolved": None, "statement": None}
        if k < len(boot) and boot[k]["x"] == c["x"]:
            e.update(ci=boot[k]["ci"], exists=boot[k]["exists"])
        if k < len(verdicts) and verdicts[k]["x"] == c["x"]:
            e.update(resolved=verdicts[k]["resolved"], statement=verdicts[k]["statement"])
        out.append(e)
    return out


def line_row(label: str, out: Path, cfg: dict, sweep: str, an: dict, unc: dict | None) -> dict:
    """Everything the comparison says about one line sweep of one experiment."""
    direction, task = an["direction"], an["task"]
    tv = task_vector_path(out, cfg, direction)
    norm = None
    if tv is not None:
        g = read_metadata(tv).get("global_norm")
        norm = float(g) if g is not None else None
    gmin, tmin = an["general_min"], an.get("task_min") or {}
    ok = bool(unc and unc.get("available"))
    gen = ((unc or {}).get("general") or {}) if ok else {}
    task_unc = (unc or {}).get("task") if ok else None
    row = {
        "experiment": label, "out_dir": str(out), "sweep": sweep, "direction": direction, "task": task,
        "task_vector": None if tv is None else str(tv), "task_vector_norm": norm,
        "base_loss": an["base_loss"],
        "general_min": {"alpha": gmin["x"], "loss": gmin["y"], "interior": gmin["interior"],
                        "improvement_pct": _improvement(an["base_loss"], gmin["y"]),
                        "alpha_ci": ((gen.get("line") or {}).get("argmin") or {}).get("ci"),
                        "at_observed": ((gen.get("line") or {}).get("argmin") or {}).get("at_observed")},
        "task_base_loss": an.get("task_base_loss"),
        "task_min": {"alpha": tmin.get("x"), "loss": tmin.get("y"), "interior": tmin.get("interior"),
                     "improvement_pct": _improvement(an.get("task_base_loss"), tmin.get("y")),
                     "alpha_ci": ((task_unc or {}).get("argmin") or {}).get("ci"),
                     "at_observed": ((task_unc or {}).get("argmin") or {}).get("at_observed")},
        "crossings": _crossing_entries(an["crossings"], gen.get("line"), None),
        "squaring": None if an.get("squaring") is None else
        _crossing_entries(an["squaring"]["crossings"], gen.get("squaring"), 2.0),
        "compositional": None if an.get("compositional") is None else
        _crossing_entries(an["compositional"]["crossings"], gen.get("compositional"), None),
        "returns_to_base": ((gen.get("line") or {}).get("returns_to_base") or {}).get("statement"),
        "bootstrap": {"available": ok, "reason": None if ok else (unc or {}).get("reason", "no per-point files")},
        "analysis_check": _analysis_check(out, sweep, an),
        "curves": {"alpha": an["curves"]["alpha"], "general": an["curves"]["general"], "task": an["curves"]["task"],
                   "general_diff_ci": [d["ci"] for d in (gen.get("line") or {}).get("difference", [])] or None},
    }
    return row


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


# ----------------------------------------------------------------------------- plots
def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def plot_general(rows: list[dict], path: Path, level: float) -> Path:
    """L(α) − L(0) of every line sweep on one figure, with the bootstrap band where available."""
    fig, ax = plt.subplots(figsize=(9, 5.5))
    for k, r in enumerate(rows):
        a = np.asarray(r["curves"]["alpha"], dtype=float)
        y = as_array(r["curves"]["general"]) - r["base_loss"]
        color = f"C{k % 10}"
        ax.plot(a, y, "-", marker=".", color=color, label=f"{r['experiment']}: {r['sweep']}")
        ci = r["curves"].get("general_diff_ci")
        if ci:
            lo = np.array([np.nan if c is None else c[0] for c in ci])
            hi = np.array([np.nan if c is None else c[1] for c in ci])
            ax.fill_between(a, lo, hi, color=color, alpha=0.18, linewidth=0)
        xs = [c["x"] for c in r["crossings"]]
        if xs:
            ax.plot(xs, [0.0] * len(xs), linestyle="none", marker="o", markerfacecolor="none",
                    markeredgecolor=color, markersize=7)
    ax.axhline(0.0, color="grey", linewidth=1)
    ax.set_xlabel("α (coefficient of the task vector)")
    ax.set_ylabel("L(α) − L(0), general loss (nats/token)")
    band = f"; bands: {100 * level:g}% bootstrap intervals over eval texts" if any(
        r["curves"].get("general_diff_ci") for r in rows) else ""
    ax.set_title(f"General loss relative to each run's L(0); circles: crossings{band}", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return _save(fig, path)


def plot_task(rows: list[dict], path: Path) -> Path:
    """Task-loss curves: as measured (left) and relative to the task loss at α = 0 (right)."""
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 5))
    for k, r in enumerate(rows):
        t = r["curves"].get("task")
        if t is None:
            continue
        a = np.asarray(r["curves"]["alpha"], dtype=float)
        y = as_array(t)
        label = f"{r['experiment']}: {r['task']}"
        ax.plot(a, y, "-", marker=".", color=f"C{k % 10}", label=label)
        if r["task_base_loss"] is not None:
            bx.plot(a, y - r["task_base_loss"], "-", marker=".", color=f"C{k % 10}", label=label)
    for axis, ylab in ((ax, "task loss (nats/token)"), (bx, "task loss − task loss at α = 0")):
        axis.set_xlabel("α")
        axis.set_ylabel(ylab)
        axis.grid(alpha=0.3)
        if axis.get_legend_handles_labels()[0]:
            axis.legend(fontsize=7)
    bx.axhline(0.0, color="grey", linewidth=1)
    return _save(fig, path)


def plot_cosine(cos: dict, path: Path) -> Path:
    """Heatmap of the cosine similarities (blank where not comparable)."""
    labels = cos["labels"]
    m = np.array([[np.nan if v is None else v for v in row] for row in cos["matrix"]], dtype=float)
    size = max(4.5, 0.7 * len(labels) + 2.5)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    im = ax.imshow(m, vmin=-1, vmax=1, cmap="RdBu_r")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    for i in range(len(labels)):
        for j in range(len(labels)):
            if np.isfinite(m[i, j]):
                ax.text(j, i, f"{m[i, j]:.3f}", ha="center", va="center", fontsize=7,
                        color="white" if abs(m[i, j]) > 0.6 else "black")
    fig.colorbar(im, ax=ax, label="cosine similarity")
    ax.set_title("Cosine similarity of task vectors")
    return _save(fig, path)


# ----------------------------------------------------------------------------- markdown
def _crossing_cell(entries: list[dict] | None, use_coefficient: bool = False) -> str:
    if entries is None:
        return "not evaluated"
    if not entries:
        return "none"
    return "; ".join(_f(e["coefficient"] if use_coefficient else e["x"]) for e in entries)


def _ci(ci: list | None) -> str:
    return "n/a" if not ci else f"{_f(ci[0])} .. {_f(ci[1])}"


def _pct_of(v: float | None) -> str:
    return "n/a" if v is None else _f(100.0 * v)


def render(doc: dict) -> str:
    level = doc["bootstrap"]["level"]
    pct = f"{100 * level:g}%"
    lines = ["# sitv-dist comparison", "",
             f"{len(doc['experiments'])} experiment(s), {len(doc['lines'])} line sweep(s).", "",
             "## Experiments", ""]
    lines += _table(["experiment", "output directory", "model", "line sweeps", "grid sweeps", "bootstrap"],
                    [[e["label"], e["out_dir"], e["model"] or "n/a", len(e["line_sweeps"]), len(e["grid_sweeps"]),
                      "yes" if e["bootstrap"] else "no (no per-point files)"] for e in doc["experiments"]])
    lines += ["## Line sweeps", ""]
    if not doc["lines"]:
        lines += ["No line sweeps found.", ""]
    else:
        rows = []
        for r in doc["lines"]:
            g, t = r["general_min"], r["task_min"]
            rows.append([r["experiment"], r["sweep"], r["task"] or "n/a", r["task_vector_norm"], r["base_loss"],
                         g["alpha"], g["loss"], g["improvement_pct"], r["task_base_loss"], t["alpha"], t["loss"],
                         t["improvement_pct"], _crossing_cell(r["crossings"]),
                         _crossing_cell(r["squaring"]), _crossing_cell(r["squaring"], True)])
        lines += _table(["experiment", "sweep", "task", "‖T‖", "L(0)", "α at min L", "min L",
                         "L improvement vs L(0) (%)", "task loss at α = 0", "α at min task loss", "min task loss",
                         "task improvement vs α = 0 (%)", "crossings of L(α) − L(0) (α)",
                         "squaring returns (α)", "squaring returns (2α)"], rows)
        lines += ["Improvement = 100 (value at α = 0 − minimum) / value at α = 0; 0 when the minimum is at α = 0. "
                  "Crossings are sign changes of L(α) − L(0) between neighbouring samples, located by linear "
                  "interpolation, the base point excluded (as in each run's report). A squaring return at α is a "
                  "crossing of L(2α) − L(0), i.e. of the line at 2α. ‖T‖ is the task-vector file's "
                  "`global_norm`.", ""]
    lines += ["## Uncertainty (bootstrap over eval texts)", ""]
    boot = [r for r in doc["lines"] if r["bootstrap"]["available"]]
    if not boot:
        lines += ["No per-point files with per-text losses were found, so no intervals were computed.", ""]
    else:
        b = doc["bootstrap"]
        lines += [f"{b['replicates']} paired bootstrap replicates (seed {b['seed']}): the texts of each eval set are "
                  f"drawn again with replacement{' within each category' if b['stratify'] else ''}, with the same "
                  f"draw at every α of a sweep, and every loss, crossing and arg-min is recomputed. Intervals are "
                  f"{pct} percentile intervals; a crossing's interval is over the replicates in which it is "
                  f"present. Only eval-set sampling is covered (not interpolation between samples, nor "
                  f"fine-tuning randomness).", ""]
        rows = []
        for r in boot:
            g, t = r["general_min"], r["task_min"]
            rows.append([r["experiment"], r["sweep"], g["alpha"], _ci(g["alpha_ci"]), _pct_of(g["at_observed"]),
                         t["alpha"], _ci(t["alpha_ci"]), _pct_of(t["at_observed"])])
        lines += _table(["experiment", "sweep", "α at min L", f"{pct} interval", "replicates with the same α (%)",
                         "α at min task loss", f"{pct} interval", "replicates with the same α (%)"], rows)
        rows = []
        for r in boot:
            for key, curve in CURVES:
                for k, e in enumerate(r[key] or [], 1):
                    rows.append([r["experiment"], r["sweep"], curve, k, e["x"], _ci(e["ci"]), _pct_of(e["exists"]),
                                 e["resolved"]])
        if rows:
            lines += _table(["experiment", "sweep", "curve", "#", "α (interpolated)", f"{pct} interval",
                             "present in replicates (%)", "sign change resolved"], rows)
            lines += ["'Resolved': on both sides of the crossing some sample within the same run has a "
                      f"{pct} interval of the curve − L(0) that excludes 0 with the crossing's sign.", ""]
        else:
            lines += ["No crossings observed in the bootstrapped sweeps.", ""]
        for r in boot:
            if r["returns_to_base"]:
                lines.append(f"- **{r['experiment']} / {r['sweep']}**: {r['returns_to_base']}")
        lines.append("")
    missing = [r for r in doc["lines"] if not r["bootstrap"]["available"]]
    for r in missing:
        lines.append(f"- {r['experiment']} / {r['sweep']}: no intervals ({r['bootstrap']['reason']}).")
    if missing:
        lines.append("")
    lines += ["## Cosine similarity of task vectors", ""]
    cos = doc["cosine"]
    if not cos["labels"]:
        lines += ["No task-vector files found.", ""]
    else:
        lines += _table(["task vector"] + cos["labels"],
                        [[a] + [v for v in row] for a, row in zip(cos["labels"], cos["matrix"])])
        lines += ["cos(T1, T2) = ⟨T1, T2⟩ / (‖T1‖ ‖T2‖) over all parameters, accumulated in float64. "
                  "n/a: the two vectors do not have the same tensors (e.g. different base models).", ""]
    if doc["grids"]:
        lines += ["## Grid sweeps", ""]
        lines += _table(["experiment", "sweep", "directions", "L(0, 0)", "min loss", "at", "additive-model R²"],
                        [[g["experiment"], g["sweep"], ", ".join(g["directions"]), g["base_loss"], g["min_loss"],
                          "(" + ", ".join(_f(v) for v in g["min_at"]) + ")" if g["min_at"] else "n/a", g["r2"]]
                         for g in doc["grids"]])
    checks = [r for r in doc["lines"] if r["analysis_check"] not in ("matches analysis.json", "no analysis.json")]
    lines += ["## Consistency", ""]
    lines += [f"- {r['experiment']} / {r['sweep']}: {r['analysis_check']}" for r in checks] or [
        "Every number above was computed from each run's results files; where a run has an analysis.json, "
        "its base loss, minima and crossings agree with it."]
    lines += ["", "## Plots", ""] + [f"![{Path(p).stem}]({p})" for p in doc["plots"]]
    return "\n".join(lines).rstrip() + "\n"


# ----------------------------------------------------------------------------- entry point
def compare(out_dirs: Sequence[Path], dest: Path, replicates: int = uncertainty.DEFAULT_REPLICATES,
            level: float = uncertainty.DEFAULT_LEVEL, seed: int = 0, stratify: bool = True) -> dict:
    """Compare the line sweeps of several runs; write compare.md, compare.json and plots to ``dest``.

    ``replicates=0`` skips the bootstrap. Returns the contents of compare.json.
    """
    outs = [Path(d) for d in out_dirs]
    dest = Path(dest)
    for o in outs:
        if not (o / "results").is_dir() or not any((o / "results").glob("*.json")):
            raise FileNotFoundError(f"{o / 'results'} has no results files: reduce the run first (`sitv reduce {o}`)")
    cfgs = [_config(o) for o in outs]
    labels = _unique_labels([experiment_name(c, o) for c, o in zip(cfgs, outs)], outs)
    experiments, lines, grids, vectors = [], [], [], {}
    for label, out, cfg in zip(labels, outs, cfgs):
        results = {p.stem: _read_json(p) for p in sorted((out / "results").glob("*.json"))}
        has_points = (out / "points").is_dir() and (out / "eval_sets.json").is_file()
        points = bootstrap_run.PointFiles(out) if has_points else None
        exp = {"label": label, "out_dir": str(out), "model": (cfg.get("model") or {}).get("name_or_path")
               if isinstance(cfg.get("model"), dict) else None, "line_sweeps": [], "grid_sweeps": [],
               "bootstrap": False}
        for sweep, res in results.items():
            an = analyse(res)
            if res.get("kind") == "line":
                unc = None
                if points is not None and replicates > 0:
                    unc = bootstrap_run.sweep_uncertainty(out, res, replicates, level, seed, stratify, points=points)
                row = line_row(label, out, cfg, sweep, an, unc)
                lines.append(row)
                exp["line_sweeps"].append(sweep)
                exp["bootstrap"] = exp["bootstrap"] or row["bootstrap"]["available"]
                dirs = [row["direction"]]
            else:
                m = an.get("min") or {}
                grids.append({"experiment": label, "sweep": sweep, "directions": an["directions"],
                              "base_loss": an["base_loss"], "min_loss": m.get("loss"), "min_at": m.get("coefficients"),
                              "r2": (an.get("additivity") or {}).get("r2")})
                exp["grid_sweeps"].append(sweep)
                dirs = list(an["directions"])
            for d in dirs:
                tv = task_vector_path(out, cfg, d)
                if tv is not None:
                    vectors.setdefault(f"{label}: {d}", tv)
        experiments.append(exp)
    cos = cosine_table(vectors)
    plots = [plot_general(lines, dest / "plots" / "compare_general.png", level)]
    if any(r["curves"]["task"] is not None for r in lines):
        plots.append(plot_task(lines, dest / "plots" / "compare_task.png"))
    if len(cos["labels"]) >= 2:
        plots.append(plot_cosine(cos, dest / "plots" / "compare_cosine.png"))
    doc = to_jsonable({
        "schema": SCHEMA, "experiments": experiments, "lines": lines, "grids": grids, "cosine": cos,
        "bootstrap": {"replicates": int(replicates), "level": float(level), "seed": int(seed),
                      "stratify": bool(stratify)},
        "plots": [p.relative_to(dest).as_posix() for p in plots]})
    _write_atomic(dest / "compare.json", json.dumps(doc, indent=1, allow_nan=False) + "\n")
    _write_atomic(dest / "compare.md", render(doc))
    return doc
