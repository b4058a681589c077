"""docs/api.md's worked example can never go stale: every python block runs, in order, in a
fresh directory (the embedded base is built once per test session: minutes, hence integration)."""
from __future__ import annotations

import re
from pathlib import Path

import matplotlib

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def test_every_snippet_runs(tmp_path, monkeypatch):
    matplotlib.use("Agg")
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert len(blocks) == 6
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for i, code in enumerate(blocks):
        exec(compile(code, f"{DOC.name} block {i + 1}", "exec"), namespace)
    assert (tmp_path / "line.png").stat().st_size > 1000
    assert len(namespace["table"]["lines"]) == 2
    line = namespace["line"]
    assert sorted(line[line.category == "all"].pos) == [-0.5, 0.0, 0.5, 1.0]
