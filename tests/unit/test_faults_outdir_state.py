"""State in OUT that a rerun must not trust: a point file copied in from another experiment
(same id, another fingerprint) is evaluated again with one warning line and every finished
point kept; a results file older than its points is never served (the report rebuilds it,
readers refuse it in one line). Toy sweeps in process (~1 s each)."""
import json
import shutil

from conftest import make_config
from sitv_dist.cli import main
from sitv_dist.config import load_config
from sitv_dist.outdir import OutDir
from sitv_dist.stages import sweep as pipeline


def _snapshot(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_a_point_file_from_another_experiment_is_recomputed_and_the_rest_kept(toy, tmp_path, capsys):
    mine, theirs = tmp_path / "mine", tmp_path / "theirs"
    cfg = load_config(make_config(toy, tmp_path, mine))
    other = load_config(make_config(toy, tmp_path, theirs), ["eval.max_length=32"])    # another experiment
    pipeline.sweep(cfg, mine, progress=False)
    pipeline.sweep(other, theirs, progress=False)
    victim = sorted(OutDir(mine).points_dir.glob("p*.json"))[2]
    stranger = OutDir(theirs).point(victim.stem)
    good, foreign = json.loads(victim.read_text()), json.loads(stranger.read_text())
    assert foreign["id"] == good["id"] and foreign["fingerprint"] != good["fingerprint"]
    assert foreign["sets"]["general"]["per_text_nll"] != good["sets"]["general"]["per_text_nll"]
    shutil.copy2(stranger, victim)                                  # copied in by hand
    kept = {p.name: p.read_bytes() for p in OutDir(mine).points_dir.glob("p*.json") if p != victim}
    outside = sorted(p.name for p in tmp_path.iterdir())
    logged = OutDir(mine).evaluation_counts()
    capsys.readouterr()
    stats = pipeline.sweep(cfg, mine, progress=False)
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert err == [f"warning: 1 point file(s) in {mine}/points come from another experiment (another model, "
                   f"direction or eval set), e.g. {victim.stem}.json; they are evaluated again and replaced"]
    assert stats["evaluated"] == 1 and list(OutDir(mine).evaluation_counts() - logged) == [victim.stem]
    again = json.loads(victim.read_text())
    assert again["fingerprint"] == good["fingerprint"]
    assert again["sets"]["general"]["per_text_nll"] == good["sets"]["general"]["per_text_nll"]
    assert {p.name: p.read_bytes() for p in OutDir(mine).points_dir.glob("p*.json") if p != victim} == kept
    assert sorted(p.name for p in tmp_path.iterdir()) == outside          # nothing written beside OUT


def test_a_results_file_older_than_its_points_is_never_served(toy, tmp_path, capsys):
    """A point evaluated again after the reduce (here: its file rewritten with another loss):
    `sitv export` refuses the stale results in one line, `sitv report` reduces again first and
    reports the new loss; no point file is touched."""
    out = tmp_path / "out"
    assert main(["sweep", "-c", str(make_config(toy, tmp_path, out))]) == 0
    results = OutDir(out).results("line_mytask")
    old = json.loads(results.read_text())
    assert OutDir(out).stale_results() == {}
    victim = OutDir(out).point(old["points"][0]["id"])
    record = json.loads(victim.read_text())
    record["sets"]["general"]["loss"] *= 2                   # evaluated again, with another answer
    OutDir(out).write_point(record)
    points = {p.name: p.read_bytes() for p in OutDir(out).points_dir.glob("p*.json")}
    outside = sorted(p.name for p in tmp_path.iterdir())
    capsys.readouterr()
    assert main(["export", str(out), "--out", str(out / "t.csv")]) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert err == [f"error: {results} is older than its points (a point file was written again since "
                   f"the reduce); run `sitv reduce {out}` (or `sitv report {out}`, which rebuilds it) first"]
    assert main(["report", str(out), "--bootstrap", "0"]) == 0
    new = json.loads(results.read_text())
    assert new["points"][0]["general"]["loss"] == 2 * old["points"][0]["general"]["loss"]
    assert [p["general"] for p in new["points"][1:]] == [p["general"] for p in old["points"][1:]]
    assert OutDir(out).stale_results() == {}
    assert {p.name: p.read_bytes() for p in OutDir(out).points_dir.glob("p*.json")} == points
    assert sorted(p.name for p in tmp_path.iterdir()) == outside
    # a point planned for the sweep since (as a refinement round adds them), not evaluated yet:
    # the results are stale, the report names the sweep as pending instead of reading them
    plan = json.loads(OutDir(out).plan.read_text())
    extra = dict(plan["points"][0], id="p-added", coefficients=[0.123])
    plan["points"].append(extra)
    OutDir(out).write_plan(plan)
    assert OutDir(out).stale_results() == {"line_mytask": "the plan has changed for it: 17 points planned, it was "
                                                          "reduced from 16"}
    capsys.readouterr()
    assert main(["report", str(out), "--bootstrap", "0"]) == 0
    assert main(["export", str(out), "--out", str(out / "t.csv")]) == 2
    assert "line_mytask.json is older than its points (the plan has changed" in capsys.readouterr().err
    assert "1 point(s) missing since its last reduce" in (out / "report.md").read_text()
