"""The report's "Slope and curvature at α = 0" section: per line, each eval set's exact slope
g = dL/dα and curvature h = d²L/dα² with bootstrap intervals, the quadratic's predicted minimum
−g/h and return −2g/h beside the measured minimum, and the random controls of equal norm."""
from __future__ import annotations

from .markdown import table


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
           "The quadratic L(0) + gα + hα²/2 has its minimum at −g/h (when h > 0) and returns to L(0) at −2g/h. "
           "Controls are random directions of the same norm: a slope or curvature outside every control's "
           "interval marks the direction as special for that loss.", ""]
    for name, a in lines_.items():
        d, controls = a["derivatives"], a.get("derivative_controls") or []
        out += [f"### {name}", ""]
        rows = [[s, _g(v["slope"]), _ci(v["slope_interval"]), _g(v["curvature"]), _ci(v["curvature_interval"]),
                 _g(v["predicted_min"]), _g(v["predicted_return"]), _controls(controls, s, "slope"),
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
