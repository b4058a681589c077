"""Verdicts on the crossings of a bootstrapped curve: for each sign change of L(α) − L(0), is
it distinguishable from eval-set sampling noise? The plain statements the report and the
comparison print come from here; the intervals they judge come from :mod:`.bootstrap`."""
from __future__ import annotations

import math
from typing import Sequence

from ..markdown import fmt


def _pct(level: float) -> str:
    return f"{100 * level:g}%"


def _sign_of(ci: list[float] | None) -> int | None:
    """+1 / −1 when the interval lies above / below 0, 0 when it includes 0, None when missing."""
    if ci is None:
        return None
    return 1 if ci[0] > 0 else (-1 if ci[1] < 0 else 0)


def _side(c: dict) -> tuple[str, str]:
    return {"up": ("below", "above"), "down": ("above", "below")}.get(c["direction"], ("", ""))


def returns_to_base(x: Sequence[float], diff: list[dict], crossings: list[dict], level: float,
                    label: str = "L(α)") -> dict:
    """Whether the sign change of L(α) − L(0) at each crossing is distinguishable from noise.

    ``diff`` holds, per sampled α, ``{"alpha", "value", "ci", "excludes_zero"}``; each crossing
    carries its bracket (``left``/``right``) and its ``window`` (from :func:`.bootstrap.crossing_intervals`).
    For each crossing this reports its two neighbouring samples (does the interval of
    L(α) − L(0) exclude 0 there?) and, walking outwards from them inside the window, the
    nearest sample on each side whose interval excludes 0 (an *anchor*). The crossing is
    *resolved* when both anchors exist with the signs of the crossing (below then above L(0)
    for "up", above then below for "down", the same sign on both sides for "touch"): the curve
    is measurably on one side of L(0) before it and on the other after it, with the samples
    in between (if any) indistinguishable from L(0). The statements say what was measured.
    """
    xs = [float(v) for v in x]
    order = sorted(range(len(xs)), key=lambda i: xs[i])
    pos = {xs[i]: r for r, i in enumerate(order)}
    pct, name = _pct(level), f"{label} − L(0)"
    per = []
    for c in crossings:
        lo_w, hi_w = c.get("window") or (-math.inf, math.inf)
        nb, anchors, band = [], [], []
        for side, step in (("left", -1), ("right", 1)):
            r = pos.get(float(c[side][0]))
            d = diff[order[r]] if r is not None else None
            nb.append({"alpha": float(c[side][0]), "value": None if d is None else d["value"],
                       "ci": None if d is None else d["ci"],
                       "excludes_zero": None if d is None else d["excludes_zero"]})
            anchor = None
            while r is not None and 0 <= r < len(order):
                d = diff[order[r]]
                if not lo_w <= d["alpha"] <= hi_w or d["ci"] is None:
                    break
                if d["excludes_zero"]:
                    anchor = {"alpha": d["alpha"], "ci": d["ci"], "sign": _sign_of(d["ci"])}
                    break
                band.append(d["alpha"])
                r += step
            anchors.append(anchor)
        want = {"up": (-1, 1), "down": (1, -1)}.get(c["direction"])
        signs = tuple(a["sign"] if a else None for a in anchors)
        if want is None:       # a touch: the same side of L(0) on both sides
            resolved = None not in signs and signs[0] == signs[1]
        else:
            resolved = signs == want
        where_txt = (f"between the samples α = {fmt(nb[0]['alpha'])} and α = {fmt(nb[1]['alpha'])}"
                     if nb[0]["alpha"] != nb[1]["alpha"] else f"at the sample α = {fmt(nb[0]['alpha'])}")
        verb = "touches 0" if c["direction"] == "touch" else "changes sign"
        loc = f"interpolated α = {fmt(c['x'])}"
        if c.get("ci") is not None:
            loc += (f", {pct} interval {fmt(c['ci'][0])}..{fmt(c['ci'][1])}, present in "
                    f"{100 * c.get('exists', 0):.1f}% of replicates")
        head = f"{name} {verb} {where_txt} ({loc})"
        if resolved and not band:
            text = (f"{head}; the {pct} intervals of {name} at both samples exclude 0 "
                    f"({fmt(nb[0]['ci'][0])}..{fmt(nb[0]['ci'][1])}; "
                    f"{fmt(nb[1]['ci'][0])}..{fmt(nb[1]['ci'][1])}).")
        elif resolved:
            below, above = _side(c)
            ends = (f"α = {fmt(anchors[0]['alpha'])}{' (' + below + ' L(0))' if below else ''} and "
                    f"α = {fmt(anchors[1]['alpha'])}{' (' + above + ' L(0))' if above else ''}")
            span = (f"the sample α = {fmt(band[0])}" if len(set(band)) == 1 else
                    f"the samples from α = {fmt(min(band))} to α = {fmt(max(band))}")
            text = f"{head}; the {pct} interval of {name} includes 0 at {span} and excludes 0 at {ends}."
        else:
            if want is not None:
                missing = [s for s, a, w in zip(("left", "right"), anchors, want) if a is None or a["sign"] != w]
            else:
                missing = [s for s, a in zip(("left", "right"), anchors) if a is None] or ["left", "right"]
            text = (f"{head}; on the {' and '.join(missing)} side{'s' if len(missing) > 1 else ''} no sample "
                    f"in the same run has a {pct} interval of {name} that excludes 0 with the sign of the "
                    f"crossing, so this {'touch' if want is None else 'sign change'} is not distinguishable "
                    f"from eval-set sampling noise.")
        per.append({"x": c["x"], "neighbours": nb, "anchors": anchors, "indistinguishable_band": sorted(band),
                    "resolved": bool(resolved), "statement": text})
    nonzero = [d for d in diff if d["alpha"] != 0.0 and d["ci"] is not None]
    indist = [d["alpha"] for d in nonzero if not d["excludes_zero"]]
    if indist:
        shown = ", ".join(fmt(a) for a in indist[:12]) + (" …" if len(indist) > 12 else "")
        tail = (f"At {len(indist)} of {len(nonzero)} sampled α ≠ 0 the {pct} interval of {name} includes 0 "
                f"(α = {shown}).")
    else:
        tail = f"At every sampled α ≠ 0 with a finite loss ({len(nonzero)}) the {pct} interval of {name} excludes 0."
    head = " ".join(p["statement"] for p in per) if per else f"No sign change of {name} in the sampled range."
    return {"crossings": per, "indistinguishable_alpha": indist, "statement": f"{head} {tail}"}
