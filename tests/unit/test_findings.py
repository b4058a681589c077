"""#14: one set of findings per line. For every line of a run the crossing and minimum counts
and locations agree between the summary, the per-line section, analysis.json and the figure,
and each finding carries its depth, interval, share of replicates and resolved flag."""
from __future__ import annotations

import json
import re

import numpy as np

from sitv_dist.results.analysis.landscape import line_samples
from sitv_dist.results.report.run_report import write_report

from test_uncertainty import ROOT, build_run


def _section(md: str, title: str) -> str:
    return md.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def _table_after(text: str, label: str) -> list[list[str]]:
    """Rows of the first table after the line `label`."""
    body = text.split(label, 1)[1]
    rows = []
    for line in body.splitlines()[1:]:
        if not line.strip():
            if rows:
                break
            continue
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip().strip("|").split("|")])
    return rows[2:]        # without the header and the rule


def _cs(cell: str) -> list[float]:
    return [] if cell == "none" else [float(part.split()[0]) for part in cell.split(";")]


def test_findings_agree_in_summary_sections_analysis_and_figures(tmp_path):
    shapes = {"dip": lambda a: 3.0 + 0.3 * a * (a - 0.12),          # a dip of ~1e-3 at c = 0.1: below the noise
              "bowl": lambda a: 3.0 + a * (a - ROOT)}                                        # a real minimum and return
    out = build_run(tmp_path / "run", directions=tuple(shapes), shape=shapes, n_general=120)
    an = write_report(out, bootstrap=300)
    md = (out / "report.md").read_text()
    on_disk = json.loads((out / "analysis.json").read_text())
    summary, lines = _section(md, "Summary"), _section(md, "Lines")
    rows = {r[0]: r for r in _table_after("## Summary\n" + summary, "\n")}
    for name in ("line_dip", "line_bowl"):
        a = on_disk["sweeps"][name]
        f = a["findings"]
        res = json.loads((out / "results" / f"{name}.json").read_text())
        cs, ys = line_samples(res)
        # analysis.json: the findings are the analysis' crossings and minima over every point on the line
        assert [c["x"] for c in f["crossings"]] == [c["x"] for c in a["crossings"]]
        assert [m["x"] for m in f["minima"]] == [m["x"] for m in a["minima"]]
        assert f["samples"] == len(cs) == len(res["index"]["all"])
        assert f["global_min"]["x"] == cs[int(np.nanargmin(ys))]
        # the summary row
        row = rows[name]
        assert np.allclose(_cs(row[3]), [c["x"] for c in f["crossings"]], atol=5e-4)
        assert np.allclose(_cs(row[4]), [m["x"] for m in f["minima"]], atol=5e-4)
        assert float(row[2].split()[0]) == round(f["global_min"]["x"], 3)
        # the per-line section
        part = lines.split(f"### {name} ", 1)[1].split("\n### ", 1)[0]
        crossing_rows = [] if "No crossing of L(0)" in part else _table_after(part, "Crossings of L(0):")
        minima_rows = [] if "No interior local minimum" in part else _table_after(part, "Interior minima:")
        assert [float(r[1]) for r in crossing_rows] == [round(c["x"], 4) for c in f["crossings"]]
        assert [float(r[1]) for r in minima_rows] == [round(m["x"], 4) for m in f["minima"]]
        assert [r[7] for r in crossing_rows] == ["yes" if c["resolved"] else "no" for c in f["crossings"]]
        # the figure marks exactly these
        marks = on_disk["figure_marks"][name]
        assert marks["crossings"] == [c["x"] for c in f["crossings"]]
        assert marks["minima"] == [m["x"] for m in f["minima"]]
        assert marks["global_min"] == f["global_min"]["x"]
        for c in f["crossings"]:
            assert 0 <= c["exists"] <= 1 and c["resolved"] in (True, False) and c["depth"] is not None
        for m in f["minima"]:
            assert m["depth"] == m["loss"] - a["base_loss"] and m["depth_interval"][0] <= m["depth_interval"][1]
    bowl, dip = an["sweeps"]["line_bowl"]["findings"], an["sweeps"]["line_dip"]["findings"]
    assert any(c["resolved"] and abs(c["x"] - ROOT) < 0.05 for c in bowl["crossings"])
    assert any(m["resolved"] and m["depth"] < 0 for m in bowl["minima"])
    # the dip of ~3e-3 nats (noise included) is below the noise of 120 texts: reported, but as not resolved
    small = [m for m in dip["minima"] if abs(m["x"] - 0.1) < 1e-9]
    assert small and small[0]["depth"] < 0 and small[0]["resolved"] is False
    early = [c for c in dip["crossings"] if 0.1 < c["x"] < 0.3]
    assert early and early[0]["resolved"] is False
    assert re.search(r"`line_dip`: Not resolved \(smaller than the eval set's sampling noise", summary)
