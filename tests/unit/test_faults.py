"""Every fault of scripts/faults.py (hostile YAML, corrupted safetensors, a LoRA config that
disagrees with its tensors, full and read-only disks, a symlink out of OUT) ends in one line,
loses no file and writes nothing outside its folder; docs/faults.md is what the script writes now."""
import errno
import importlib.util
import sys
from pathlib import Path

import pytest

from sitv_dist.cli import main
from sitv_dist.io import atomic_write_bytes

ROOT = Path(__file__).resolve().parents[2]


def test_fault_table_is_current_and_every_fault_is_one_line(capsys):
    spec = importlib.util.spec_from_file_location("faults", ROOT / "scripts" / "faults.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["faults"] = module          # dataclasses look their module up there
    spec.loader.exec_module(module)
    assert len(module.CASES) >= 11
    rc = module.main_(["--check", str(ROOT / "docs" / "faults.md")])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert '"misbehaving": 0, "lost": 0' in captured.out


def test_full_disk_keeps_the_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    """ENOSPC at fsync (simulated; NFS reports a full disk there) keeps the previous content and
    leaves no temp file; the error names the final path and the bytes needed."""
    target = tmp_path / "points" / "p.json"
    atomic_write_bytes(target, b"old")

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr("os.fsync", full)
    with pytest.raises(OSError) as info:
        atomic_write_bytes(target, b"new content")
    monkeypatch.undo()
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(target) and info.value.needed == 11
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in target.parent.iterdir()) == ["p.json"]


def test_debug_flag_shows_the_traceback(tmp_path, monkeypatch, capsys):
    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "T.safetensors"))
    monkeypatch.setattr("sitv_dist.vectors.taskvector.from_checkpoints", full)
    argv = ["taskvector", "--base", "b", "--finetuned", "f", "--out", str(tmp_path / "T.safetensors")]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: no space left on device writing {tmp_path}/T.safetensors (")
    with pytest.raises(OSError) as info:
        main(["--debug"] + argv)
    assert info.value.errno == errno.ENOSPC
