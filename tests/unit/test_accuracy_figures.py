"""#24 item 3: accuracy figures with chance levels, grid maps without an unresolved "best"
star and with a colour scale not spread over noise, the heatmap's title and legend clear of
the cells. Read back from the drawn artists."""
from __future__ import annotations

import math

import numpy as np
import pytest

from sitv_dist.results.accuracy import add_chance_levels, chance_levels
from sitv_dist.results.accuracy_report import accuracy_section
from sitv_dist.results.plots.accuracy_plots import accuracy_grid_figure, accuracy_line_figure, colour_half_range
from sitv_dist.results.plots.run_plots import plot_grid, plt
from sitv_dist.io import write_json


def _inside(inner, outer) -> bool:
    return outer.x0 <= inner.x0 and inner.x1 <= outer.x1 and outer.y0 <= inner.y0 and inner.y1 <= outer.y1


def _line_acc(chance=0.25):
    alpha = [-0.5, 0.0, 0.5, 1.0]
    return {"kind": "line", "sweep": "line_t", "directions": ["t"], "alpha": alpha, "series": {
        "mc:t": {"task": "t", "items": 100, "chance": chance, "metrics": {
            "acc": {"curve": [0.30, 0.31, 0.40, 0.35], "base": 0.31, "best": {"x": 0.5, "y": 0.40}},
            "acc_norm": {"curve": [0.20, 0.19, 0.22, 0.21], "base": 0.19, "best": {"x": 0.5, "y": 0.22}}}}}}


def test_chance_level_from_the_choices_of_each_item(tmp_path):
    out = tmp_path / "run"
    lls = [[-1.0, -2.0], [-1.0, -2.0, -3.0, -4.0], [-1.0, -2.0, -3.0, -4.0]]      # 2-, 4- and 4-way items
    write_json(out / "points" / "p0.json", {"id": "p0", "sets": {"task:t": {"mc": {"loglikelihoods": lls}}}})
    results = {"base_point": 0, "directions": ["t"], "task_of": {"t": "t"},
               "points": [{"id": "p0", "tasks": {"t": {"mc": {"acc": 0.5, "acc_norm": 0.5, "items": 3}}}}]}
    assert chance_levels(out, results) == pytest.approx({"t": (1 / 2 + 1 / 4 + 1 / 4) / 3})
    acc = {"series": {"mc:t": {"task": "t"}, "lm_eval:x": {"task": "x"}}}
    add_chance_levels(out, results, acc)
    assert acc["series"]["mc:t"]["chance"] == pytest.approx(1 / 3) and acc["series"]["lm_eval:x"]["chance"] is None
    assert chance_levels(tmp_path / "nothing", results) == {}


def test_accuracy_line_has_chance_line_bands_and_outside_legend():
    unc = {"t": {m: {"ci": [[v - 0.05, v + 0.05] for v in curve]} for m, curve in
                 (("acc", [0.30, 0.31, 0.40, 0.35]), ("acc_norm", [0.20, 0.19, 0.22, 0.21]))}}
    fig = accuracy_line_figure(_line_acc(), unc)
    fig.tight_layout()
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    (ax,) = fig.axes
    (chance,) = [ln for ln in ax.get_lines() if ln.get_gid() == "chance"]
    assert set(chance.get_ydata()) == {0.25}
    assert {c.get_gid() for c in ax.collections} == {"band:acc", "band:acc_norm"}
    assert ax.get_legend().get_window_extent(r).x0 >= ax.get_window_extent(r).x1
    assert _inside(ax.get_legend().get_window_extent(r), fig.bbox)
    assert "accuracy along α" in fig._suptitle.get_text() and _inside(fig._suptitle.get_window_extent(r), fig.bbox)
    plt.close(fig)
    fig = accuracy_line_figure(_line_acc(chance=None), None)
    assert not [ln for ln in fig.axes[0].get_lines() if ln.get_gid() == "chance"]
    assert "chance level unknown" in [t.get_text() for t in fig.axes[0].get_legend().get_texts()][-1]
    plt.close(fig)


def _grid_acc(values, base, best):
    return {"kind": "grid", "sweep": "grid_a__b", "directions": ["a", "b"], "axes": [[-1.0, 0.0, 1.0]] * 2,
            "series": {"mc:a": {"task": "a", "items": 100, "chance": 0.25, "metrics": {
                "acc": {"grid": values, "base": base, "best": {"coefficients": best[0], "y": best[1]}}}}}}


def test_grid_accuracy_map_scale_and_unresolved_highest_cell():
    noise = 2 * math.sqrt(0.3 * 0.7 / 100)                           # 0.0917: 2 s.e. of 100 items at 0.30
    small = [[0.30, 0.31, 0.29], [0.30, 0.30, 0.32], [0.31, 0.30, 0.30]]
    fig = accuracy_grid_figure(_grid_acc(small, 0.30, ([0.0, 1.0], 0.32)), "mc:a")
    fig.tight_layout()
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    ax = fig.axes[0]
    mesh = ax.collections[0]
    assert mesh.norm.vmin == pytest.approx(-noise) and mesh.norm.vmax == pytest.approx(noise)   # not ±0.02
    assert np.allclose(np.asarray(mesh.get_array()).reshape(3, 3).T, np.asarray(small) - 0.30)
    (highest,) = [ln for ln in ax.get_lines() if ln.get_gid() == "highest"]
    assert highest.get_marker() == "o" and highest.get_markerfacecolor() == "none"
    assert not [ln for ln in ax.get_lines() if ln.get_marker() == "*"]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("unresolved" in t for t in labels) and "chance = 0.250" in labels
    assert ax.get_legend().get_window_extent(r).y1 <= ax.get_window_extent(r).y0          # below the cells
    assert _inside(ax.title.get_window_extent(r), fig.bbox)
    plt.close(fig)
    big = [[0.1, 0.3, 0.3], [0.3, 0.3, 0.3], [0.3, 0.3, 0.7]]
    assert colour_half_range(np.asarray(big), 0.3, 100) == pytest.approx(0.4)    # a real change sets the range
    tie = accuracy_grid_figure(_grid_acc(small, 0.32, ([0.0, 1.0], 0.32)), "mc:a")        # only ties the origin
    assert not [ln for ln in tie.axes[0].get_lines() if ln.get_gid() == "highest"]
    plt.close(tie)


def test_heatmap_title_and_legend_clear_of_the_cells():
    axes = [[-1.0, 0.0, 1.0], [-1.0, 0.0, 1.0, 2.0]]
    z = [[3.0 + a * a + b * (b - 1) for b in axes[1]] for a in axes[0]]
    analysis = {"axes": axes, "general": z, "directions": ["a_long_direction_name", "b_long_direction_name"],
                "base_loss": 3.0, "sweep": "grid_a_long_direction_name__b_long_direction_name",
                "min": {"coefficients": [0.0, 0.0], "loss": 3.0}, "closest_to_base": None}
    fig = plot_grid({}, analysis, None)
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    ax = fig.axes[0]
    assert "grid_a_long_direction_name__b_long_direction_name" in ax.get_title().replace("\n", "")
    assert _inside(ax.title.get_window_extent(r), fig.bbox)
    leg = ax.get_legend().get_window_extent(r)
    assert leg.y1 <= ax.get_window_extent(r).y0 and _inside(leg, fig.bbox)
    plt.close(fig)


def test_accuracy_section_links_the_line_figure_and_states_chance():
    acc = _line_acc()
    an = {"accuracy": {"line_t": acc}, "plots": {"line_t": ["plots/line_t_line.png", "plots/line_t_accuracy.png"]}}
    md = "\n".join(accuracy_section(an))
    assert "](plots/line_t_accuracy.png)" in md and "](plots/line_t_line.png)" not in md
    assert "Chance level" in md and "mc:t 0.25" in md


def test_grid_accuracy_table_calls_the_highest_cell_unresolved():
    acc = _grid_acc([[0.3] * 3] * 3, 0.3, ([0.0, 1.0], 0.32))
    md = "\n".join(accuracy_section({"accuracy": {"grid_a__b": acc}, "plots": {}}))
    assert "highest cell (unresolved: grids have no interval)" in md and "best cell" not in md
    assert "| mc:a | acc | 0.30 | 0, 1 | 0.32 |" in md
