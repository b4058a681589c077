"""Every fault of scripts/faults.py (hostile YAML, corrupted safetensors, a LoRA config that
disagrees with its tensors, full and read-only disks, a symlink out of OUT) ends in one line,
loses no file and writes nothing outside its folder; docs/faults.md is what the script writes
now, and every test its second table names exists."""
import errno

import pytest

from doc_pages import check_page, load_script
from sitv_dist.cli import main
from sitv_dist.io import atomic_write_bytes


def test_fault_table_is_current_and_every_fault_is_one_line(capsys):
    module = load_script("faults")
    assert len(module.CASES) >= 11 and len(module.TESTED) >= 20
    numbers = check_page(module, "faults.md", capsys)
    errors = sum(t.answer == "error" for t in module.TESTED)
    assert numbers == {"cases": len(module.CASES) + len(module.TESTED), "script_cases": len(module.CASES),
                       "test_cases": len(module.TESTED), "one_line_errors": len(module.CASES) + errors,
                       "misbehaving": 0, "lost": 0, "outside": 0}


def test_every_test_the_fault_table_names_exists():
    assert load_script("fault_tests").missing_tests() == []


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


def test_a_second_sitv_run_on_one_out_dir_refuses_with_one_line(tmp_path, capsys):
    from sitv_dist.outdir import OutDir
    out = OutDir(tmp_path / "out").create()
    with out.pipeline_lock():              # another `sitv run` holds it (flock conflicts across descriptors)
        assert main(["run", "--set", f"out_dir={out.root}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {out.root}/locks/run.lock is held: another `sitv run` is using {out.root}; wait for it "
                   "to end (its finished work is reused) or choose another out_dir"]


def test_a_filesystem_without_locks_gets_one_warning_line(tmp_path, monkeypatch, capsys):
    from sitv_dist import io as sitv_io

    def no_locks(fd, op):
        raise OSError(errno.ENOLCK, "No locks available")
    monkeypatch.setattr(sitv_io.fcntl, "flock", no_locks)
    monkeypatch.setattr(sitv_io.FileLock, "warned", False)
    for _ in range(2):
        with sitv_io.FileLock(tmp_path / "locks" / "a.lock"):
            pass
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"warning: {tmp_path}/locks does not support file locks; concurrent sweeps on this out_dir may "
                   "evaluate points twice"]


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
