"""What scripts/bad_inputs.py and scripts/faults.py share: run each case through the CLI in a
scratch folder of its own, with HOME and the temp folder pointed at empty sentinel folders so
that a write anywhere outside the case's folder is seen; render Markdown tables; and the
`--write FILE` / `--check FILE` / `--show` command line that keeps a docs page equal to what
the script finds now.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Callable, Iterable


def cell(value) -> str:
    """A Markdown table cell: pipes escaped, one line."""
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(columns: list[str], rows: Iterable[list]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def call_cli(main: Callable[[list[str]], int], argv: list[str], *contexts) -> tuple[object, str, list[str]]:
    """Run `main(argv)` with stdout and stderr captured (inside `contexts`): the exit code (or
    "traceback"), what went wrong when it raised, and the non-empty stderr lines (progress bars
    left out)."""
    err, out = io.StringIO(), io.StringIO()
    problem = ""
    with contextlib.ExitStack() as stack:
        for c in contexts:
            stack.enter_context(c)
        stack.enter_context(contextlib.redirect_stderr(err))
        stack.enter_context(contextlib.redirect_stdout(out))
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code
        except BaseException as exc:       # a traceback is exactly what these scripts hunt for
            code, problem = "traceback", f"{type(exc).__name__}: {exc}"
    lines = [line for line in err.getvalue().splitlines() if line.strip() and "%|" not in line]
    return code, problem, lines


class Scratch:
    """The scratch folders of one script run: `cases/` (the working directory; one folder per
    case), and `home/` and `tmp/`, HOME and the temp folder while the cases run, which must
    stay empty."""

    def __init__(self, top: Path):
        self.cases, self.home, self.tmp = top / "cases", top / "home", top / "tmp"
        for d in (self.cases, self.home, self.tmp):
            d.mkdir()

    def listing(self) -> dict[str, list[str]]:
        return {"cases": sorted(p.name for p in self.cases.iterdir()),
                "home": sorted(str(p.relative_to(self.home)) for p in self.home.rglob("*")),
                "tmp": sorted(str(p.relative_to(self.tmp)) for p in self.tmp.rglob("*"))}

    def outside(self, before: dict[str, list[str]]) -> str:
        """What a case wrote outside its own folder, in words ("" for nothing)."""
        after = self.listing()
        return "; ".join(f"{where}/: {sorted(set(after[where]) - set(before[where]))}"
                         for where in after if after[where] != before[where])


def run_all(cases: list, run_case: Callable) -> list[dict]:
    """`run_case(case, scratch)` for every case, in a fresh scratch tree, from its cases folder,
    with HOME and TMPDIR (and tempfile's cached choice) on the sentinels."""
    os.environ.setdefault("TQDM_DISABLE", "1")
    with tempfile.TemporaryDirectory() as top:
        scratch = Scratch(Path(top))
        saved = {k: os.environ.get(k) for k in ("HOME", "TMPDIR")}
        cwd, cached = os.getcwd(), tempfile.tempdir
        os.environ.update(HOME=str(scratch.home), TMPDIR=str(scratch.tmp))
        tempfile.tempdir = str(scratch.tmp)
        os.chdir(scratch.cases)
        try:
            # torch makes its (empty) inductor cache folder in TMPDIR when this is first imported:
            # torch's own doing, so it is done before any case is watched
            import torch._dynamo  # noqa: F401
            return [run_case(c, scratch) for c in cases]
        finally:
            os.chdir(cwd)
            tempfile.tempdir = cached
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def table_main(argv: list[str] | None, doc: str, script: str, rows: Callable[[], list[dict]],
               render: Callable[[list[dict]], str], summary: Callable[[list[dict]], dict]) -> int:
    """The command line of a table script: run the cases, print each misbehaving one, then write
    the page (--write), compare it with the page on disk (--check) or print the rows (--show);
    the last line is `summary(rows)` as JSON. Exit 1 when a case misbehaves or the page is stale."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    group = ap.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", metavar="FILE")
    group.add_argument("--check", metavar="FILE")
    group.add_argument("--show", action="store_true", help="print the rows as JSON")
    args = ap.parse_args(argv)
    found = rows()
    bad = [r for r in found if r["problem"]]
    for r in bad:
        print(f"FAIL {r['what']}: {r['problem']} ({r['argv']})", file=sys.stderr)
    text = render(found)
    if args.show:
        print(json.dumps(found, indent=1))
    elif args.write:
        Path(args.write).write_text(text)
        print(f"wrote {args.write}: {len(found)} cases, {len(bad)} misbehaving")
    elif Path(args.check).read_text() != text:
        print(f"{args.check} is out of date: run python scripts/{script} --write {args.check}", file=sys.stderr)
        return 1
    print(json.dumps(summary(found)))
    return 1 if bad else 0
