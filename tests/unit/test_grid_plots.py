"""Grids beyond the heatmap: a 3-D grid (10³-style, here 4³) through the same machinery with
plane slices, and the surface and slices of a 2-D grid."""
import json

import numpy as np

from conftest import make_config
from sitv_dist.stages import sweep as pipeline
from sitv_dist.stages.report import reduce_and_report
from sitv_dist.config import load_config


def test_three_direction_grid_end_to_end(toy, tmp_path):
    out = tmp_path / "cube"
    grids = ("[{directions: [mytask, other, diff], range: {start: -1, stop: 2, num: 4}},"
             " {directions: [mytask, other], range: {start: -1, stop: 1, num: 5}}]")
    cfg = load_config(make_config(toy, tmp_path, out), [f"sweep.grids={grids}", "sweep.directions=[]",
                                                         "sweep.derived_directions={diff: {difference: [mytask, other]}}"])
    assert pipeline.sweep(cfg, out, progress=False)["complete"]
    reduce_and_report(out)
    cube = json.loads((out / "results" / "grid_mytask__other__diff.json").read_text())
    assert np.array(cube["index"]["grid"]).shape == (4, 4, 4)
    losses = np.array([[[cube["points"][k]["general"]["loss"] for k in row] for row in plane]
                       for plane in cube["index"]["grid"]])
    analysis = json.loads((out / "analysis.json").read_text())["sweeps"]["grid_mytask__other__diff"]
    assert analysis["min"]["loss"] == losses.min()
    where = np.unravel_index(losses.argmin(), losses.shape)
    assert analysis["min"]["coefficients"] == [cube["axes"][d][where[d]] for d in range(3)]
    plots = out / "plots"
    for name in ("grid_mytask__other__diff_planes.png", "grid_mytask__other_surface.png",
                 "grid_mytask__other_slices.png", "grid_mytask__other_heatmap.png"):
        assert (plots / name).stat().st_size > 10_000, name
    assert not (plots / "grid_mytask__other__diff_surface.png").exists()
