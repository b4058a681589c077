"""The README stays true: its set-up commands are the ones CI runs, and its configuration
reference matches the code."""
from pathlib import Path

from sitv_dist.cli import config_reference as reference

ROOT = Path(__file__).resolve().parents[2]


def test_readme_test_command_is_what_ci_runs():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    blocks = [b.split("```")[0].strip() for b in readme.split("```bash\n")[1:3]]
    assert blocks[0].endswith("&& sitv run")
    assert blocks[1].endswith("python -m pytest tests")
    assert blocks[1] in ci


def test_readme_configuration_reference_is_current():
    assert reference() in (ROOT / "README.md").read_text()
