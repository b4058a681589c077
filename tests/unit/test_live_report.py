"""`sitv run` writes the report as soon as the lines are done and rewrites it as the grids and
slope and curvature finish: a section not yet computed says so in one line (issue #20)."""
import json

from sitv_dist.config import load_config
from sitv_dist.stages import run as run_stage

from conftest import make_config


def test_report_fills_in_as_the_phases_finish(toy, tmp_path, monkeypatch, capsys):
    out = tmp_path / "live"
    cfg = load_config(make_config(toy, tmp_path, out, grid_num=3, refine_rounds=1))
    seen = []
    real = run_stage.report_so_far

    def spy(where, derivatives_pending, search_pending=False):
        an = real(where, derivatives_pending, search_pending)
        seen.append(((out / "report.md").read_text(), json.loads((out / "analysis.json").read_text())))
        return an

    monkeypatch.setattr(run_stage, "report_so_far", spy)
    run_stage.run(cfg, progress=False)
    assert len(seen) == 2
    (first, first_an), (second, second_an) = seen
    # after the lines: the grid and the derivatives pending, the line's findings already there
    assert set(first_an["pending"]) == {"grid_mytask__other", "derivatives"}
    assert "of 9 points evaluated so far" in first_an["pending"]["grid_mytask__other"]
    assert first.count("**Run in progress**") == 1
    assert "### grid_mytask__other" in first and "Pending (" in first
    assert "### line_mytask" in first and first_an["sweeps"]["line_mytask"]["findings"]
    assert "grid_mytask__other" not in first_an["sweeps"]
    # after the grid: only the derivatives pending
    assert set(second_an["pending"]) == {"derivatives"}
    assert second_an["sweeps"]["grid_mytask__other"]["kind"] == "grid"
    # the end: complete, nothing pending, the slope and curvature in
    final, final_an = (out / "report.md").read_text(), json.loads((out / "analysis.json").read_text())
    assert "pending" not in final_an and "Pending" not in final and "Run in progress" not in final
    assert final_an["sweeps"]["line_mytask"]["derivatives"]["general"]["slope"] is not None
    # the lines' findings did not change when the report was completed
    assert final_an["sweeps"]["line_mytask"]["findings"] == first_an["sweeps"]["line_mytask"]["findings"]
    printed = capsys.readouterr().out
    assert "phase lines:" in printed and "phase grids:" in printed
    assert f"report: {out / 'report.md'} (the lines' findings; the grids, slope and curvature pending" in printed
    assert printed.count("report: ") == 2          # where it is, the first time, and when it is complete


def test_phase_line_gives_an_eta_from_measured_rates():
    from sitv_dist.stages.phase_eta import estimate_seconds, phase_line
    from sitv_dist.sweep.plan import PlannedPoint
    pts = [PlannedPoint("a", [0.1], ["general"], 0, ["l"]), PlannedPoint("b", [0.2], ["general", "task:x"], 0, ["l"])]
    rates = {("general",): 0.5}
    # the unseen kind scales by its number of sets: 0.5 + 1.0, over 2 workers
    assert estimate_seconds(pts, rates, 2) == 0.75
    assert estimate_seconds(pts, {}, 1) is None
    assert phase_line("phase grids", 2, 5, None, 1).endswith("ETA once the first points are timed")
    assert phase_line("phase grids", 2, 5, 75.0, 1).endswith("ETA 1 min 15 s at the rate measured on this out_dir")
    assert phase_line("phase grids", 0, 5, 0.0, 1).endswith("(all on disk)")
