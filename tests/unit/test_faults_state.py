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
