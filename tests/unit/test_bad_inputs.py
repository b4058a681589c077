"""Every bad input of scripts/bad_inputs.py ends in one clear error line before any model
loads, and docs/reliability.md is the table that script writes now."""
import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bad_inputs_table_is_current_and_every_case_is_one_early_error(capsys):
    spec = importlib.util.spec_from_file_location("bad_inputs", ROOT / "scripts" / "bad_inputs.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bad_inputs"] = module          # dataclasses look their module up there
    spec.loader.exec_module(module)
    assert len(module.CASES) >= 40
    rc = module.main_(["--check", str(ROOT / "docs" / "reliability.md")])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert '"misbehaving": 0' in captured.out
