"""The report's sections other than the lines' (those are in :mod:`.line_sections`):

- Configuration (:func:`configuration`): the settings that say what was measured (experiment,
  model, tasks, sweeps, eval and fine-tuning lengths) as named rows from the typed resolved
  config, and a link to the whole file. A file that does not convert to the dataclasses falls
  back to the first match of each key in the raw YAML.
- Slope and curvature at α = 0 (:func:`derivatives_section`): per line, each eval set's exact
  slope g = dL/dα and curvature h = d²L/dα² with bootstrap intervals, the quadratic's predicted
  minimum −g/h and return −2g/h beside the measured minimum, and the random controls of equal
  norm.
- Interpolation and merging (:func:`barrier_section`, :func:`merge_section`): loss barriers of
  lines on which 0 and 1 are sampled (:mod:`..analysis.barrier`), and merge sweeps
  L(α, density) (:mod:`..analysis.merge_sweeps`).

Numbers come from the analysis dict and go through :func:`..markdown.fmt`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ...config import ExperimentConfig
from ...outdir import OutDir
from ..analysis.barrier import each
from ..markdown import fmt, interval, table

CONFIG_FILE = OutDir(".").config.name       # the file name, as OutDir lays OUT out


def _resolved_rows(cfg: ExperimentConfig) -> list[list[Any]]:
    """Explicit rows: each names the setting it shows (eval and fine-tuning have their own max_length)."""
    grids = "; ".join((f"{g.name}: " if g.name else "") + " × ".join(g.directions) for g in cfg.sweep.grids)
    return [["experiment", cfg.name],
            ["model", f"name_or_path={cfg.model.name_or_path}, dtype={cfg.model.dtype}"],
            ["tasks", ", ".join(t.name for t in cfg.tasks) or "none"],
            ["sweep.directions", ", ".join(cfg.sweep.directions) or "none"],
            ["sweep.grids", grids or "none"],
            ["eval.max_length", cfg.eval.max_length],
            ["eval.batch_size", cfg.eval.batch_size],
            ["finetune.max_length", cfg.finetune.max_length]]


def _cfg_value(v: Any) -> str:
    """Compact one-cell rendering of a config entry."""
    if isinstance(v, dict):
        return ", ".join(f"{k}={w}" for k, w in v.items() if not isinstance(w, (dict, list)))[:160]
    if isinstance(v, list):
        return ", ".join(str(x.get("name", x)) if isinstance(x, dict) else str(x) for x in v)[:160]
    return str(v)


def _find_key(cfg: Any, key: str) -> Any:
    """First value of ``key`` anywhere in a nested mapping (depth-first)."""
    if isinstance(cfg, dict):
        if key in cfg:
            return cfg[key]
        for v in cfg.values():
            found = _find_key(v, key)
            if found is not None:
                return found
    return None


def _raw_rows(cfg: Any) -> list[list[Any]]:
    """The fallback for a file that does not convert: top-level keys, else the first match anywhere."""
    rows = []
    for key in ("experiment", "model", "tasks", "sweeps", "max_length"):
        v = cfg.get(key) if isinstance(cfg, dict) and key in cfg else _find_key(cfg, key)
        if v is not None:
            rows.append([key, _cfg_value(v)])
    return rows


def configuration(run: dict) -> list[str]:
    """The section's lines; ``run`` as :func:`.run_report.load_run` returns it."""
    lines = ["## Configuration", ""]
    text = run["config_text"]
    if text is None:
        return lines + [f"No {CONFIG_FILE} found.", ""]
    resolved = run.get("resolved")
    rows = _resolved_rows(resolved) if resolved is not None else _raw_rows(run["config"])
    if rows:
        lines += table(["field", "value"], rows)
    return lines + [f"Every setting: [{CONFIG_FILE}]({CONFIG_FILE}) (the resolved configuration, overrides "
                    "applied).", ""]


# ----------------------------------------------------------------------------- slope and curvature
def _g(v) -> str:
    """Three significant digits: slopes and curvatures span many orders of magnitude."""
    return "n/a" if v is None else f"{float(v):.3g}"


def _ci(ci) -> str:
    return "n/a" if not ci or ci[0] is None else f"{_g(ci[0])} .. {_g(ci[1])}"


def _controls(controls: list[dict], name: str, key: str) -> str:
    vals = [c["sets"][name][key] for c in controls if name in c["sets"]]
    return ", ".join(_g(v) for v in vals) if vals else "—"


def _beyond(v: dict) -> str:
    def word(x):
        return "—" if x is None else "yes" if x else "no"
    return f"{word(v.get('slope_beyond_controls'))}, {word(v.get('curvature_beyond_controls'))}"


def _excludes_zero(ci) -> bool | None:
    return None if not ci or ci[0] is None else bool(ci[0] > 0 or ci[1] < 0)


def _return_cell(v: dict) -> str:
    """−2g/h marked for what it is: on a concave quadratic (h < 0) it is where L(0) is left
    behind on the way up, not a return after a dip, and with an interval of g or h that
    contains 0 the prediction is within the eval set's noise (not resolved)."""
    r, h = v.get("predicted_return"), v.get("curvature")
    if r is None:
        return "n/a"
    marks = (["concave"] if h is not None and h < 0 else []) + \
        (["not resolved"] if False in (_excludes_zero(v.get("slope_interval")),
                                       _excludes_zero(v.get("curvature_interval"))) else [])
    return _g(r) + (f" ({', '.join(marks)})" if marks else "")


def _nearest(items: list[dict]) -> float | None:
    xs = [i["x"] for i in items if i.get("x") is not None]
    return min(xs, key=abs) if xs else None


def _measured(a: dict) -> list[str]:
    """What the sampled line shows beside the quadratic's predictions: the line's findings (over
    every point on it, the ones the summary and the line's section report)."""
    f = a.get("findings")
    if not f:
        return []
    m = _nearest([x for x in f["minima"]])
    c = _nearest([x for x in f["crossings"]])
    return [f"Measured over all {f['samples']} points of the line: the interior minimum of the general loss "
            f"nearest α = 0 is at {_g(m) if m is not None else 'none'}, the crossing of L(0) nearest α = 0 at "
            f"{_g(c) if c is not None else 'none'} (compare −g/h and −2g/h of the general row).", ""]


def derivatives_section(an: dict) -> list[str]:
    lines_ = {n: a for n, a in an.get("sweeps", {}).items() if a.get("kind") == "line" and a.get("derivatives")}
    grids = {n: a for n, a in an.get("sweeps", {}).items() if a.get("kind") == "grid" and a.get("derivatives")}
    if not lines_ and not grids:
        return []
    out = ["## Slope and curvature at α = 0", "",
           "Exact derivatives of each eval set's loss along the direction (forward-mode automatic "
           "differentiation of the float32 network, per text; intervals: paired bootstrap over eval texts). "
           "The quadratic L(0) + gα + hα²/2 has its minimum at −g/h (when h > 0) and returns to L(0) at −2g/h; "
           "−2g/h is marked 'concave' when h < 0 (no dip, the quadratic only rises back through L(0)) and 'not "
           "resolved' when the interval of g or of h contains 0. "
           "Controls are random directions of the same norm: a slope or curvature outside every control's "
           "interval marks the direction as special for that loss.", ""]
    for name, a in lines_.items():
        d, controls = a["derivatives"], a.get("derivative_controls") or []
        out += [f"### {name}", ""]
        rows = [[s, _g(v["slope"]), _ci(v["slope_interval"]), _g(v["curvature"]), _ci(v["curvature_interval"]),
                 _g(v["predicted_min"]), _return_cell(v), _controls(controls, s, "slope"),
                 _controls(controls, s, "curvature"), _beyond(v)] for s, v in d.items()]
        out += table(["eval set", "slope g", "interval", "curvature h", "interval", "−g/h", "−2g/h",
                      "controls' g", "controls' h", "outside every control's interval (g, h)"], rows)
        out += _measured(a)
    for name, a in grids.items():
        out += [f"### {name} (directions: {', '.join(a['directions'])})", ""]
        rows = [[s, ", ".join(_g(x) for x in v["gradient"]),
                 "; ".join(", ".join(_g(x) for x in r) for r in v["hessian"]),
                 "n/a" if v.get("predicted_min") is None else "(" + ", ".join(_g(x) for x in v["predicted_min"]) + ")"]
                for s, v in a["derivatives"].items()]
        out += table(["eval set", "gradient (g₁, g₂)", "Hessian block (rows)", "−H⁻¹g (H positive definite)"], rows)
    return out


# ----------------------------------------------------------------------------- barriers and merge sweeps
def barrier_section(an: dict) -> list[str]:
    lines = ["## Loss barriers", ""]
    rows, others = [], 0
    for name, a in an["sweeps"].items():
        for loss, b in each(a.get("barrier") if a.get("kind") == "line" else None):
            if loss not in ("general", a.get("task")):       # every task's barrier is in analysis.json
                others += 1
                continue
            rows.append([name, loss, b.get("loss_0"), b.get("loss_1"), b.get("value"), b.get("alpha"),
                         interval(b.get("interval"))])
    if not rows:
        return lines + ["No line sweep samples both α = 0 and α = 1.", ""]
    lines += table(["sweep", "loss", "L(0)", "L(1)", "barrier", "at α", "bootstrap interval"], rows)
    if others:
        lines += [f"The barriers of the other {others} task losses along these lines are in analysis.json.", ""]
    return lines + ["The barrier is max over the sampled α in [0, 1] of L(α) − ((1 − α)L(0) + αL(1)) (ends "
                    "included, so it is ≥ 0): with T = ft2 − ft1 it is the barrier of linear interpolation "
                    "between two fine-tunes. The interval is a paired bootstrap over eval texts; n/a when the "
                    "per-text data are not on disk.", ""]


def merge_section(an: dict) -> list[str]:
    lines = ["## Merge sweeps: L(α, density)", ""]
    merges = an.get("merge_sweeps") or {}
    if not merges:
        return lines
    for name, m in merges.items():
        lines += [f"### {name}: {m['op']} of {', '.join(m['of'])}", ""]
        best = m.get("min") or {}
        lines.append(f"Base loss L(0) = {fmt(m['base_loss'])}; lowest general loss {fmt(best.get('loss'))} at "
                     f"density {fmt(best.get('density'))}, α = {fmt(best.get('alpha'))} "
                     f"({len(m['densities'])} densities × {len(m['alpha'])} α).")
        lines.append("")
        tasks = list(m["tasks"])
        rows = []
        for d in m["per_density"]:
            g = d["general_min"] or {}
            rows.append([d["density"], g.get("loss"), g.get("alpha"), d["barrier"]]
                        + [(d["task_min"].get(t) or {}).get("loss") for t in tasks]
                        + [f"`{d['direction']}`"])
        lines += table(["density", "min general loss", "α at min", "barrier"] + [f"min {t} loss" for t in tasks]
                       + ["direction"], rows)
        lines += [f"![{name}: {Path(p).stem}]({p})" for p in an.get("plots", {}).get(name, [])] + [""]
    lines.append("Each density's merged direction is an ordinary line sweep (its crossings, bootstrap and "
                 "refinement are in the sections above); barrier: general loss, n/a unless α = 0 and 1 are sampled.")
    return lines + [""]
