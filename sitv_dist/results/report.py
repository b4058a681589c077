"""The run report: ``OUT/analysis.json``, ``OUT/plots/*.png`` and ``OUT/report.md``.

Reads only files described in docs/layout.md. Every number printed comes from the results,
plan, timings, history or analysis dicts, formatted one way (``{:.4f}``), so the report's base
loss is the L(0) entry itself. The wording says what was measured and claims nothing more.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

from .analysis import analyse, to_jsonable
from .refined import refined_summary
from .bootstrap_run import run_uncertainty
from .plots import plot_sweep

NO_CROSSING = "no sign change of L(α) − L(0) in the sampled range"


# ----------------------------------------------------------------------------- I/O
def _read_json(path: Path) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _write_atomic(path: Path, text: str) -> None:
    """Temp file, fsync, rename: a crash never leaves a half-written report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load_run(out_dir: Path) -> dict:
    """Everything the report reads; optional files come back as None (or empty)."""
    out = Path(out_dir)
    opt = lambda p: _read_json(p) if p.exists() else None  # noqa: E731
    cfg_path = out / "config.resolved.yaml"
    cfg_text = cfg_path.read_text(encoding="utf-8") if cfg_path.exists() else None
    return {
        "results": {p.stem: _read_json(p) for p in sorted((out / "results").glob("*.json"))},
        "plan": opt(out / "plan.json"),
        "timings": opt(out / "timings.json"),
        "config_text": cfg_text,
        "config": yaml.safe_load(cfg_text) if cfg_text else None,
        "histories": {p.parent.name: _read_json(p)
                      for p in sorted((out / "finetune").glob("*/history.json"))},
    }


# ----------------------------------------------------------------------------- summaries
def dedupe_summary(plan: dict | None) -> dict | None:
    """How many evaluations the planner saved by evaluating each unique point once."""
    if not plan or "requested_evaluations" not in plan or "unique_points" not in plan:
        return None
    req, uniq = int(plan["requested_evaluations"]), int(plan["unique_points"])
    return {"requested_evaluations": req, "unique_points": uniq, "saved": req - uniq,
            "saved_fraction": (req - uniq) / req if req else None}


def timing_summary(timings: dict | None, results: dict) -> dict:
    """Stage times plus the mean evaluation time per unique point (ids shared by sweeps once)."""
    times = {}
    for res in results.values():
        for p in res.get("points", []):
            if p.get("time_s") is not None:
                times[p.get("id") or json.dumps(p.get("coefficients"))] = float(p["time_s"])
    vals = list(times.values())
    stages = {k: float(v) for k, v in (timings or {}).items() if isinstance(v, (int, float))}
    return {"stages": stages, "total_s": sum(stages.values()) if stages else None,
            "points_timed": len(vals), "point_time_mean_s": sum(vals) / len(vals) if vals else None,
            "point_time_total_s": sum(vals) if vals else None}


def history_summary(hist: dict) -> dict:
    """Epochs, best epoch, early stop and the last epoch's train/val loss of one fine-tune."""
    epochs = hist.get("epochs") or []
    last = epochs[-1] if epochs else {}
    return {"epochs_run": hist.get("epochs_run", len(epochs)), "best_epoch": hist.get("best_epoch"),
            "stopped_early": hist.get("stopped_early"), "final_train_loss": last.get("train_loss"),
            "final_val_loss": last.get("val_loss"), "time_s": hist.get("time_s")}


def build_analysis(run: dict) -> dict:
    """The contents of analysis.json (without the plot list, added once plots exist)."""
    return to_jsonable({
        "schema": "sitv-dist/analysis/1",
        "sweeps": {name: analyse(res) for name, res in run["results"].items()},
        "refined": {name: summary for name, res in run["results"].items()
                    if (summary := refined_summary(res)) is not None},
        "dedupe": dedupe_summary(run["plan"]),
        "timing": timing_summary(run["timings"], run["results"]),
        "training": {task: history_summary(h) for task, h in run["histories"].items()},
    })


# ----------------------------------------------------------------------------- formatting
def _f(v: Any) -> str:
    """Every number in the report goes through here: one format, 'n/a' for missing/non-finite."""
    if v is None:
        return "n/a"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return str(v)
    return "{:.4f}".format(float(v))


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    def cell(v: Any) -> str:
        return (v if isinstance(v, str) else _f(v)).replace("|", "\\|")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows] + [""]


def _pt(xy: list, label: str = "L") -> str:
    return f"(α = {_f(xy[0])}, {label} = {_f(xy[1])})"


def _coords(c: list) -> str:
    return "(" + ", ".join(_f(v) for v in c) + ")"


# ----------------------------------------------------------------------------- sections
def _summary(an: dict) -> list[str]:
    rows = []
    for name, a in an["sweeps"].items():
        if a["kind"] == "line":
            g, t = a["general_min"], a.get("task_min") or {}
            rows.append([name, "line", a["base_loss"], g["y"], g["x"], t.get("y"), t.get("x"),
                         len(a["crossings"])])
        else:
            m = a.get("min") or {}
            rows.append([name, "grid", a["base_loss"], m.get("loss"),
                         _coords(m["coefficients"]) if m else "n/a", None, None, "—"])
    lines = ["## Summary", ""]
    if not rows:
        return lines + ["No results/*.json found.", ""]
    lines += _table(["sweep", "kind", "base loss L(0)", "min general loss", "α at min",
                     "min task loss", "α at task min", "crossings"], rows)
    lines.append("Crossings are sign changes of L(α) − L(0) between neighbouring samples, located "
                 "by linear interpolation; the base point α = 0 is excluded. Non-finite losses "
                 "are shown as n/a.")
    for name, a in an["sweeps"].items():
        bad = {k: v for k, v in a.get("nonfinite", {}).items() if v}
        if bad:
            lines.append(f"- `{name}`: non-finite losses: " + ", ".join(f"{k} {v}" for k, v in bad.items()))
    return lines + [""]


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


def _configuration(run: dict) -> list[str]:
    lines = ["## Configuration", ""]
    cfg, text = run["config"], run["config_text"]
    if text is None:
        return lines + ["No config.resolved.yaml found.", ""]
    rows = []
    for key in ("experiment", "model", "tasks", "sweeps", "max_length"):
        v = cfg.get(key) if isinstance(cfg, dict) and key in cfg else _find_key(cfg, key)
        if v is not None:
            rows.append([key, _cfg_value(v)])
    if rows:
        lines += _table(["field", "value"], rows)
    return lines + ["<details><summary>config.resolved.yaml</summary>", "", "```yaml",
                    text.rstrip(), "```", "", "</details>", ""]


def _timing(an: dict) -> list[str]:
    t = an["timing"]
    lines = ["## Timing breakdown", ""]
    if t["stages"]:
        rows = [[k, v, 100.0 * v / t["total_s"] if t["total_s"] else None] for k, v in t["stages"].items()]
        lines += _table(["stage", "seconds", "% of total"], rows + [["total", t["total_s"], None]])
    else:
        lines += ["No timings.json found.", ""]
    lines.append(f"Evaluation time per point: mean {_f(t['point_time_mean_s'])} s over "
                 f"{t['points_timed']} unique points (sum {_f(t['point_time_total_s'])} s).")
    return lines + [""]


def _training(an: dict) -> list[str]:
    lines = ["## Training history", ""]
    if not an["training"]:
        return lines + ["No fine-tuning histories found.", ""]
    rows = [[task, h["epochs_run"], h["best_epoch"], h["stopped_early"], h["final_train_loss"],
             h["final_val_loss"], h["time_s"]] for task, h in an["training"].items()]
    return lines + _table(["task", "epochs run", "best epoch", "stopped early", "final train loss",
                           "final val loss", "time (s)"], rows)


def _results(an: dict) -> list[str]:
    lines = ["## Results", ""]
    for name, a in an["sweeps"].items():
        if a["kind"] != "line":
            continue
        c = a["curves"]
        n = len(c["alpha"])
        col = lambda k: c[k] if c.get(k) is not None else [None] * n  # noqa: E731
        rows = [list(r) for r in zip(c["alpha"], c["general"], col("task"), col("squaring"),
                                     col("compositional"))]
        lines += [f"### {name} (direction `{a['direction']}`, task `{a['task']}`)", ""]
        lines += _table(["α", "L(α)", "task loss", "L(2α)", "L(α+α²)"], rows)
    return lines


def _crossing_rows(crossings: list[dict], mapped: bool, label: str) -> list[list[Any]]:
    rows = []
    for k, x in enumerate(crossings, 1):
        row = [k, x["x"]] + ([x["coefficient"]] if mapped else [])
        rows.append(row + [x["direction"] + (" (sample at L(0))" if x.get("exact") else ""),
                           _pt(x["left"], label), _pt(x["right"], label)])
    return rows


def _curve_section(an: dict, title: str, key: str | None, label: str, mlabel: str = "") -> list[str]:
    lines = [f"## {title}", ""]
    for name, a in an["sweeps"].items():
        if a["kind"] != "line":
            continue
        part = a if key is None else a.get(key)
        lines += [f"### {name}", ""]
        if part is None:
            lines += ["Not evaluated in this sweep.", ""]
            continue
        if key is not None:
            m = part["min"]
            lines += [part["note"], "", f"Minimum of {label}: {_f(m['y'])} at α = {_f(m['x'])}.", ""]
        if not part["crossings"]:
            lines += [NO_CROSSING if key is None else
                      f"no sign change of {label} − L(0) in the sampled range", ""]
            continue
        head = ["#", "α (interpolated)"] + ([f"{mlabel} (coefficient on the line)"] if mlabel else [])
        lines += _table(head + ["direction", "left sample", "right sample"],
                        _crossing_rows(part["crossings"], bool(mlabel), label))
    return lines


def _ci(ci: list | None) -> str:
    return "n/a" if not ci else f"{_f(ci[0])} .. {_f(ci[1])}"


def _uncertainty(an: dict) -> list[str]:
    """Bootstrap intervals (only when the run's per-point files were there to resample)."""
    unc = an.get("uncertainty")
    if not unc:
        return []
    first = next((u for u in unc.values() if u.get("available")), None)
    lines = ["## Uncertainty (bootstrap over eval texts)", ""]
    if first is not None:
        pct = f"{100 * first['level']:g}%"
        lines += [f"{first['replicates']} paired bootstrap replicates (seed {first['seed']}): the texts of each "
                  f"eval set are drawn again with replacement{' within each category' if first['stratified'] else ''}, "
                  f"with the same draw at every α, and every loss, crossing and arg-min is recomputed "
                  f"({pct} percentile intervals; a crossing's interval is over the replicates in which it is "
                  f"present). Only eval-set sampling is covered, not interpolation between samples or "
                  f"fine-tuning randomness.", ""]
    for name, u in unc.items():
        lines += [f"### {name}", ""]
        if not u.get("available"):
            lines += [f"Not computed: {u.get('reason')}.", ""]
            continue
        pct = f"{100 * u['level']:g}%"
        line = u["general"]["line"]
        am = line["argmin"]
        rows = [["L(0)", line["ref"], _ci(line["ref_ci"]), "—"],
                ["α at min L", am["x"], _ci(am["ci"]), None if am["at_observed"] is None else 100 * am["at_observed"]],
                ["min L", am["y"], _ci(am["min_loss_ci"]), "—"]]
        t = u.get("task")
        if t:
            tm = t["argmin"]
            rows += [["task loss at α = 0", t["ref"], _ci(t["ref_ci"]), "—"],
                     ["α at min task loss", tm["x"], _ci(tm["ci"]),
                      None if tm["at_observed"] is None else 100 * tm["at_observed"]]]
        lines += _table(["quantity", "measured", f"{pct} interval", "replicates with the same α (%)"], rows)
        crows = []
        for key, label in (("line", "L(α)"), ("squaring", "L(2α)"), ("compositional", "L(α+α²)")):
            for k, c in enumerate((u["general"].get(key) or {}).get("crossings") or [], 1):
                verdict = (u["general"][key]["returns_to_base"]["crossings"][k - 1] or {}).get("resolved")
                crows.append([label, k, c["x"], _ci(c["ci"]), 100 * c["exists"], verdict])
        if crows:
            lines += _table(["curve", "#", "α (interpolated)", f"{pct} interval", "present in replicates (%)",
                             "sign change resolved"], crows)
        lines += [line["returns_to_base"]["statement"], ""]
    return lines


def _preference(an: dict) -> list[str]:
    prefs = {n: a["preference"] for n, a in an["sweeps"].items() if a.get("preference")}
    if not prefs:
        return []
    rows = [[n, p["task"], p["opposite"], p["at_base"], p["general_min_alpha"], p["at_general_min"]]
            for n, p in prefs.items()]
    return ["## Preference score", "",
            "Loss on the opposite sentiment's eval set minus loss on the task's own eval set.", ""] + \
        _table(["sweep", "task", "opposite", "at α = 0", "α at general min", "at general min"], rows)


def _categories(an: dict) -> list[str]:
    lines = ["## Per-category losses", ""]
    for name, a in an["sweeps"].items():
        if a["kind"] == "line" and a["categories"]:
            rows = [[c, v["base_loss"], v["min"]["y"], v["min"]["x"], v["min"]["interior"]]
                    for c, v in a["categories"].items()]
            lines += [f"### {name}", ""] + _table(
                ["category", "L(0)", "min loss", "α at min", "interior min"], rows)
    return lines


def _grids(an: dict) -> list[str]:
    lines = ["## Grid sweeps", ""]
    for name, a in an["sweeps"].items():
        if a["kind"] != "grid":
            continue
        rows = [["base loss L(0, 0)", a["base_loss"], "origin"]]
        for label, key in (("minimum", "min"), ("maximum", "max"), ("closest to base (origin excluded)",
                                                                   "closest_to_base")):
            c = a.get(key)
            rows.append([label, c["loss"] if c else None, _coords(c["coefficients"]) if c else "n/a"])
        lines += [f"### {name} (directions: {', '.join(a['directions'])})", ""]
        lines += _table(["quantity", "general loss", "coefficients"], rows)
        add = a.get("additivity")
        if add is None:
            lines += ["Additivity not computed (needs exactly 2 directions with 0 on both axes).", ""]
        else:
            mx = add["max_abs_interaction"] or {}
            lines += [f"Additive model L(α,0) + L(0,β) − L(0,0) vs observed over {add['cells']} "
                      f"off-axis cells: interaction RMS {_f(add['interaction_rms'])}, max |interaction| "
                      f"{_f(mx.get('abs'))} at {_coords(mx['coefficients']) if mx else 'n/a'}, "
                      f"R² of the additive model {_f(add['r2'])}.", ""]
        for p in an.get("plots", {}).get(name, []):
            lines += [f"![{name} heatmap]({p})", ""]
    return lines


def _plots(an: dict) -> list[str]:
    lines = ["## Plots", ""]
    for name, paths in an.get("plots", {}).items():
        lines += [f"![{name}: {Path(p).stem}]({p})" for p in paths] + [""]
    return lines


def _dedupe(an: dict) -> list[str]:
    d = an["dedupe"]
    if d is None:
        return ["## Dedupe", "", "No plan.json found.", ""]
    return ["## Dedupe", "", f"The planner evaluated {d['unique_points']} unique points for "
            f"{d['requested_evaluations']} requested evaluations, saving {d['saved']} "
            f"({_f(None if d['saved_fraction'] is None else 100 * d['saved_fraction'])} %).", ""]


def _refined(an: dict) -> list[str]:
    """Crossings and minima over every point on each line, refinement points included."""
    lines = ["## Refined crossings and minima", ""]
    for name, r in sorted((an.get("refined") or {}).items()):
        lines += [f"### {name}", "", f"{r['samples']} points on the line, {r['refined']} of them added by "
                  "refinement rounds. Each location is bracketed by the two points around it.", ""]
        if r["crossings"]:
            lines += ["| crossing of L(c) − L(0) at c | bracket | width | direction |", "|---|---|---|---|"]
            lines += [f"| {_f(c['x'])} | [{_f(c['bracket'][0])}, {_f(c['bracket'][1])}] | {_f(c['width'])} | "
                      f"{c['direction']} |" for c in r["crossings"]]
        else:
            lines.append("no sign change of L(c) − L(0) over the sampled coefficients")
        lines.append("")
        for label, key in (("general", "minima"), ("task", "task_minima")):
            for m in r.get(key) or []:
                lines.append(f"- local minimum of the {label} loss {_f(m['loss'])} at c = {_f(m['x'])}, "
                             f"bracket [{_f(m['bracket'][0])}, {_f(m['bracket'][1])}]")
        lines.append("")
    return lines


def render_report(run: dict, an: dict) -> str:
    """Markdown text of the report, sections in a fixed order."""
    parts = [["# sitv-dist report", ""], _summary(an), _configuration(run), _timing(an), _training(an),
             _results(an), _curve_section(an, "Crossings", None, "L(α)"),
             _curve_section(an, "Squaring test", "squaring", "L(2α)", "2α"),
             _curve_section(an, "Compositional test", "compositional", "L(α+α²)", "α+α²"),
             _refined(an), _uncertainty(an), _preference(an), _categories(an), _grids(an), _plots(an), _dedupe(an)]
    parts = parts[:1] + [p + ["No sweeps of this kind in this run.", ""] if len(p) == 2 else p
                         for p in parts[1:]]
    return "\n".join(line for part in parts for line in part).rstrip() + "\n"


def write_report(out_dir: Path, bootstrap: int = 1000, level: float = 0.95, seed: int = 0) -> dict:
    """Analyse every ``OUT/results/*.json``, write analysis.json, plots and report.md; return the analysis.

    When the per-point files with per-text losses are on disk, line sweeps are also
    bootstrapped over eval texts (``bootstrap`` replicates, 0: off) and analysis.json gets an
    ``uncertainty`` entry and the report an "Uncertainty" section.
    """
    out = Path(out_dir)
    run = load_run(out)
    an = build_analysis(run)
    if bootstrap > 0:
        unc = run_uncertainty(out, run["results"], replicates=bootstrap, level=level, seed=seed)
        if unc:
            an["uncertainty"] = unc
    an["plots"] = {}
    for name, res in run["results"].items():
        paths = plot_sweep(res, an["sweeps"][name], out / "plots")
        an["plots"][name] = [p.relative_to(out).as_posix() for p in paths]
    _write_atomic(out / "analysis.json", json.dumps(an, indent=1, allow_nan=False) + "\n")
    _write_atomic(out / "report.md", render_report(run, an))
    return an
