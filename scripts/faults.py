"""Try the faults a pipeline meets outside its config — a full or read-only disk, corrupted
files, hostile YAML, a symlink in OUT — as a user would, and tabulate what `sitv` answers;
below them, the faults the integration and unit tests try (kills of every stage, full disks
in every phase that writes, state in OUT that must not be trusted: scripts/fault_tests.py).

Each case here builds its files in a scratch folder, runs the CLI in this process and must end
with a non-zero exit and exactly one line on stderr (no traceback), keep every file it had
before (`lost`), and write nothing outside its folder (nor in HOME or the temp folder:
scripts/doc_tables.py). Full and read-only disks are real tmpfs mounts when this runs as root
(CI containers do); elsewhere they are simulated by making `os.write` raise ENOSPC / EROFS, and
the table says which. `--write FILE` writes docs/faults.md; `--check FILE` fails when a case
misbehaves or the page is out of date; the last line printed is the closing numbers.

    python scripts/faults.py --write docs/faults.md
"""
from __future__ import annotations

import contextlib
import errno
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import doc_tables  # noqa: E402  (scripts/doc_tables.py)
from fault_tests import TESTED, TESTED_HEADER  # noqa: E402
from sitv_dist.cli import main  # noqa: E402

HEADER = """# Faults and what `sitv` answers

Every row of the first table is a fault tried by `scripts/faults.py`, which regenerates this page
(`python scripts/faults.py --write docs/faults.md`); the unit tests run it with `--check`.
Each case must exit non-zero with one line on stderr (no traceback; `sitv --debug ...` shows
it), lose no file that existed before, and write nothing outside its folder (HOME and the temp
folder are watched too). `$D` is the case's folder. "disk" says whether a full or read-only
disk was a real tmpfs mount or simulated.

"""
FOOTER = """
## How nothing finished is lost

- Every file of OUT is written to a hidden temp name, fsynced and renamed (`sitv_dist/io.py`;
  task vectors, checkpoints' files and plots too); a SIGKILL between the two can leave
  `.NAME.*.tmp`, which nothing reads; a point file that does not parse, or that belongs to
  another experiment, counts as missing. `sitv` installs no SIGTERM handler: SIGTERM ends it
  as SIGKILL does, and the rerun continues the same way.
- A fine-tune is done when its task vector and history exist; a checkpoint counts once its
  `latest` pointer is written, and one that could not be written whole is removed.
- A results file is served only while the point files it was reduced from are unchanged
  (`OUT/cache/results-inputs/`); `sitv report` reduces a stale one again first.
- On a filesystem without locks `sitv` warns once, in one line, and runs unlocked.
- `sitv --debug ...` (or `SITV_DEBUG=1`) re-raises instead of printing the one line.
- Only OUT is written, and the cache (`$SITV_CACHE`, else `~/.cache/sitv-dist`: the embedded
  base, and matplotlib's font list unless `MPLCONFIGDIR` is set).
"""


@dataclass
class Case:
    what: str
    phase: str
    argv: Callable[[Path], list[str]]
    setup: Callable[[Path], None] = lambda d: None
    disk: str = ""              # "full" / "ro": OUT (d/out) is a full / read-only filesystem


def _tiny_model(d: Path) -> None:
    from transformers import LlamaConfig, LlamaForCausalLM
    from sitv_dist.embedded.tokenizer import train_tokenizer
    import torch
    torch.manual_seed(0)
    tok = train_tokenizer(300, ["a tiny corpus for a tiny tokenizer", "with two texts"] * 20)
    for name in ("base", "tuned"):
        model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tok), hidden_size=16, intermediate_size=32,
                                             num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2))
        model.save_pretrained(d / name)
        tok.save_pretrained(d / name)


def _corrupt(kind: str) -> Callable[[Path], None]:
    def setup(d: Path) -> None:
        _tiny_model(d)
        f = d / "tuned" / "model.safetensors"
        data = bytearray(f.read_bytes())
        if kind == "truncated":
            data = data[: len(data) // 2]
        elif kind == "header":
            data[10] ^= 0xFF                  # a bit flip in the JSON header
        elif kind == "length":
            data[0:8] = (10**12).to_bytes(8, "little")   # header length beyond the file
        f.write_bytes(bytes(data))
    return setup


def _lora_mismatch(d: Path) -> None:
    import torch
    from safetensors.torch import save_file
    _tiny_model(d)
    a = d / "adapter"
    a.mkdir()
    (a / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 4, "lora_alpha": 8,
                                                       "target_modules": ["q_proj"]}))
    save_file({"base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight": torch.zeros(2, 16),
               "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight": torch.zeros(16, 2)},
              str(a / "adapter_model.safetensors"))


def _yaml(text: str | None = None, size: int = 0) -> Callable[[Path], None]:
    def setup(d: Path) -> None:
        p = d / "c.yaml"
        if size:
            with open(p, "wb") as f:         # sparse: 100 MB on paper, nothing on disk
                f.truncate(size)
        else:
            p.write_text(text)
    return setup


BOMB = "".join(c + ": &" + c + " [" + ", ".join([("*" + p) if p else '"lol"'] * 9) + "]\n"
               for p, c in zip([""] + list("abcdefgh"), "abcdefghi"))


def _symlink_out(d: Path) -> None:
    (d / "elsewhere").mkdir()
    (d / "out").mkdir()
    (d / "out" / "task_vectors").symlink_to(d / "elsewhere")


def _taskvector(target: str) -> Callable[[Path], list[str]]:
    return lambda d: ["taskvector", "--base", str(d / "base"), "--finetuned", str(d / "tuned"),
                      "--out", str(d / target)]


def _sweep_cfg(d: Path) -> list[str]:
    return ["sweep", "-c", str(d / "c.yaml")]


CASES = [
    Case("alias bomb (billion laughs)", "config", _sweep_cfg, _yaml(BOMB)),
    Case("Python tag (os.system)", "config", _sweep_cfg,
         _yaml('name: !!python/object/apply:os.system ["echo pwned"]\n')),
    Case("100 MB config file", "config", _sweep_cfg, _yaml(size=100 * 2**20)),
    Case("truncated fine-tuned safetensors", "task vector", _taskvector("T.safetensors"), _corrupt("truncated")),
    Case("bit flip in a safetensors header", "task vector", _taskvector("T.safetensors"), _corrupt("header")),
    Case("safetensors header length beyond the file", "task vector", _taskvector("T.safetensors"),
         _corrupt("length")),
    Case("LoRA config (r=4) disagrees with its tensors (rank 2)", "task vector",
         lambda d: ["taskvector", "--base", str(d / "base"), "--adapter", str(d / "adapter"),
                    "--out", str(d / "T.safetensors")], _lora_mismatch),
    Case("full disk while writing a task vector", "task vector", _taskvector("out/T.safetensors"),
         _tiny_model, disk="full"),
    Case("read-only disk for a task vector", "task vector", _taskvector("out/T.safetensors"),
         _tiny_model, disk="ro"),
    Case("read-only out_dir", "sweep", lambda d: ["sweep", "--set", f"out_dir={d / 'out'}"], disk="ro"),
    Case("symlink in OUT pointing outside", "sweep",
         lambda d: ["sweep", "--set", f"out_dir={d / 'out'}"], _symlink_out),
]


@contextlib.contextmanager
def _disk(kind: str, path: Path):
    """OUT as a full ("full") or read-only ("ro") filesystem: a real tmpfs as root, else simulated."""
    if not kind:
        yield ""
        return
    path.mkdir(exist_ok=True)
    opts = "size=64k" if kind == "full" else "size=64k,ro"
    if os.geteuid() == 0 and subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)],
                                            capture_output=True).returncode == 0:
        try:
            if kind == "full":                   # leave 8 KiB free: a probe file fits, a model does not
                with open(path / "filler", "wb") as f:
                    with contextlib.suppress(OSError):
                        f.write(b"\0" * (56 * 1024))
            yield "tmpfs"
        finally:
            subprocess.run(["umount", "-l", str(path)], check=False)
        return
    code = errno.ENOSPC if kind == "full" else errno.EROFS
    real_write = os.write

    def write(fd, data):
        if os.path.realpath(f"/proc/self/fd/{fd}").startswith(str(path.resolve())):
            raise OSError(code, os.strerror(code))
        return real_write(fd, data)
    with mock.patch("os.write", write):
        yield "simulated"


def _files(d: Path) -> dict[str, int]:
    return {str(p.relative_to(d)): p.stat().st_size for p in d.rglob("*") if p.is_file() and not p.is_symlink()}


def run_case(case: Case, scratch: doc_tables.Scratch) -> dict:
    d = scratch.cases / f"case{CASES.index(case):02d}"
    d.mkdir()
    case.setup(d)
    before_outside = scratch.listing()
    before = _files(d)
    with _disk(case.disk, d / "out") as disk:
        code, problem, lines = doc_tables.call_cli(main, case.argv(d))
        leftovers = [p.name for p in (d / "out").rglob("*") if p.name.startswith(".") and p.name.endswith(".tmp")] \
            if (d / "out").is_dir() else []
    after = _files(d)
    lost = [f for f in before if f != "out/filler" and after.get(f) != before[f]]
    message = lines[-1] if lines else ""
    if not problem:
        if code in (0, None):
            problem = "exit code 0"
        elif len(lines) != 1 or not message.startswith(("config error:", "error:")):
            problem = f"stderr is not one error line: {lines}"
        elif lost:
            problem = f"lost or changed {lost}"
        elif leftovers:
            problem = f"half-written files left: {leftovers}"
        elif list((d / "elsewhere").iterdir() if (d / "elsewhere").is_dir() else []):
            problem = "wrote through a symlink out of OUT"
    outside = scratch.outside(before_outside)
    if outside:
        problem = problem or f"wrote outside its folder: {outside}"
    return {"what": case.what, "phase": case.phase, "argv": " ".join(case.argv(d)).replace(str(d), "$D"),
            "disk": disk or "", "exit": code, "lost": len(lost), "outside": bool(outside),
            "message": message.replace(str(d), "$D"), "problem": problem}


def table(rows: list[dict]) -> str:
    cell = doc_tables.cell
    tried = doc_tables.markdown_table(
        ["#", "fault", "phase", "command", "disk", "exit", "files lost", "message"],
        ([i, cell(r["what"]), r["phase"], f"`{cell(r['argv'])}`", r["disk"] or "-", r["exit"], r["lost"],
          cell(r["message"])] for i, r in enumerate(rows, 1)))
    first = len(rows) + 1
    tested = doc_tables.markdown_table(
        ["#", "fault", "phase", "what the user sees", "what was kept", "test"],
        ([i, cell(t.fault), t.phase, cell(t.sees), cell(t.kept), f"`{cell(t.test)}`"]
         for i, t in enumerate(TESTED, first)))
    return HEADER + tried + TESTED_HEADER + tested + FOOTER


def summary(rows: list[dict]) -> dict:
    """The closing numbers: cases in both tables, clean one-line errors, files lost, and cases
    that wrote outside their folder (the tests of the second table assert 0 lost, 0 outside)."""
    return {"cases": len(rows) + len(TESTED), "script_cases": len(rows), "test_cases": len(TESTED),
            "one_line_errors": sum(not r["problem"] for r in rows) + sum(t.answer == "error" for t in TESTED),
            "misbehaving": sum(bool(r["problem"]) for r in rows), "lost": sum(r["lost"] for r in rows),
            "outside": sum(r["outside"] for r in rows)}


def main_(argv: list[str] | None = None) -> int:
    return doc_tables.table_main(argv, __doc__, "faults.py", lambda: doc_tables.run_all(CASES, run_case), table,
                                 summary)


if __name__ == "__main__":
    sys.exit(main_())
