"""The figure of one line sweep, drawn to show its finding: ΔL(c) = L(c) − L(0) (a dip of a
tenth of a nat is invisible on an L axis spanning several nats), with the paired bootstrap
band of ΔL (:mod:`..uncertainty.bootstrap`: the same draw of texts at c and at 0), zoomed to
the window the findings lie in (the crossings of L(0), the interior minima and the lowest
point, with a margin), the full range in a second panel, and the task loss's ΔL below.
Legends sit outside the axes (right of them) so that no marker or band hides behind one.

:func:`plot_line` returns what it marked, read back from the drawn artists, so that a test can
hold the figure to the report (the findings test) and read the axes' limits and bands."""
from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np

from ...sweep.crossings import as_array
from .figure_files import plt, save

MARGIN = 0.15            # of the findings' span, on either side of the zoomed window
MIN_SAMPLES_MARGIN = 2   # and at least this many sample spacings (the brackets stay visible)
LEGEND = {"loc": "upper left", "bbox_to_anchor": (1.01, 1.0), "borderaxespad": 0.0, "fontsize": 8}


def band_of(curve_unc: dict | None, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The bootstrap interval of ΔL at each x (NaN where the bootstrap has no value), from one
    curve of ``sweep_uncertainty`` (its "difference" entries); None without one."""
    if not curve_unc or not curve_unc.get("difference"):
        return None
    by_x = {round(float(d["alpha"]), 12): d.get("ci") for d in curve_unc["difference"]}
    lo = np.full(len(xs), np.nan)
    hi = np.full(len(xs), np.nan)
    for i, x in enumerate(xs):
        ci = by_x.get(round(float(x), 12))
        if ci and ci[0] is not None and ci[1] is not None:
            lo[i], hi[i] = float(ci[0]), float(ci[1])
    return (lo, hi) if np.isfinite(lo).any() else None


def zoom_window(xs: np.ndarray, marks: list[float]) -> tuple[float, float]:
    """The c-window of the findings (0 included: ΔL is measured from it) with a margin, inside
    the sampled range; the full range when there is no finding besides 0."""
    full = (float(np.nanmin(xs)), float(np.nanmax(xs)))
    xs_marks = [0.0] + [float(m) for m in marks if m is not None and np.isfinite(m)]
    lo, hi = min(xs_marks), max(xs_marks)
    if hi - lo <= 0:
        return full
    spacing = float(np.median(np.diff(np.sort(xs)))) if len(xs) > 1 else 0.0
    pad = max(MARGIN * (hi - lo), MIN_SAMPLES_MARGIN * spacing)
    return max(full[0], lo - pad), min(full[1], hi + pad)


def _ylim(xs: np.ndarray, series: list[np.ndarray], window: tuple[float, float]) -> tuple[float, float]:
    inside = (xs >= window[0]) & (xs <= window[1])
    vals = np.concatenate([s[inside] for s in series] + [np.zeros(1)])
    vals = vals[np.isfinite(vals)]
    lo, hi = float(vals.min()), float(vals.max())
    pad = 0.1 * (hi - lo) or 1e-3
    return lo - pad, hi + pad


def _draw_delta(ax, xs, dl, band, what: str) -> None:
    ax.plot(xs, dl, "-", color="C0", marker=".", markersize=3, linewidth=1.2, label=f"ΔL(c), {what}", gid="delta")
    if band is not None:
        ax.fill_between(xs, band[0], band[1], color="C0", alpha=0.22, linewidth=0, gid="band",
                        label="bootstrap band of ΔL (95 %, over eval texts)")
    ax.axhline(0.0, color="grey", linewidth=1, label="ΔL = 0 (the base model's loss)")
    ax.grid(alpha=0.3)


def plot_line(results: dict, analysis: dict, path: Path | None, uncertainty: dict | None = None):
    """ΔL(c) over every evaluated point on the line (zoomed to the findings; the full range
    below), its bootstrap band where the per-text losses are on disk (``uncertainty``: the
    sweep's entry of ``analysis["uncertainty"]``), the findings (crossings: circles, filled
    when resolved; interior minima: triangles; lowest loss: a star) and the task loss's ΔL.
    Returns the path (the Figure when ``path`` is None) and what it marked."""
    samples, findings = analysis["samples"], analysis.get("findings") or {}
    base = float(analysis["base_loss"])
    curves = analysis["curves"]
    xs = np.asarray(samples["c"], dtype=float)
    dl = as_array(samples["general"]) - base
    gen_unc = ((uncertainty or {}).get("general") or {}).get("line") if (uncertainty or {}).get("available") else None
    band = band_of(gen_unc, xs)
    has_task = curves.get("task") is not None and np.isfinite(as_array(curves["task"])).any()
    heights = [3.2, 1.8] + ([1.8] if has_task else [])
    fig, axes = plt.subplots(len(heights), 1, figsize=(10.5, sum(heights) + 1.6), squeeze=False,
                             gridspec_kw={"height_ratios": heights})
    zoom, full = axes[0][0], axes[1][0]
    zoom.set_label("zoom")
    full.set_label("full")
    cross = findings.get("crossings", analysis["crossings"])
    minima = findings.get("minima", analysis.get("minima") or [])
    gmin = analysis["general_min"]
    window = zoom_window(xs, [c["x"] for c in cross] + [m["x"] for m in minima] + [gmin["x"]])
    what = f"L(c) − L(0), L(0) = {base:.4f}, at the {len(xs)} evaluated points"
    for ax in (zoom, full):
        _draw_delta(ax, xs, dl, band, what)
    marks = {"crossings": [], "minima": [], "global_min": None, "zoom": [float(window[0]), float(window[1])]}
    if cross:
        filled = [c.get("resolved") is True for c in cross]
        artist, = zoom.plot([c["x"] for c in cross], [0.0] * len(cross), linestyle="none", marker="o",
                            markersize=9, markerfacecolor="none", markeredgecolor="C3", markeredgewidth=1.6,
                            label="crossings of L(0) (filled: resolved)", zorder=4)
        zoom.plot([c["x"] for c, f in zip(cross, filled) if f], [0.0] * sum(filled), linestyle="none",
                  marker="o", markersize=6, color="C3", zorder=5)
        marks["crossings"] = [float(v) for v in artist.get_xdata()]
    if minima:
        artist, = zoom.plot([m["x"] for m in minima], [m["loss"] - base for m in minima], linestyle="none",
                            marker="^", markersize=8, markerfacecolor="none", markeredgecolor="C2",
                            markeredgewidth=1.6, label="interior local minima", zorder=4)
        marks["minima"] = [float(v) for v in artist.get_xdata()]
    if gmin["x"] is not None:
        artist, = zoom.plot([gmin["x"]], [gmin["y"] - base], marker="*", markersize=12, color="C1",
                            linestyle="none", zorder=6,
                            label=f"lowest L = {gmin['y']:.4f} (ΔL {gmin['y'] - base:+.4f}) at c = {gmin['x']:.3g}")
        marks["global_min"] = float(artist.get_xdata()[0])
    zoom.set_xlim(*window)
    zoom.set_ylim(*_ylim(xs, [dl] + (list(band) if band is not None else []), window))
    zoom.set_title(f"near the findings: c in [{window[0]:.3g}, {window[1]:.3g}]"
                   + ("" if band is not None else " (no bootstrap band: per-text losses not on disk)"), fontsize=10)
    zoom.set_ylabel("ΔL (nats/token)")
    zoom.legend(**LEGEND)
    full.axvspan(*window, color="C1", alpha=0.12, label="the zoomed window (above)")
    full.set_xlim(float(np.nanmin(xs)), float(np.nanmax(xs)))
    full.set_title("the full range", fontsize=10)
    full.set_ylabel("ΔL (nats/token)")
    full.legend(**LEGEND)
    if has_task:
        _task_panel(axes[2][0], analysis, uncertainty)
    zoom.set_xlabel("c")
    full.set_xlabel("c, the coefficient of the task vector (α, 2α, α+α² and refinement points)")
    title = f"{analysis.get('sweep') or ''}: ΔL = L(c) − L(0) along {analysis['direction']}"
    fig.suptitle("\n".join(textwrap.wrap(title, 90)), fontsize=11)
    return save(fig, path), marks


def _task_panel(ax, analysis: dict, uncertainty: dict | None) -> None:
    """The task loss's ΔL on the α grid, with its bootstrap band where available."""
    ax.set_label("task")
    alpha = np.asarray(analysis["curves"]["alpha"], dtype=float)
    task_base = analysis.get("task_base_loss")
    ref = float(task_base) if task_base is not None else 0.0
    y = as_array(analysis["curves"]["task"]) - ref
    ax.plot(alpha, y, "-", color="C4", marker=".", markersize=3,
            label=f"task loss ({analysis['task']}) − its value at α = 0" if task_base is not None
            else f"task loss ({analysis['task']})")
    band = band_of((uncertainty or {}).get("task") if (uncertainty or {}).get("available") else None, alpha)
    if band is not None and task_base is not None:
        ax.fill_between(alpha, band[0], band[1], color="C4", alpha=0.22, linewidth=0, label="bootstrap band")
    tmin = analysis.get("task_min") or {}
    if tmin.get("x") is not None:
        ax.plot([tmin["x"]], [tmin["y"] - ref], marker="*", markersize=11, color="C4", linestyle="none",
                label=f"lowest = {tmin['y']:.4f} at α = {tmin['x']:.3g}")
    ax.axhline(0.0, color="grey", linewidth=1)
    ax.set_title("task loss on the α grid", fontsize=10)
    ax.set_ylabel("Δ task loss")
    ax.set_xlabel("α (the line's grid)")
    ax.grid(alpha=0.3)
    ax.legend(**LEGEND)
