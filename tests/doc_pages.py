"""For the unit tests of the scripts that generate docs pages (scripts/bad_inputs.py,
scripts/faults.py): load the script as a module and run it with --check against its page."""
import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module          # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def check_page(module, page: str, capsys) -> dict:
    """Run `module.main_(["--check", docs/PAGE])`; it must pass; its closing numbers (the JSON
    of its last line)."""
    rc = module.main_(["--check", str(ROOT / "docs" / page)])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    return json.loads(captured.out.strip().splitlines()[-1])
