"""Analysis on analytic curves whose crossings, minima and interactions are known exactly."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from sitv_dist.results.analysis.landscape import analyse, analyse_grid, analyse_line, find_minimum
from sitv_dist.sweep.crossings import find_crossings

H = 0.1
X = np.arange(-10, 16) / 10.0  # -1.0 ... 1.5 in steps of 0.1, containing 0.0 exactly


# ----------------------------------------------------------------------------- builders
def _point(coeffs, general, tasks=None, categories=None):
    gen = {"loss": general, "nll_sum": None if general is None else general * 100.0, "tokens": 100}
    if categories:
        gen["categories"] = {c: {"loss": v, "nll_sum": v * 50.0, "tokens": 50} for c, v in categories.items()}
    return {"id": "p" + "_".join(f"{c:+.6f}" for c in coeffs), "coefficients": list(coeffs),
            "general": gen, "tasks": tasks or {}, "time_s": 0.5}


def make_line_results(alpha, general_fn, task_fns=None, cat_fns=None, squaring=True,
                      compositional=True, direction="sentiment_positive", task=None):
    """A valid line results dict (docs/layout.md): unique points, line/derived index lists.

    Task losses are stored only at the line's own points, as the planner does for points used
    only by the squaring/compositional curves.
    """
    alpha = [float(a) for a in alpha]
    task_fns, cat_fns = task_fns or {}, cat_fns or {}
    points, where = [], {}

    def idx(c, with_tasks):
        key = round(c, 12) + 0.0
        if key not in where:
            where[key] = len(points)
            points.append(_point([key], general_fn(key), categories={n: f(key) for n, f in cat_fns.items()}))
        p = points[where[key]]
        if with_tasks:
            p["tasks"] = {t: {"loss": f(key), "nll_sum": f(key) * 40.0, "tokens": 40} for t, f in task_fns.items()}
        return where[key]

    index = {"line": [idx(a, True) for a in alpha]}
    if squaring:
        index["squaring"] = [idx(2 * a, False) for a in alpha]
    if compositional:
        index["compositional"] = [idx(a + a * a, False) for a in alpha]
    bp = idx(0.0, True)
    return {"schema": "sitv-dist/results/1", "sweep": f"line_{direction}", "kind": "line",
            "directions": [direction], "task_of": {direction: task or direction} if task_fns else {},
            "alpha": alpha, "index": index, "base_loss": points[bp]["general"]["loss"], "base_point": bp,
            "eval_sets": {"general": {"texts": 10, "tokens": 100, "categories": list(cat_fns)}},
            "points": points}


def make_grid_results(axes, fn, directions=("a", "b")):
    """A valid grid results dict for L = fn(*coefficients) on the product of the axes."""
    axes = [[float(v) for v in ax] for ax in axes]
    points, grid = [], np.empty([len(ax) for ax in axes], dtype=int)
    for pos in np.ndindex(*grid.shape):
        coeffs = [axes[d][k] for d, k in enumerate(pos)]
        grid[pos] = len(points)
        points.append(_point(coeffs, fn(*coeffs)))
    bp = next((i for i, p in enumerate(points) if all(c == 0.0 for c in p["coefficients"])), None)
    if bp is None:  # origin not on the grid: the planner still evaluates the base point
        bp = len(points)
        points.append(_point([0.0] * len(axes), fn(*([0.0] * len(axes)))))
    return {"schema": "sitv-dist/results/1", "sweep": "grid", "kind": "grid",
            "directions": list(directions), "task_of": {}, "axes": axes,
            "index": {"grid": grid.tolist()}, "base_loss": points[bp]["general"]["loss"],
            "base_point": bp, "eval_sets": {}, "points": points}


def interp_bound(f, df, d2f, left, right):
    """|x̂ − r| ≤ h²·max|f''| / (8·min|f'|) for linear interpolation on [left, right]."""
    xs = np.linspace(left, right, 1001)
    return (right - left) ** 2 * np.max(np.abs(d2f(xs))) / (8 * np.min(np.abs(df(xs))))


# ----------------------------------------------------------------------------- crossings
def test_cubic_roots_found_once_within_interpolation_bound():
    f = lambda x: x * (x - 0.73) * (x + 0.41)  # noqa: E731 — roots −0.41, 0 (base), 0.73
    df = lambda x: 3 * x**2 - 0.64 * x - 0.2993  # noqa: E731
    d2f = lambda x: 6 * x - 0.64  # noqa: E731
    ref = 2.0
    cr = find_crossings(X, ref + f(X), ref)
    assert len(cr) == 2
    for c, root in zip(cr, (-0.41, 0.73)):
        lo, hi = c["left"][0], c["right"][0]
        assert lo < root < hi and hi - lo == pytest.approx(H)
        assert abs(c["x"] - root) <= interp_bound(f, df, d2f, lo, hi) + 1e-12
        assert c["left"][1] == pytest.approx(ref + f(lo)) and c["right"][1] == pytest.approx(ref + f(hi))
    assert f(-0.5) < 0 < f(-0.3) and f(0.7) < 0 < f(0.8)
    assert [c["direction"] for c in cr] == ["up", "up"]


def test_quadratic_from_prompt_with_reference_at_base():
    y = (X - 0.3) * (X - 1.1)  # y − y(0) = x(x − 1.4): one non-base root at 1.4
    cr = find_crossings(X, y, float(y[X == 0.0][0]))
    assert len(cr) == 1
    assert cr[0]["x"] == pytest.approx(1.4, abs=1e-9)  # 1.4 is a sample: exact or interpolated on it


def test_sample_exactly_at_ref_counted_once():
    ref = 1.0
    cr = find_crossings(X, ref + (X - 0.5), ref)
    assert len(cr) == 1
    c = cr[0]
    assert c["x"] == 0.5 and c["exact"] and c["direction"] == "up"
    assert c["left"] == [pytest.approx(0.4), pytest.approx(0.9)]
    assert c["right"] == [pytest.approx(0.6), pytest.approx(1.1)]


def test_touching_sample_and_plateau_each_count_once():
    ref = 1.0
    touch = find_crossings(X, ref + (X - 0.5) ** 2, ref)
    assert len(touch) == 1 and touch[0]["x"] == 0.5 and touch[0]["direction"] == "touch"
    y = np.where(X < 0.5, -1.0, 1.0) + ref
    y[(X >= 0.5) & (X <= 0.7)] = ref  # plateau at ref over three samples, then positive
    plateau = find_crossings(X, y, ref)
    assert len(plateau) == 1
    assert plateau[0]["x"] == pytest.approx(0.6) and plateau[0]["direction"] == "up"


def test_nan_and_none_split_the_curve():
    y = list(X - 0.35)
    i4 = int(np.flatnonzero(np.isclose(X, 0.4))[0])
    y[i4] = float("nan")  # 0.3 (−) | NaN | 0.5 (+): the sign change is across the gap
    assert find_crossings(X, y, 0.0, exclude_at=()) == []
    y[i4] = None
    assert find_crossings(X, y, 0.0, exclude_at=()) == []
    y[i4] = 0.4 - 0.35
    assert len(find_crossings(X, y, 0.0, exclude_at=())) == 1


def test_base_point_excluded_and_not_crossed():
    ref = 3.0
    assert find_crossings(X, ref + X, ref) == []  # the only sign change is at the base
    xs = [-0.15, -0.05, 0.05, 0.15]  # grid without 0: the interval straddling it is split
    assert find_crossings(xs, [ref + x for x in xs], ref) == []
    assert len(find_crossings(xs, [ref + x for x in xs], ref, exclude_at=())) == 1


def test_nonfinite_reference_gives_nothing():
    assert find_crossings(X, X, float("nan")) == []


# ----------------------------------------------------------------------------- minima
def test_find_minimum_ignores_nan_and_flags_edges():
    y = list((X - 0.3) ** 2)
    y[0] = float("nan")
    m = find_minimum(X, y)
    assert m == {"x": pytest.approx(0.3), "y": pytest.approx(0.0, abs=1e-12),
                 "index": int(np.flatnonzero(np.isclose(X, 0.3))[0]), "interior": True}
    edge = find_minimum(X, list(X))
    assert edge["index"] == 0 and not edge["interior"]
    y = list(-X)
    y[-1] = None  # the last finite sample is the end of the usable range
    assert not find_minimum(X, y)["interior"]
    assert find_minimum([0, 1], [None, float("inf")])["x"] is None


# ----------------------------------------------------------------------------- line analysis
def _line():
    g = lambda a: 3.0 + a * (a - 0.73) * (a + 0.41)  # noqa: E731
    return make_line_results(
        X, g, task_fns={"sentiment_positive": lambda a: 2.0 - a + a * a,
                        "sentiment_negative": lambda a: 2.5 + 0.5 * a},
        cat_fns={"coding": lambda a: 2.0 + (a - 0.4) ** 2, "wiki": lambda a: 4.0 + (a + 0.2) ** 2})


def test_analyse_line_crossings_squaring_compositional():
    res = _line()
    an = analyse_line(res)
    assert an["base_loss"] == res["base_loss"] == 3.0
    assert [round(c["x"], 1) for c in an["crossings"]] == [-0.4, 0.7]
    # L(2α) crosses where 2α is a root of L: α = −0.205 and 0.365
    f = lambda a: 2 * a * (2 * a - 0.73) * (2 * a + 0.41)  # noqa: E731 — L(2α) − L(0)
    df = lambda a: 2 * (12 * a**2 - 1.28 * a - 0.2993)  # noqa: E731
    d2f = lambda a: 48 * a - 2.56  # noqa: E731
    sq = an["squaring"]["crossings"]
    assert len(sq) == 2
    for c, root in zip(sq, (-0.205, 0.365)):
        assert c["left"][0] < root < c["right"][0]
        assert abs(c["x"] - root) <= interp_bound(f, df, d2f, c["left"][0], c["right"][0])
        assert c["coefficient"] == pytest.approx(2 * c["x"])
    assert "L(2α) is the line itself" in an["squaring"]["note"]
    # L(α+α²) crosses where α+α² ∈ {−0.41, 0.73}; α = −1 (α+α² = 0) is excluded
    roots = sorted((-1 + s * math.sqrt(1 + 4 * r)) / 2 for r in (-0.41, 0.73) for s in (-1, 1)
                   if 1 + 4 * r >= 0)
    inside = [r for r in roots if X[0] < r < X[-1]]
    comp = an["compositional"]["crossings"]
    assert len(comp) == len(inside)
    assert [c["x"] for c in comp] == [pytest.approx(r, abs=0.02) for r in inside]
    assert [c["coefficient"] for c in comp] == [pytest.approx(c["x"] + c["x"] ** 2) for c in comp]
    json.dumps(an, allow_nan=False)


def test_analyse_line_minima_categories_preference():
    an = analyse_line(_line())
    assert an["task"] == "sentiment_positive"
    assert an["task_min"]["x"] == pytest.approx(0.5) and an["task_min"]["interior"]
    assert an["task_base_loss"] == 2.0
    # the cubic's local minimum near 0.44 is above its value at the left end of the range
    assert an["general_min"]["x"] == -1.0 and not an["general_min"]["interior"]
    assert an["general_min"]["y"] == pytest.approx(3.0 - 1.73 * 0.59)
    assert an["categories"]["coding"]["base_loss"] == pytest.approx(2.16)
    assert an["categories"]["coding"]["min"]["x"] == pytest.approx(0.4)
    assert an["categories"]["wiki"]["min"]["x"] == pytest.approx(-0.2)
    pref = an["preference"]
    assert pref["opposite"] == "sentiment_negative"
    assert pref["at_base"] == pytest.approx(0.5)
    a = -1.0  # general-min α
    assert pref["at_general_min"] == pytest.approx(2.5 + 0.5 * a - (2.0 - a + a * a))
    # the task curve has no losses at points used only by the derived curves
    assert all(v is not None for v in an["curves"]["task"])


def test_analyse_line_without_derived_curves_and_with_nonfinite():
    res = make_line_results(X, lambda a: 3.0 + a if a < 1.25 else float("nan"),
                            squaring=False, compositional=False)
    an = analyse(res)
    assert an["squaring"] is None and an["compositional"] is None
    assert an["task"] is None and an["task_min"] is None and an["preference"] is None
    assert an["nonfinite"]["general"] == 3  # α = 1.3, 1.4, 1.5
    assert an["curves"]["general"][-1] is None
    assert an["crossings"] == []
    json.dumps(an, allow_nan=False)


def test_base_loss_must_equal_base_point():
    res = _line()
    res["base_loss"] = 3.0000001
    with pytest.raises(ValueError, match="base_loss"):
        analyse_line(res)


# ----------------------------------------------------------------------------- grid analysis
AXIS = np.arange(-4, 5) / 2.0  # -2 ... 2 in steps of 0.5, containing 0


def test_grid_additive_surface():
    f = lambda a, b: 3 + 1.2 * a - 0.2 * b + a * a + b * b  # noqa: E731
    res = make_grid_results([AXIS, AXIS], f)
    an = analyse_grid(res)
    add = an["additivity"]
    assert add["interaction_rms"] == pytest.approx(0.0, abs=1e-12)
    assert add["r2"] == pytest.approx(1.0)
    assert add["cells"] == 64
    assert an["min"]["coefficients"] == [-0.5, 0.0] and an["min"]["loss"] == pytest.approx(2.65)
    assert an["max"]["coefficients"] == [2.0, -2.0] and an["max"]["loss"] == pytest.approx(3 + 2.4 + 0.4 + 4 + 4)
    cells = [(abs(f(a, b) - 3.0), [a, b]) for a in AXIS for b in AXIS if (a, b) != (0.0, 0.0)]
    best = min(cells, key=lambda t: t[0])
    c = an["closest_to_base"]
    assert c["coefficients"] == best[1] and abs(c["difference"]) == pytest.approx(best[0])


def test_grid_interaction_known_rms_and_r2():
    k = 0.3
    f = lambda a, b: 3 + a + b + k * a * b  # noqa: E731 — interaction is exactly k·a·b
    an = analyse(make_grid_results([AXIS, AXIS], f))
    off = np.array([a * b for a in AXIS for b in AXIS if a != 0 and b != 0])
    obs = np.array([f(a, b) for a in AXIS for b in AXIS if a != 0 and b != 0])
    add = an["additivity"]
    assert add["interaction_rms"] == pytest.approx(k * np.sqrt(np.mean(off ** 2)))
    assert add["r2"] == pytest.approx(1 - np.sum((k * off) ** 2) / np.sum((obs - obs.mean()) ** 2))
    assert add["max_abs_interaction"]["abs"] == pytest.approx(k * 4)
    assert add["max_abs_interaction"]["coefficients"] in ([-2.0, -2.0], [-2.0, 2.0], [2.0, -2.0], [2.0, 2.0])
    assert add["interaction"][0][4] == pytest.approx(0.0)  # on the β = 0 axis by construction


def test_grid_without_zero_axis_or_three_dirs_has_no_additivity():
    res = make_grid_results([AXIS, [-1.0, 1.0]], lambda a, b: 3 + a + b)
    assert res["points"][res["base_point"]]["coefficients"] == [0.0, 0.0]
    assert analyse_grid(res)["additivity"] is None
    an3 = analyse(make_grid_results([AXIS[::2]] * 3, lambda a, b, c: 1 + a * a + b * b + c * c,
                                    directions=("a", "b", "c")))
    assert an3["additivity"] is None
    assert an3["min"]["coefficients"] == [0.0, 0.0, 0.0]
    assert an3["closest_to_base"]["loss"] == pytest.approx(2.0)


def test_grid_nan_cells_ignored():
    f = lambda a, b: float("nan") if a == 2.0 else 3 + a * b  # noqa: E731
    an = analyse_grid(make_grid_results([AXIS, AXIS], f))
    assert an["nonfinite"]["general"] == len(AXIS)
    assert an["max"]["loss"] == pytest.approx(3 + (-2) * (-2))
    assert an["general"][-1][0] is None
    json.dumps(an, allow_nan=False)
