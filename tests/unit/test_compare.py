"""compare() on three small synthetic runs: files written, numbers equal to the runs' own results."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import yaml

from sitv_dist.vectors import taskvector
from sitv_dist.results.analysis.landscape import analyse, line_samples
from sitv_dist.results.compare.comparison import compare
from sitv_dist.results.report.run_report import write_report
from test_uncertainty import ROOT, build_run, quad


def tv(seed: int, base: dict | None = None, mix: float = 0.0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    shapes = {"embed.weight": (20, 6), "layer.weight": (6, 6), "norm.weight": (6,)}
    out = {n: torch.randn(s, generator=g) for n, s in shapes.items()}
    if base is not None:
        out = {n: mix * base[n] + out[n] for n in out}
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("compare")
    vectors = {"A_sent": tv(1)}
    vectors["A_qa"] = tv(2)
    vectors["B_sent"] = tv(3, vectors["A_sent"], mix=2.0)        # strongly aligned with A's
    vectors["C_other"] = tv(4)
    files = {}
    for name, t in vectors.items():
        files[name] = root / "tv" / f"{name}.safetensors"
        taskvector.save(files[name], t, "base", f"ft-{name}")
    # A: two lines, explicit task-vector paths in the config, per-point files, analysis.json
    a = build_run(root / "A", directions=("sent", "qa"), name="A", seed=1,
                  shape={"sent": quad, "qa": lambda x: 3.0 + 0.5 * x * (x - 0.9)})
    (a / "config.resolved.yaml").write_text(yaml.safe_dump({
        "name": "A", "model": {"name_or_path": "toy-base"},
        "sweep": {"task_vectors": {"sent": str(files["A_sent"]), "qa": str(files["A_qa"])}}}))
    write_report(a, bootstrap=0)
    # B: one line, the run's own task_vectors/ folder, per-point files, a stale analysis.json
    b = build_run(root / "B", directions=("sent",), name="B", seed=2,
                  shape={"sent": lambda x: 3.0 + 0.8 * x * (x - 1.05)})
    (b / "task_vectors").mkdir()
    files["B_sent"].replace(b / "task_vectors" / "sent.safetensors")
    files["B_sent"] = b / "task_vectors" / "sent.safetensors"
    (b / "config.resolved.yaml").write_text(yaml.safe_dump({"name": "B", "model": {"name_or_path": "toy-base"},
                                                            "sweep": {"task_vectors": {}}}))
    write_report(b, bootstrap=0)
    stale = json.loads((b / "analysis.json").read_text())
    stale["sweeps"]["line_sent"]["base_loss"] += 0.5
    (b / "analysis.json").write_text(json.dumps(stale))
    # C: no crossing, no per-point files
    c = build_run(root / "C", directions=("other",), name="C", seed=3, shape={"other": lambda x: 3.0 + x * x},
                  points=False)
    (c / "config.resolved.yaml").write_text(yaml.safe_dump({
        "name": "C", "model": {"name_or_path": "toy-base"},
        "sweep": {"task_vectors": {"other": str(files["C_other"])}}}))
    dest = root / "cmp"
    doc = compare([a, b, c], dest, replicates=300, seed=1)
    return {"root": root, "dirs": {"A": a, "B": b, "C": c}, "dest": dest, "doc": doc, "files": files,
            "vectors": vectors}


def _md_row(md: str, section: str, *first: str) -> list[str]:
    body = md.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    for line in body.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[:len(first)] == list(first):
            return cells
    raise AssertionError(f"no row {first} in {section}")


def test_compare_writes_files(runs):
    dest, doc = runs["dest"], runs["doc"]
    assert json.loads((dest / "compare.json").read_text()) == json.loads(json.dumps(doc))
    assert doc["plots"] == ["plots/compare_general.png", "plots/compare_task.png", "plots/compare_cosine.png"]
    md = (dest / "compare.md").read_text()
    for p in doc["plots"]:
        assert (dest / p).stat().st_size > 5000 and f"]({p})" in md
    assert [e["label"] for e in doc["experiments"]] == ["A", "B", "C"]
    assert [(r["experiment"], r["sweep"]) for r in doc["lines"]] == [("A", "line_qa"), ("A", "line_sent"),
                                                                     ("B", "line_sent"), ("C", "line_other")]


def test_table_numbers_match_each_runs_results(runs):
    doc, md = runs["doc"], (runs["dest"] / "compare.md").read_text()
    norms = {("A", "line_sent"): "A_sent", ("A", "line_qa"): "A_qa", ("B", "line_sent"): "B_sent",
             ("C", "line_other"): "C_other"}
    for r in doc["lines"]:
        out = runs["dirs"][r["experiment"]]
        res = json.loads((out / "results" / f"{r['sweep']}.json").read_text())
        pts = res["points"]
        # the general minimum is over every point on the line (α grid, 2α, α+α²), as in the report
        cs, line = line_samples(res)
        base = pts[res["base_point"]]["general"]["loss"]
        k = int(np.argmin(line))
        task = res["task_of"][res["directions"][0]]
        tline = [pts[i]["tasks"][task]["loss"] for i in res["index"]["line"]]
        t0 = pts[res["base_point"]]["tasks"][task]["loss"]
        kt = int(np.argmin(tline))
        meta = taskvector.read_metadata(runs["files"][norms[(r["experiment"], r["sweep"])]])
        assert r["base_loss"] == base == res["base_loss"]
        assert r["general_min"]["alpha"] == cs[k] and r["general_min"]["loss"] == line[k]
        assert r["general_min"]["improvement_pct"] == pytest.approx(100 * (base - line[k]) / base, rel=1e-12)
        assert r["task_base_loss"] == t0 and r["task_min"]["alpha"] == res["alpha"][kt]
        assert r["task_min"]["improvement_pct"] == pytest.approx(100 * (t0 - tline[kt]) / t0, rel=1e-12)
        assert r["task_vector_norm"] == float(meta["global_norm"])
        an = analyse(res)
        assert [c["x"] for c in r["crossings"]] == [c["x"] for c in an["crossings"]]
        # one truth: a squaring return is the line's crossing at c = 2α, the same value as the line's
        assert [e["coefficient"] for e in r["squaring"]] == [c["x"] for c in an["crossings"]
                                                            if min(res["alpha"]) <= c["x"] / 2 <= max(res["alpha"])]
        assert all(e["x"] == e["coefficient"] / 2 for e in r["squaring"])
        cells = _md_row(md, "Line sweeps", r["experiment"], r["sweep"])
        assert cells[2] == task
        assert cells[3] == f"{float(meta['global_norm']):.4f}"
        assert cells[4] == f"{base:.4f}"
        assert cells[5] == f"{cs[k]:.4f}" and cells[6] == f"{line[k]:.4f}"
        assert cells[7] == f"{100 * (base - line[k]) / base:.1f}"
        assert cells[8] == f"{t0:.4f}" and cells[9] == f"{res['alpha'][kt]:.4f}" and cells[10] == f"{tline[kt]:.4f}"
        mark = {True: " ✓", False: " (not resolved)", None: ""}
        assert cells[12] == ("; ".join(f"{c['x']:.4f}{mark[e['resolved']]}" for c, e in zip(an["crossings"], r["crossings"]))
                             or "none")
        assert cells[14] == ("; ".join(f"{e['coefficient']:.4f}{mark[e['resolved']]}" for e in r["squaring"])
                             or "none")
    a_sent = next(r for r in doc["lines"] if (r["experiment"], r["sweep"]) == ("A", "line_sent"))
    assert len(a_sent["crossings"]) == 1 and abs(a_sent["crossings"][0]["x"] - ROOT) < 0.05
    c_other = next(r for r in doc["lines"] if r["experiment"] == "C")
    assert c_other["crossings"] == [] and c_other["general_min"]["alpha"] == 0.0
    assert c_other["general_min"]["improvement_pct"] == 0.0


def test_bootstrap_intervals_where_points_exist(runs):
    doc, md = runs["doc"], (runs["dest"] / "compare.md").read_text()
    by = {(r["experiment"], r["sweep"]): r for r in doc["lines"]}
    for key in (("A", "line_sent"), ("A", "line_qa"), ("B", "line_sent")):
        r = by[key]
        assert r["bootstrap"]["available"], r["bootstrap"]
        for c in r["crossings"]:
            assert c["ci"][0] <= c["x"] <= c["ci"][1] and 0 < c["exists"] <= 1 and c["resolved"] in (True, False)
        assert r["general_min"]["alpha_ci"][0] <= r["general_min"]["alpha"] <= r["general_min"]["alpha_ci"][1]
        assert r["returns_to_base"] and r["returns_to_base"] in md
    sent = by[("A", "line_sent")]["crossings"][0]
    assert sent["ci"][0] <= ROOT + 0.01 and ROOT - 0.01 <= sent["ci"][1]
    cells = _md_row(md, "Uncertainty (bootstrap over eval texts)", "A", "line_sent", "L(α)")
    assert cells[4] == f"{sent['x']:.4f}" and cells[5] == f"{sent['ci'][0]:.4f} .. {sent['ci'][1]:.4f}"
    c = by[("C", "line_other")]
    assert c["bootstrap"]["available"] is False
    assert "no intervals" in md and c["crossings"] == []
    # the bootstrap on its own agrees with what compare reports
    from sitv_dist.results.uncertainty.run_bootstrap import sweep_uncertainty
    res = json.loads((runs["dirs"]["A"] / "results" / "line_sent.json").read_text())
    u = sweep_uncertainty(runs["dirs"]["A"], res, replicates=300, seed=1)
    assert u["general"]["line"]["crossings"][0]["ci"] == sent["ci"]


def test_cosine_similarities(runs):
    cos = runs["doc"]["cosine"]
    assert cos["labels"] == ["A: qa", "A: sent", "B: sent", "C: other"]
    v = runs["vectors"]
    flat = {k: torch.cat([t.double().reshape(-1) for _, t in sorted(x.items())]) for k, x in v.items()}
    order = ["A_qa", "A_sent", "B_sent", "C_other"]
    for i, a in enumerate(order):
        for j, b in enumerate(order):
            expected = float(flat[a] @ flat[b] / (flat[a].norm() * flat[b].norm()))
            assert cos["matrix"][i][j] == pytest.approx(expected, abs=1e-12)
    assert cos["matrix"][1][2] > 0.8                       # B's vector was built from A's
    md = (runs["dest"] / "compare.md").read_text()
    row = _md_row(md, "Cosine similarity of task vectors", "A: sent")
    assert row[1:] == [f"{x:.4f}" for x in cos["matrix"][1]]


def test_consistency_with_analysis_files(runs):
    by = {(r["experiment"], r["sweep"]): r for r in runs["doc"]["lines"]}
    assert by[("A", "line_sent")]["analysis_check"] == "matches analysis.json"
    assert by[("B", "line_sent")]["analysis_check"] == "differs from analysis.json in base_loss"
    assert by[("C", "line_other")]["analysis_check"] == "no analysis.json"
    md = (runs["dest"] / "compare.md").read_text()
    assert "- B / line_sent: differs from analysis.json in base_loss" in md


def test_compare_without_bootstrap_and_bad_dirs(runs, tmp_path):
    doc = compare([runs["dirs"]["C"]], tmp_path / "one", replicates=0)
    assert doc["plots"] == ["plots/compare_general.png", "plots/compare_task.png"]   # one vector: no heatmap
    assert doc["cosine"]["matrix"] == [[pytest.approx(1.0)]]
    with pytest.raises(FileNotFoundError, match="reduce the run first"):
        compare([tmp_path / "missing"], tmp_path / "x")


def test_compare_and_report_agree_on_every_crossing(runs):
    """One truth: compare's crossings, squaring returns (2α and α) and compositional returns are
    the report's findings of the line (analysis.json), not a second interpolation on the α grid."""
    for exp in ("A", "B"):
        stored = json.loads((runs["dirs"][exp] / "analysis.json").read_text())["sweeps"]
        for r in (r for r in runs["doc"]["lines"] if r["experiment"] == exp):
            report = [c["x"] for c in stored[r["sweep"]]["findings"]["crossings"]]
            alpha = stored[r["sweep"]]["curves"]["alpha"]
            assert report and [e["x"] for e in r["crossings"]] == report
            assert [e["coefficient"] for e in r["squaring"]] == [x for x in report if min(alpha) <= x / 2 <= max(alpha)]
            assert [2 * e["x"] for e in r["squaring"]] == [e["coefficient"] for e in r["squaring"]]
            for e in r["compositional"]:
                assert e["coefficient"] in report and e["x"] + e["x"] ** 2 == pytest.approx(e["coefficient"], abs=1e-12)


def test_colliding_names_are_labelled_by_out_dir():
    from pathlib import Path

    from sitv_dist.results.compare.comparison import unique_labels
    dirs = [Path("runs/gemma"), Path("runs/smollm"), Path("other/x"), Path("more/x"), Path("runs/b")]
    assert unique_labels(["default", "default", "exp", "exp", "b"], dirs) == \
        ["gemma", "smollm", "other/x", "more/x", "b"]
