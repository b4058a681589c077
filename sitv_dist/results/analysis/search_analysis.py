"""The coefficient search in analysis.json (`search`): what was searched, best-so-far against
points evaluated, the best point, and — the honest part — its objective and each term on the
search half (where it was selected) and on the held-out half (never seen by the optimiser), with
paired bootstrap intervals, beside the best point of the line/grid sweeps chosen by the same
rule, and their difference. A gain that exists only on the search half shows as such.
"""
from __future__ import annotations

import math

import numpy as np

from ...outdir import OutDir
from ...sweep.plan import SEARCH, load_plan
from ...sweep.search import baseline
from ...sweep.search.objective import HALVES, Objective, term_set
from ...vectors.ops import layer_split
from ..search_intervals import half_replicates, interval


def _term_rows(records: list[dict], term: str, objective: Objective):
    """Per-item values of each record for `term`, their weights, and the item count."""
    entries = [r["sets"][term_set(term)] for r in records]
    if term.startswith("accuracy:"):
        rows = [e["mc"]["correct"] for e in entries]
        return rows, np.ones(len(rows[0])), len(rows[0])
    tokens = objective.tokens[term_set(term)]
    return [e["per_text_nll"] for e in entries], np.asarray(tokens, dtype=float), len(tokens)


def compare_points(records: list[dict], objective: Objective, replicates: int, level: float, seed: int) -> dict:
    """Per half: each term and the objective for every record, observed and paired-bootstrap
    intervals, and the difference record[0] − record[1] (when two are given)."""
    out: dict = {"terms": {}, "objective": {}}
    total = {h: np.zeros((replicates, len(records))) for h in HALVES}
    for k, (term, weight) in enumerate(objective.weights.items()):
        sign = -weight if term.startswith("accuracy:") else weight
        rows, weights, n = _term_rows(records, term, objective)
        out["terms"][term] = {}
        for j, half in enumerate(HALVES):
            reps = half_replicates(rows, weights, objective.indices(term, n)[half], replicates,
                                   np.random.default_rng([seed, k, j]))
            total[half] += sign * reps
            out["terms"][term][half] = _entry(records, [objective.term_value(r, term, half) for r in records], reps, level)
    for half in HALVES:
        out["objective"][half] = _entry(records, [objective.value(r, half) for r in records], total[half], level)
    return out


def _entry(records, observed: list[float], reps: np.ndarray, level: float) -> dict:
    entry = {"values": [v if math.isfinite(v) else None for v in observed],
             "intervals": [interval(reps[:, i], level) for i in range(len(records))]}
    if len(records) == 2:
        diff = observed[0] - observed[1]
        ci = interval(reps[:, 0] - reps[:, 1], level)
        entry["difference"] = {"value": diff if math.isfinite(diff) else None, "interval": ci,
                               "resolved": ci is not None and (ci[0] > 0 or ci[1] < 0)}
    return entry


def verdict(objective: dict) -> str:
    """What the difference (search − sweeps) on the two halves says, in words."""
    search, held = (objective[h].get("difference") for h in HALVES)
    if search is None or held is None or search["value"] is None or held["value"] is None:
        return "no comparison (no sweep point holds the objective's eval sets)"
    if search["value"] >= 0:
        return ("within its budget the search found no point below the line/grid sweeps' best, even on the texts "
                "it searched")
    if held["resolved"] and held["value"] < 0:
        return "lower on the held-out half too: the gain is not only on the texts it was selected on"
    if held["resolved"] and held["value"] > 0:
        return ("lower on the search half but higher on the held-out half: the gain is on the texts it was selected "
                "on only")
    if search["resolved"]:
        return "lower on the search half only: on held-out texts the difference is within noise"
    return "no resolved difference on either half"


def profile(state: dict, x: list[float]) -> dict:
    """Per searched direction, its parts' coefficients at the best point (a split search)."""
    out: dict = {}
    for name, c in zip(state["coordinates"], x):
        parsed = layer_split.split_name(name)
        if parsed:
            out.setdefault(parsed[0], []).append({"part": parsed[1], "coefficient": c})
    return out


def analyse_search(out: OutDir, replicates: int = 1000, level: float = 0.95, seed: int = 0) -> dict | None:
    """analysis.json's `search` entry, or None when this out_dir has no search."""
    out = OutDir(out)
    state = out.read_optional(out.search_state)
    if not state or not out.plan.is_file():
        return None
    plan = load_plan(out)
    planned = plan.by_id()
    tokens = {name: info["tokens"] for name, info in (out.read_eval_sets() or {}).items()}
    objective = Objective(state["objective"], tokens, state["seed"])
    told = [h for h in state["history"] if h["point"] in planned]
    records = {h["point"]: out.read_point(h["point"], planned[h["point"]].fingerprint) for h in told}
    entry = {k: state[k] for k in ("coordinates", "directions", "split", "bounds", "objective", "budget", "batch",
                                   "seed", "sampler", "complete")}
    entry.update({k: state.get(k) for k in ("start_from", "start", "sigma")})
    entry["points_evaluated"] = len(state["history"])
    entry["missing"] = sum(records.get(h["point"]) is None for h in state["history"])
    best_so_far, best = [], None
    for h in state["history"]:
        y = h["objective"]
        if y is not None and (best is None or y < best["objective"]):
            best = h
        best_so_far.append(None if best is None else best["objective"])
    entry["best_so_far"] = best_so_far
    entry["history"] = state["history"]
    entry["texts"] = {}          # texts (accuracy: items) in each half, per term
    for term in objective.weights:
        n = _items(records, term)
        if n != 0 and term_set(term) in tokens:
            entry["texts"][term] = {half: len(idx) for half, idx in objective.indices(term, n).items()}
    if best is None or records.get(best["point"]) is None:
        return entry
    entry["best"] = {"point": best["point"], "coefficients": dict(zip(state["coordinates"], best["x"])),
                     "objective_search": best["objective"]}
    if state["split"] != "none":
        entry["profile"] = profile(state, best["x"])
    compared = [records[best["point"]]]
    sweep_best = baseline.best(out, plan, state["directions"], objective)
    if sweep_best is not None:
        point, record = sweep_best
        compared.append(record)
        entry["sweep_best"] = {"point": point.id, "sweeps": [s for s in point.sweeps if s != SEARCH],
                               "coefficients": {d: c for d, c in plan.coefficients(point).items() if c != 0.0}}
    entry["halves"] = compare_points(compared, objective, replicates, level, seed)
    entry["verdict"] = verdict(entry["halves"]["objective"])
    return entry


def _items(records: dict, term: str) -> int | None:
    """Items of an accuracy term (from any record that has them, 0 when none has); None for a
    loss term (its set's texts)."""
    if not term.startswith("accuracy:"):
        return None
    for r in records.values():
        correct = ((((r or {}).get("sets") or {}).get(term_set(term)) or {}).get("mc") or {}).get("correct")
        if correct:
            return len(correct)
    return 0
