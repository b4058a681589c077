"""Hand-edited state in OUT: a plan.json edited by hand is refused in one line and no point file
is lost or rewritten. Integration: two in-process sweeps of the toy (~10 s)."""
import pytest

from conftest import make_config
from sitv_dist.cli import main


@pytest.mark.integration
def test_a_hand_edited_plan_is_refused_in_one_line_and_loses_nothing(toy, tmp_path, capsys):
    out = tmp_path / "out"
    cfg = make_config(toy, tmp_path, out)
    assert main(["sweep", "-c", str(cfg)]) == 0
    points = {p.name: p.read_bytes() for p in (out / "points").glob("p*.json")}
    assert len(points) == 16
    plan = out / "plan.json"
    plan.write_text(plan.read_text().replace("1", "7", 3))
    capsys.readouterr()
    assert main(["sweep", "-c", str(cfg)]) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip() and "%|" not in ln]
    assert len(err) == 1 and err[0].startswith(f"config error: out_dir: {out} holds results that this config "
                                               "would change"), err
    assert {p.name: p.read_bytes() for p in (out / "points").glob("p*.json")} == points
