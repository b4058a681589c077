"""One set of findings per line, used by every part of the report: the crossings of
L(c) − L(0) and the interior minima over every point on the line (the analysis), each with
its depth against L(0), its paired-bootstrap interval, the share of replicates in which it
exists, and whether it is resolved, i.e. larger than the eval set's sampling noise.

- A crossing ends an excursion: its depth is the most extreme L(c) − L(0) sampled between the
  base and the crossing (or between the previous crossing and this one). It is resolved when
  the sign change is measurable on both sides (:func:`..uncertainty.verdicts.returns_to_base`).
- A minimum below L(0) (a dip) is resolved when the interval of its depth excludes 0; a local
  minimum above L(0) when it exists in at least `level` of the replicates.

Without per-point files (no bootstrap) the findings carry no intervals and `resolved` is None.
"""
from __future__ import annotations

from typing import Any

from ..markdown import delta, fmt


def _excursion(samples: dict, base: float, lo: float, hi: float) -> float | None:
    """The most extreme L(c) − L(0) sampled strictly between lo and hi (None if no sample)."""
    values = [v - base for c, v in zip(samples["c"], samples["general"])
              if v is not None and lo < c < hi and c != 0.0]
    return max(values, key=abs) if values else None


def line_findings(analysis: dict, unc: dict | None) -> dict:
    """Crossings, interior minima and the global minimum of one line with their noise."""
    base, samples = analysis["base_loss"], analysis["samples"]
    line_unc = ((unc or {}).get("general") or {}).get("line") if (unc or {}).get("available") else None
    level = (unc or {}).get("level")
    crossings = []
    ucross = (line_unc or {}).get("crossings") or []
    verdicts = ((line_unc or {}).get("returns_to_base") or {}).get("crossings") or []
    xs = [c["x"] for c in analysis["crossings"]]
    for k, c in enumerate(analysis["crossings"]):
        toward_base = [x for x in [0.0] + xs if (x < c["x"] if c["x"] > 0 else x > c["x"])]
        start = max(toward_base) if c["x"] > 0 else min(toward_base)
        lo, hi = sorted((start, c["x"]))
        u = ucross[k] if k < len(ucross) and abs(ucross[k]["x"] - c["x"]) < 1e-12 else None
        v = verdicts[k] if u is not None and k < len(verdicts) else None
        crossings.append({"x": c["x"], "bracket": [c["left"][0], c["right"][0]], "direction": c["direction"],
                          "depth": _excursion(samples, base, lo, hi),
                          "interval": u.get("ci") if u else None, "exists": u.get("exists") if u else None,
                          "resolved": v.get("resolved") if v else None})
    minima = []
    umin = {m["x"]: m for m in (line_unc or {}).get("minima") or []}
    for m in analysis["minima"]:
        u = umin.get(m["x"])
        resolved = None
        if u is not None:
            ci = u["depth_ci"]
            resolved = (ci is not None and ci[1] < 0) if m["depth"] < 0 else u["exists"] >= level
        minima.append({"x": m["x"], "loss": m["loss"], "depth": m["depth"], "bracket": m["bracket"],
                       "depth_interval": u["depth_ci"] if u else None, "exists": u["exists"] if u else None,
                       "resolved": resolved, "kind": "dip below L(0)" if m["depth"] < 0 else "local minimum"})
    g = analysis["general_min"]
    argmin = (line_unc or {}).get("argmin") or {}
    out = {"samples": len(samples["c"]), "refined": samples.get("refined", 0), "level": level, "crossings": crossings, "minima": minima,
           "global_min": {"x": g["x"], "loss": g["y"], "depth": None if g["y"] is None else g["y"] - base,
                          "interior": g["interior"], "interval": argmin.get("ci"),
                          "at_same_c": argmin.get("at_observed")}}
    out["statement"] = noise_statement(out)
    return out


def noise_statement(f: dict) -> str:
    """One sentence on what is below the eval set's noise (nothing when all is resolved)."""
    weak = [("crossing", c) for c in f["crossings"] if c["resolved"] is False]
    weak += [("minimum", m) for m in f["minima"] if m["resolved"] is False]
    if not weak:
        return ""
    where = ", ".join(f"{kind} at c = {fmt(x['x'], 3)} (ΔL {delta(x['depth'])})" for kind, x in weak)
    return (f"Not resolved (smaller than the eval set's sampling noise at the {100 * f['level']:g}% level, so "
            f"not a finding): {where}.")


def resolved_counts(f: dict) -> dict[str, Any]:
    """How many crossings and minima a line has, and how many of them are resolved."""
    return {"crossings": len(f["crossings"]), "crossings_resolved": sum(c["resolved"] is True for c in f["crossings"]),
            "minima": len(f["minima"]), "minima_resolved": sum(m["resolved"] is True for m in f["minima"])}
