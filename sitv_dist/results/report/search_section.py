"""The report's "Coefficient search" section, from analysis.json's `search` entry
(results.analysis.search_analysis): what was searched, the best point and the line/grid
sweeps' best on the search half and on the held-out half, and what the difference says."""
from __future__ import annotations

from ..markdown import delta, fmt, interval, table

HALF_NAMES = {"search": "search half (selected on)", "held_out": "held-out half (never seen by the search)"}


def _coefficients(coefficients: dict, limit: int = 8) -> str:
    items = [f"{d} = {fmt(c)}" for d, c in coefficients.items()]
    return ", ".join(items[:limit]) + (f", … ({len(items)} in all)" if len(items) > limit else "") or "all 0 (the base)"


def _objective(weights: dict) -> str:
    """'the general loss', or '1·general loss + 0.5·qa task loss − 2·qa accuracy'."""
    names = {t: "the general loss" if t == "general" else
             f"{t.split(':', 1)[1]}'s {'task loss' if t.startswith('task:') else 'accuracy'}" for t in weights}
    if len(weights) == 1 and list(weights.values())[0] == 1.0:
        term = next(iter(weights))
        return f"minus {names[term]} (it is maximised)" if term.startswith("accuracy:") else names[term]
    parts = [("− " if t.startswith("accuracy:") else "+ ") + f"{w:g}·{names[t].removeprefix('the ')}"
             for t, w in weights.items()]
    return " ".join(parts).removeprefix("+ ")


def _start(s: dict) -> str:
    sigma = fmt(s.get("sigma"))
    if s.get("start") is None:
        return f"It started at the centre of the bounds (step σ = {sigma})."
    values = sorted(set(s["start"]))
    at = f"every coefficient at {fmt(values[0])}" if len(values) == 1 else \
        "(" + ", ".join(fmt(v) for v in s["start"]) + ")"
    return f"It started at the line/grid sweeps' best point on the search half, {at} (step σ = {sigma})."


def search_section(an: dict, plots: list[str] = ()) -> list[str]:
    s = an.get("search")
    if "search" in (an.get("pending") or {}):
        return ["## Coefficient search", "", f"Pending ({an['pending']['search']}): this section fills in when "
                "the search is done.", ""]
    if not s:
        return []           # no search configured: no section (not an empty one)
    lines = ["## Coefficient search", ""]
    split = {"none": "one coefficient per direction", "layers": "one coefficient per layer, plus the input embedding and the head",
             "groups": "one coefficient per parameter group"}[s["split"]]
    objective = _objective(s["objective"])
    lines += [f"CMA-ES over {len(s['coordinates'])} coefficient(s) of {', '.join(s['directions'])} ({split}), each in "
              f"[{fmt(s['bounds'][0])}, {fmt(s['bounds'][1])}], minimising {objective} on the search half of the "
              f"texts; {s['points_evaluated']} of a budget of {s['budget']} points in batches of {s['batch']} "
              f"(seed {s['seed']}){'' if s['complete'] else '; **not finished**: rerun `sitv search` to continue'}. "
              + _start(s), ""]
    if s.get("missing"):
        lines += [f"{s['missing']} point(s) of the search are no longer on disk; rerun `sitv search`.", ""]
    if "best" not in s:
        return lines + ["No point of the search has a finite objective yet.", ""]
    lines += [f"Best point: {_coefficients(s['best']['coefficients'])}.", ""]
    if "sweep_best" in s:
        lines += [f"Best line/grid point by the same rule: {_coefficients(s['sweep_best']['coefficients'])} "
                  f"({', '.join(s['sweep_best']['sweeps'])}).", ""]
    rows = []
    for half in ("search", "held_out"):
        entries = [("objective", s["halves"]["objective"][half])]
        entries += [(t, v[half]) for t, v in s["halves"]["terms"].items()] if len(s["objective"]) > 1 else []
        for what, e in entries:
            diff = e.get("difference") or {}
            rows.append([HALF_NAMES[half], what, e["values"][0], interval(e["intervals"][0]),
                         e["values"][1] if len(e["values"]) > 1 else None,
                         interval(e["intervals"][1]) if len(e["intervals"]) > 1 else "n/a",
                         delta(diff.get("value")), interval(diff.get("interval"), delta),
                         fmt(diff.get("resolved")) if diff else "n/a"])
    lines += table(["texts", "measure", "search best", "95% interval", "line/grid best", "95% interval",
                    "difference", "95% interval", "resolved"], rows)
    texts = "; ".join(f"{t}: {n['search']} / {n['held_out']}" for t, n in s.get("texts", {}).items())
    lines += [f"**{s['verdict'][0].upper() + s['verdict'][1:]}.** Intervals: paired bootstrap over the texts "
              f"(accuracy: items) of each half, the same resamples for both points; a difference is resolved when "
              f"its interval excludes 0. Texts (or items) in the search / held-out halves: {texts}.", ""]
    lines += [f"![{p}]({p})" for p in plots] + ([""] if plots else [])
    return lines
