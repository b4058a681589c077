"""What the comparison says about one sweep of one run: a line sweep's row (base loss, minima
and their improvement, crossings with their bootstrap intervals and verdicts, the task
vector's norm, the check against the run's own analysis file) and a grid sweep's row."""
from __future__ import annotations

import json
from pathlib import Path

from ...outdir import OutDir
from ...vectors.taskvector import read_metadata
from ..report.findings import line_findings
from ..run_config import RunConfig

ANALYSIS_FILE = OutDir(".").analysis.name   # the file name, as OutDir lays OUT out
NO_ANALYSIS = f"no {ANALYSIS_FILE}"
MATCHES_ANALYSIS = f"matches {ANALYSIS_FILE}"


def task_vector_path(out: Path, cfg: RunConfig, direction: str) -> Path | None:
    """The file of a direction: ``sweep.task_vectors[direction]`` in the resolved config,
    else the run's own task vector (:meth:`OutDir.task_vector`); None if neither exists."""
    explicit = cfg.task_vectors().get(direction)
    candidates = []
    if explicit:
        p = Path(str(explicit)).expanduser()
        candidates += [p] if p.is_absolute() else [p, out / p, out.parent / p]
    candidates.append(OutDir(out).task_vector(direction))
    return next((c for c in candidates if c.is_file()), None)


def _analysis_check(out: Path, sweep: str, an: dict) -> str:
    """Does the run's analysis file say the same (base loss, minima, crossings)?"""
    run = OutDir(out)
    if not run.analysis.is_file():
        return NO_ANALYSIS
    stored = (run.read_optional(run.analysis).get("sweeps") or {}).get(sweep)
    if stored is None:
        return f"sweep absent from {ANALYSIS_FILE}"
    fresh = json.loads(json.dumps(an))
    keys = []
    for k in ("base_loss", "general_min", "task_base_loss", "task_min", "crossings"):
        if stored.get(k) != fresh.get(k):
            keys.append(k)
    for k in ("squaring", "compositional"):
        if (stored.get(k) or {}).get("crossings") != (fresh.get(k) or {}).get("crossings"):
            keys.append(f"{k}.crossings")
    return MATCHES_ANALYSIS if not keys else f"differs from {ANALYSIS_FILE} in " + ", ".join(keys)


def _improvement(ref: float | None, low: float | None) -> float | None:
    """100 (ref − low) / ref: how much lower the minimum is than the value at α = 0, in %."""
    if ref is None or low is None or ref == 0:
        return None
    return 100.0 * (ref - low) / ref


def _entry(c: dict, alpha: float, coefficient: float, interval, statement: str | None) -> dict:
    """One crossing as compare lists it: at α on its curve, at ``coefficient`` on the line."""
    return {"x": alpha, "direction": c["direction"], "coefficient": coefficient, "ci": interval,
            "exists": c["exists"], "resolved": c["resolved"], "statement": statement}


def crossing_entries(findings: dict, unc_line: dict | None, alpha: list[float]) -> dict[str, list[dict]]:
    """The crossings of L(α), L(2α) and L(α + α²), all read from the report's findings of the
    line (:func:`..report.findings.line_findings`): L(2α) and L(α + α²) are the line at 2α
    and α + α², so their returns are the line's crossings c mapped back to the α that reaches
    c (α = c/2; α² + α − c = 0), kept where that α lies in the swept α range. One truth:
    compare and the report cannot disagree on a crossing."""
    verdicts = ((unc_line or {}).get("returns_to_base") or {}).get("crossings") or []
    statement = {v["x"]: v.get("statement") for v in verdicts}
    lo, hi = (min(alpha), max(alpha)) if alpha else (0.0, 0.0)
    inside = lambda a: lo - 1e-12 <= a <= hi + 1e-12 and a not in (0.0, -1.0)   # noqa: E731
    out: dict[str, list[dict]] = {"crossings": [], "squaring": [], "compositional": []}
    for c in findings["crossings"]:
        ci = c["interval"]
        out["crossings"].append(_entry(c, c["x"], c["x"], ci, statement.get(c["x"])))
        if inside(c["x"] / 2):
            out["squaring"].append(_entry(c, c["x"] / 2, c["x"], None if ci is None else [v / 2 for v in ci], None))
        if 1 + 4 * c["x"] >= 0:
            for sign in (1.0, -1.0):
                a = (-1 + sign * (1 + 4 * c["x"]) ** 0.5) / 2
                if inside(a):
                    out["compositional"].append(_entry(c, a, c["x"], None, None))
    out["compositional"].sort(key=lambda e: e["x"])
    return out


def line_row(label: str, out: Path, cfg: RunConfig, sweep: str, an: dict, unc: dict | None) -> dict:
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
    crossings = crossing_entries(line_findings(an, unc), gen.get("line"), an["curves"]["alpha"])
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
        "crossings": crossings["crossings"],
        "squaring": None if an.get("squaring") is None else crossings["squaring"],
        "compositional": None if an.get("compositional") is None else crossings["compositional"],
        "returns_to_base": ((gen.get("line") or {}).get("returns_to_base") or {}).get("statement"),
        "bootstrap": {"available": ok, "reason": None if ok else (unc or {}).get("reason", "no per-point files")},
        "analysis_check": _analysis_check(out, sweep, an),
        # every point on the line, as the findings (and the bootstrap) use them; task on the α grid
        "curves": {"alpha": an["samples"]["c"], "general": an["samples"]["general"],
                   "task_alpha": an["curves"]["alpha"], "task": an["curves"]["task"],
                   "general_diff_ci": [d["ci"] for d in (gen.get("line") or {}).get("difference", [])] or None},
    }
    return row


def grid_row(label: str, sweep: str, an: dict) -> dict:
    """A grid sweep: its base loss, minimum and the additive model's R²."""
    m = an.get("min") or {}
    return {"experiment": label, "sweep": sweep, "directions": an["directions"], "base_loss": an["base_loss"],
            "min_loss": m.get("loss"), "min_at": m.get("coefficients"), "r2": (an.get("additivity") or {}).get("r2")}
