"""`sitv status` prints sentences for a person and, with --json, the counts for a script."""
from __future__ import annotations

import json

from sitv_dist import cli


def test_status_text_and_json(monkeypatch, tmp_path, capsys):
    st = {"points": 10, "done": 7, "evaluations": 8, "recomputed": 1,
          "shards": {0: {"done": 4, "missing": 1, "failed": 0}, 1: {"done": 3, "missing": 2, "failed": 2}}}
    assert cli.status_text(st).splitlines() == ["7 of 10 points done, 3 missing; 8 evaluations (1 recomputed)",
                                                "  shard 0: 4 done, 1 missing",
                                                "  shard 1: 3 done, 2 missing, 2 failed"]
    searching = dict(st, search={"told": 16, "budget": 48, "complete": False, "split": "layers"})
    assert cli.status_text(searching).splitlines()[-1] == \
        "  search (a coefficient per layer): 16 of a budget of 48 points told; not finished: rerun `sitv search`"
    import sitv_dist.sweep.reduce as reduce
    monkeypatch.setattr(reduce, "status", lambda out: st)
    assert cli.main(["status", str(tmp_path)]) == 0
    assert capsys.readouterr().out.startswith("7 of 10 points done")
    assert cli.main(["status", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["shards"]["1"]["failed"] == 2


def test_help_speaks_to_users(capsys):
    import pytest
    with pytest.raises(SystemExit) as exc:
        cli.main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "M(α) = M_base + αT" in out and "sitv run -c CONFIG" in out and "sitv COMMAND --help" in out
    assert "imports its stage" not in out            # the module docstring is for developers
