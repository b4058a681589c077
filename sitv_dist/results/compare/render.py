"""compare.md: the comparison document (:func:`.comparison.compare`'s dict) as Markdown, every
number through :func:`..markdown.fmt`. The wording says what was measured and with what
uncertainty; it does not interpret the curves."""
from __future__ import annotations

from pathlib import Path

from ..markdown import fmt, interval, percent, table
from .rows import ANALYSIS_FILE, MATCHES_ANALYSIS, NO_ANALYSIS

CURVES = (("crossings", "L(α)"), ("squaring", "L(2α)"), ("compositional", "L(α+α²)"))   # row key, curve


def _crossing_cell(entries: list[dict] | None, use_coefficient: bool = False) -> str:
    """Each crossing's location, marked as in the run report: ✓ resolved, or (not resolved)
    when the bootstrap says it is within the eval set's noise; unmarked without a bootstrap."""
    if entries is None:
        return "not evaluated"
    if not entries:
        return "none"
    marks = {True: " ✓", False: " (not resolved)", None: ""}
    return "; ".join(fmt(e["coefficient"] if use_coefficient else e["x"]) + marks[e.get("resolved")]
                     for e in entries)


def _pct_of(v: float | None) -> str:
    return percent(v)


def render(doc: dict) -> str:
    level = doc["bootstrap"]["level"]
    pct = f"{100 * level:g}%"
    lines = ["# sitv-dist comparison", "",
             f"{len(doc['experiments'])} experiment(s), {len(doc['lines'])} line sweep(s).", "",
             "## Experiments", ""]
    lines += table(["experiment", "output directory", "model", "line sweeps", "grid sweeps", "bootstrap"],
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
                         g["alpha"], g["loss"], fmt(g["improvement_pct"], 1), r["task_base_loss"], t["alpha"],
                         t["loss"], fmt(t["improvement_pct"], 1), _crossing_cell(r["crossings"]),
                         _crossing_cell(r["squaring"]), _crossing_cell(r["squaring"], True)])
        lines += table(["experiment", "sweep", "task", "‖T‖", "L(0)", "α at min L", "min L",
                        "L improvement vs L(0) (%)", "task loss at α = 0", "α at min task loss", "min task loss",
                        "task improvement vs α = 0 (%)", "crossings of L(α) − L(0) (α)",
                        "squaring returns (α)", "squaring returns (2α)"], rows)
        lines += ["Improvement = 100 (value at α = 0 − minimum) / value at α = 0; 0 when the minimum is at α = 0. "
                  "Minima and crossings are over every evaluated point on the line (the α grid, 2α, α+α² and "
                  "refinement points), as in each run's report; crossings are sign changes of L(α) − L(0) between "
                  "neighbouring points, located by linear interpolation, the base point excluded, marked ✓ when "
                  "resolved against the eval set's noise and '(not resolved)' when within it. A squaring return at α is a "
                  "crossing of L(2α) − L(0), i.e. the line's crossing at c = 2α (the same crossing as the "
                  "report's, read from its findings, so the two columns are one value and its half). ‖T‖ is the task-vector file's "
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
            rows.append([r["experiment"], r["sweep"], g["alpha"], interval(g["alpha_ci"]), _pct_of(g["at_observed"]),
                         t["alpha"], interval(t["alpha_ci"]), _pct_of(t["at_observed"])])
        lines += table(["experiment", "sweep", "α at min L", f"{pct} interval", "replicates with the same α",
                        "α at min task loss", f"{pct} interval", "replicates with the same α"], rows)
        rows = []
        for r in boot:
            for key, curve in CURVES:
                for k, e in enumerate(r[key] or [], 1):
                    rows.append([r["experiment"], r["sweep"], curve, k, e["x"], interval(e["ci"]), _pct_of(e["exists"]),
                                 e["resolved"]])
        if rows:
            lines += table(["experiment", "sweep", "curve", "#", "α (interpolated)", f"{pct} interval",
                            "present in replicates", "sign change resolved"], rows)
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
        lines += table(["task vector"] + cos["labels"],
                       [[a] + [v for v in row] for a, row in zip(cos["labels"], cos["matrix"])])
        lines += ["cos(T1, T2) = ⟨T1, T2⟩ / (‖T1‖ ‖T2‖) over all parameters, accumulated in float64. "
                  "n/a: the two vectors do not have the same tensors (e.g. different base models).", ""]
    if doc["grids"]:
        lines += ["## Grid sweeps", ""]
        lines += table(["experiment", "sweep", "directions", "L(0, 0)", "min loss", "at", "additive-model R²"],
                       [[g["experiment"], g["sweep"], ", ".join(g["directions"]), g["base_loss"], g["min_loss"],
                         "(" + ", ".join(fmt(v) for v in g["min_at"]) + ")" if g["min_at"] else "n/a", g["r2"]]
                        for g in doc["grids"]])
    checks = [r for r in doc["lines"] if r["analysis_check"] not in (MATCHES_ANALYSIS, NO_ANALYSIS)]
    lines += ["## Consistency", ""]
    lines += [f"- {r['experiment']} / {r['sweep']}: {r['analysis_check']}" for r in checks] or [
        "Every number above was computed from each run's results files; where a run has an "
        f"{ANALYSIS_FILE}, "
        "its base loss, minima and crossings agree with it."]
    lines += ["", "## Plots", ""] + [f"![{Path(p).stem}]({p})" for p in doc["plots"]]
    return "\n".join(lines).rstrip() + "\n"
