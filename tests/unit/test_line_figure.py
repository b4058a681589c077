"""#24 item 3: the line figure shows the finding. Read back from the drawn artists: the ΔL
curve is L − L(0) of the results, its bootstrap band brackets it, the zoomed panel holds the
dip and the return crossing and is narrower than the full range (drawn in a second panel),
and the title and legends are inside the figure, the legends outside the data area."""
from __future__ import annotations

import json

import numpy as np
import pytest
from matplotlib.collections import PolyCollection

from sitv_dist.results.analysis.landscape import general_loss, line_samples
from sitv_dist.results.plots.line_figure import plot_line, zoom_window
from sitv_dist.results.plots.run_plots import plt
from sitv_dist.results.report.run_report import write_report

from test_uncertainty import build_run

CROSS = 0.8                                   # L(c) = L(0) again here; the dip's bottom at 0.4


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = build_run(tmp_path_factory.mktemp("fig") / "run", directions=("bowl",), alpha=(-1.0, 4.0, 21),
                    shape={"bowl": lambda a: 3.0 + 0.5 * a * (a - CROSS)}, n_general=120)
    an = write_report(out, bootstrap=200)
    res = json.loads((out / "results" / "line_bowl.json").read_text())
    return out, an, res


def _axes(fig):
    return {ax.get_label(): ax for ax in fig.axes}


def test_delta_curve_band_and_zoom_read_back_from_the_artists(run):
    out, an, res = run
    a = an["sweeps"]["line_bowl"]
    fig, marks = plot_line(res, a, None, an["uncertainty"]["line_bowl"])
    axes = _axes(fig)
    zoom, full = axes["zoom"], axes["full"]
    cs, ys = line_samples(res)
    base = general_loss(res["points"][int(res["base_point"])])
    for ax in (zoom, full):
        (curve,) = [ln for ln in ax.get_lines() if ln.get_gid() == "delta"]
        assert np.allclose(curve.get_xdata(), cs)
        assert np.allclose(curve.get_ydata(), np.asarray(ys, dtype=float) - base, rtol=0, atol=1e-12)
        (band,) = [c for c in ax.collections if isinstance(c, PolyCollection) and c.get_gid() == "band"]
        verts = band.get_paths()[0].vertices
        for x, y in zip(cs, curve.get_ydata()):
            at = verts[np.isclose(verts[:, 0], x), 1]
            assert at.size >= 2 and at.min() <= y <= at.max(), x
        widths = [np.ptp(verts[np.isclose(verts[:, 0], x), 1]) for x in cs if x != 0.0]
        assert min(widths) > 0                     # a real band, not the curve drawn twice
    f = a["findings"]
    dip = f["global_min"]["x"]
    ret = [c["x"] for c in f["crossings"] if c["x"] > 0]
    assert abs(dip - CROSS / 2) < 0.2 and ret and abs(ret[0] - CROSS) < 0.1
    lo, hi = zoom.get_xlim()
    assert lo < 0 < hi and lo < dip < hi and lo < ret[0] < hi
    assert (lo, hi) == tuple(marks["zoom"])
    assert full.get_xlim() == (min(cs), max(cs))
    assert hi - lo < 0.5 * (max(cs) - min(cs))
    # the zoomed y-range is the dip's, not the full range's (where L climbs by nats)
    assert zoom.get_ylim()[1] - zoom.get_ylim()[0] < 0.25 * (full.get_ylim()[1] - full.get_ylim()[0])
    plt.close(fig)


def test_title_and_legends_inside_the_figure_and_outside_the_data(run):
    out, an, res = run
    fig, _ = plot_line(res, an["sweeps"]["line_bowl"], None, an["uncertainty"]["line_bowl"])
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    fb = fig.bbox
    title = fig._suptitle
    assert "ΔL = L(c) − L(0)" in title.get_text() and "line_bowl" in title.get_text()
    tb = title.get_window_extent(renderer)
    assert fb.x0 <= tb.x0 and tb.x1 <= fb.x1 and fb.y0 <= tb.y0 and tb.y1 <= fb.y1
    for ax in fig.axes:
        leg = ax.get_legend()
        assert leg is not None
        lb, ab = leg.get_window_extent(renderer), ax.get_window_extent(renderer)
        assert lb.x0 >= ab.x1                                   # right of the data area
        assert lb.x1 <= fb.x1 and lb.y0 >= fb.y0 and lb.y1 <= fb.y1, ax.get_label()   # not clipped
        at = ax.title.get_window_extent(renderer)
        assert ax.title.get_text() and at.y1 <= fb.y1
    plt.close(fig)


def test_without_a_bootstrap_the_figure_says_so(run):
    out, an, res = run
    fig, _ = plot_line(res, an["sweeps"]["line_bowl"], None, None)
    zoom = _axes(fig)["zoom"]
    assert not [c for c in zoom.collections if c.get_gid() == "band"]
    assert "no bootstrap band" in zoom.get_title()
    plt.close(fig)


def test_zoom_window_margin_and_fallback():
    xs = np.linspace(-1, 4, 21)                               # spacing 0.25
    assert zoom_window(xs, [0.4, 0.8]) == (-0.5, 1.3)          # pad: 2 spacings > 15 % of 0.8
    assert zoom_window(xs, []) == (-1.0, 4.0)                  # nothing but 0: the full range
    assert zoom_window(xs, [3.9]) == pytest.approx((-0.585, 4.0))   # 15 % of 3.9; clipped at the top
