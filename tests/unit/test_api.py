"""The Python API: an Experiment runs the stages the commands run (the same files), and
open_results gives the reduced JSON as objects, a long table, grids and figures."""
from __future__ import annotations

import json

import matplotlib.figure
import pytest
import yaml

import sitv_dist
from conftest import make_config, records
from sitv_dist import Experiment, open_results
from sitv_dist.cli import main
from sitv_dist.config import ConfigError


@pytest.fixture(scope="module")
def finished(toy, tmp_path_factory):
    """A line and a 3×3 grid on the toy model, swept from Python (and reported)."""
    tmp = tmp_path_factory.mktemp("api")
    path = make_config(toy, tmp, tmp / "out", grid_num=3, refine_rounds=0, squaring=False, compositional=False)
    exp = Experiment.from_yaml(path, sweep__alpha__num=3)
    results = exp.sweep()
    exp.report(bootstrap=0)
    return exp, open_results(exp.out.root), path, tmp


def test_top_level_names():
    assert {"Experiment", "open_results", "compare", "sweep_model"} <= set(sitv_dist.__all__)
    assert sitv_dist.open_results is open_results


def test_overrides_and_dict_configs(toy, tmp_path):
    path = make_config(toy, tmp_path, tmp_path / "o")
    exp = Experiment.from_yaml(path, **{"sweep.alpha.num": 5}, eval__batch_size=2)
    assert (exp.cfg.sweep.alpha.num, exp.cfg.eval.batch_size) == (5, 2)
    data = yaml.safe_load(path.read_text())
    assert Experiment.from_dict(data, out_dir=str(tmp_path / "x")).cfg.out_dir == str(tmp_path / "x")
    assert data["out_dir"] == str(tmp_path / "o")          # the caller's dict is not changed
    with pytest.raises(ConfigError, match="sweep.alpha.nmu: unknown key"):
        Experiment.from_dict(data, sweep__alpha__nmu=3)


def test_results_objects_match_the_json(finished):
    exp, res, _, _ = finished
    assert sorted(res.lines) == ["line_mytask"] and sorted(res.grids) == ["grid_mytask__other"]
    line = json.loads((exp.out.root / "results" / "line_mytask.json").read_text())
    assert res["line_mytask"].data == line and res["line_mytask"].base_loss == line["base_loss"]
    assert "line_mytask" in res.findings and "crossings" in res.findings["line_mytask"]


def test_long_table_values(finished):
    _, res, _, _ = finished
    df = res.to_pandas()
    assert list(df.columns[:9]) == ["sweep", "kind", "point", "round", "origin", "mytask", "other", "eval_set",
                                    "category"]
    line = res["line_mytask"].data
    rows = df[(df.sweep == "line_mytask") & (df.eval_set == "general") & (df.category == "all")]
    assert len(rows) == len(line["points"])
    for point in line["points"]:
        row = rows[rows.point == point["id"]]
        assert row.mytask.item() == point["coefficients"][0] and row.other.item() == 0.0
        assert (row.loss.item(), row.nll_sum.item(), row.tokens.item()) == (
            point["general"]["loss"], point["general"]["nll_sum"], point["general"]["tokens"])
    cats = df[(df.sweep == "line_mytask") & (df.eval_set == "general") & (df.category == "coding")]
    assert cats.loss.tolist() == [p["general"]["categories"]["coding"]["loss"] for p in line["points"]]
    task = df[(df.sweep == "line_mytask") & (df.eval_set == "task:mytask")]
    assert task.loss.tolist() == [p["tasks"]["mytask"]["loss"] for p in line["points"]]


def test_grid_as_xarray(finished):
    _, res, _, _ = finished
    grid = res["grid_mytask__other"].data
    arr = res.to_xarray()
    assert arr.dims == ("mytask", "other") and arr.coords["mytask"].values.tolist() == grid["axes"][0]
    for i, row in enumerate(grid["index"]["grid"]):
        for j, k in enumerate(row):
            assert arr.values[i, j] == grid["points"][k]["general"]["loss"]
    task = res.to_xarray("grid_mytask__other", eval_set="task:mytask")
    assert task.values[1, 1] == grid["points"][grid["index"]["grid"][1][1]]["tasks"]["mytask"]["loss"]
    with pytest.raises(ValueError, match="to_xarray takes a grid"):
        res["line_mytask"].to_xarray()


def test_plot_returns_the_report_figure(finished):
    _, res, _, _ = finished
    fig = res.plot("line_mytask")
    assert isinstance(fig, matplotlib.figure.Figure)
    x, y = fig.axes[0].lines[0].get_data()
    a = res.analysis["sweeps"]["line_mytask"]
    samples = a["samples"]
    assert list(x) == samples["c"] and list(y) == [v - a["base_loss"] for v in samples["general"]]   # ΔL (#24)
    assert isinstance(res.plot("grid_mytask__other", "heatmap"), matplotlib.figure.Figure)
    with pytest.raises(ValueError, match="a line sweep has line, categories"):
        res.plot("line_mytask", "heatmap")


def test_the_cli_and_the_api_write_the_same_points(finished, toy):
    """`sitv sweep` on a copy of the config evaluates the same points to the same values."""
    exp, _, path, tmp = finished
    cfg = yaml.safe_load(path.read_text())
    cfg["out_dir"] = str(tmp / "cli")
    cfg["sweep"]["alpha"]["num"] = 3
    other = tmp / "cli.yaml"
    other.write_text(yaml.safe_dump(cfg))
    assert main(["sweep", "-c", str(other)]) == 0
    strip = lambda r: {k: v for k, v in r.items() if k not in ("time_s",)}     # noqa: E731
    api, cli = records(exp.out.root), records(tmp / "cli")
    assert api.keys() == cli.keys() and all(strip(api[k]) == strip(cli[k]) for k in api)
    assert Experiment.from_yaml(other).sweep().to_pandas().equals(open_results(tmp / "cli").to_pandas())


def test_compare_two_runs(finished, tmp_path):
    exp, res, _, tmp = finished
    out = sitv_dist.compare([res, tmp / "cli"], tmp_path / "cmp", bootstrap=0)
    assert len(out["lines"]) == 2 and (tmp_path / "cmp" / "compare.md").is_file()
