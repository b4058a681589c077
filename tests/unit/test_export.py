"""`sitv export`: the long table read back from csv and parquet equals the JSON results,
value by value."""
from __future__ import annotations

import pandas as pd
import pytest

from conftest import make_config
from sitv_dist import Experiment
from sitv_dist.cli import main


@pytest.fixture(scope="module")
def swept(toy, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("export")
    path = make_config(toy, tmp, tmp / "out", grid_num=3, refine_rounds=0, compositional=False)
    return Experiment.from_yaml(path, sweep__alpha__num=3).sweep()


def json_rows(results) -> dict:
    """(sweep, point, eval set, category) -> (coefficients, loss, nll_sum, tokens), from the JSON."""
    rows = {}
    for name, sweep in results.sweeps.items():
        for p in sweep.data["points"]:
            coefs = dict(zip(sweep.directions, p["coefficients"]))
            sets = {"general": p["general"], **{f"task:{t}": e for t, e in p["tasks"].items()}}
            for set_name, entry in sets.items():
                for cat, e in [("all", entry), *(entry.get("categories") or {}).items()]:
                    rows[(name, p["id"], set_name, cat)] = (coefs, e["loss"], e["nll_sum"], e["tokens"])
    return rows


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export_round_trip(swept, fmt, capsys):
    assert main(["export", str(swept.out.root), "--format", fmt]) == 0
    path = swept.out.root / "tables" / f"results.{fmt}"
    assert capsys.readouterr().out.strip() == f"wrote {path}"
    table = pd.read_csv(path) if fmt == "csv" else pd.read_parquet(path)
    want = json_rows(swept)
    assert len(table) == len(want)
    for row in table.itertuples(index=False):
        coefs, loss, nll, tokens = want[(row.sweep, row.point, row.eval_set, row.category)]
        for direction in ("mytask", "other"):
            assert getattr(row, direction) == coefs.get(direction, 0.0)
        # csv keeps 17 significant digits (pandas' float format round-trips a float64)
        assert (row.loss, row.nll_sum, row.tokens) == (loss, nll, tokens)


def test_export_of_a_missing_dir_is_an_error(tmp_path, capsys):
    assert main(["export", str(tmp_path / "nope")]) == 2
    assert "is not a directory" in capsys.readouterr().err
