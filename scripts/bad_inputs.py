"""Try every bad input we know of, as a user would, and tabulate what `sitv` answers.

Each case builds its files in a scratch folder, runs the CLI in this process, and must end
with exit code 2 and exactly one `config error:`/`error:` line on stderr, before any model
loads or is built (both are booby-trapped here) and without writing outside the case's
folder. `--write FILE` writes the Markdown table (docs/reliability.md); `--check FILE` fails
when any case misbehaves or the table is out of date (CI runs it through the tests).

    python scripts/bad_inputs.py --write docs/reliability.md
"""
from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import doc_tables  # noqa: E402  (scripts/doc_tables.py)
from sitv_dist.cli import main  # noqa: E402

HEADER = """# Bad inputs and what `sitv` answers

Every row is a bad input tried by `scripts/bad_inputs.py`, which regenerates this table
(`python scripts/bad_inputs.py --write docs/reliability.md`); the test suite runs it with
`--check`, so the table stays true. Each case must exit with code 2 and one line on stderr,
before any model loads, and write nothing outside its own folder. `$D` is the case's folder.

"""
FOOTER = """
## Concurrency, kills and stale results

- **One sweep per shard.** A worker takes an exclusive `flock` on `OUT/locks/shard-K-of-N.lock`
  while it evaluates shard K; a second `sitv sweep` on the same OUT skips shards in progress,
  evaluates the free ones, then waits for the busy ones and evaluates only what is still missing.
  Planning (the check of OUT against the config and the write of `plan.json`) happens under
  `OUT/locks/plan.lock`. The locks die with their process (also on SIGKILL): no stale locks.
  They work on local filesystems, on NFS (Linux maps `flock` to POSIX locks there) and on
  Lustre mounted with `-o flock`; on a filesystem without locks `sitv` warns once and runs
  unlocked (concurrent sweeps may then evaluate a point twice; results stay correct).
- **Workers die with their parent** (`PR_SET_PDEATHSIG` on Linux, a watcher thread elsewhere):
  SIGKILL of `sitv sweep --workers N` leaves no worker behind, and the rerun recomputes nothing.
- **Stale results are never reused.** Each point file carries the digest of what its losses depend
  on: the model's files by content (weights, config, tokenizer; a hub id by its cached snapshot),
  the settings that change numbers, the directions it moves along (safetensors by tensors, not
  metadata) and its eval sets' texts. Digests are cached in `OUT/cache/file-hashes.json` by path,
  size and mtime. A config that would change existing points is refused with what changed
  (e.g. `model file model.safetensors: content changed`); added directions, grids and eval sets
  are not changes.
- **Systematic failures stop a shard.** Every failed point is printed (one line) and its traceback
  kept in `OUT/failures/`; after 3 consecutive failures with the same error the shard stops.
- **Degenerate points.** A set loss equal to ln(vocabulary) to 1e-6 relative (uniform predictions,
  which fp32 normalisation overflow gives at |α| ≳ 1e6) is flagged `degenerate` and reported as
  n/a, not as a loss.
"""


@dataclass
class Case:
    what: str
    argv: Callable[[Path], list[str]]
    setup: Callable[[Path], None] = lambda d: None


def _cfg(d: Path, text: str | dict, name: str = "c.yaml") -> str:
    path = d / name
    path.write_text(text if isinstance(text, str) else yaml.safe_dump(text))
    return str(path)


def _search(*sets: str) -> Callable[[Path], list[str]]:
    """`sitv search` of the embedded default, an out_dir in the case folder."""
    sweep = _sweep(*sets)
    return lambda d: ["search"] + sweep(d)[1:]


def _sweep(*sets: str, extra: tuple[str, ...] = ()) -> Callable[[Path], list[str]]:
    """`sitv sweep` of the embedded default with small settings, an out_dir in the case folder."""
    def argv(d: Path) -> list[str]:
        out = ["sweep", "--set", f"out_dir={d / 'out'}"]
        for s in sets:
            out += ["--set", s.replace("$D", str(d))]
        return out + list(extra)
    return argv


def _tiny_model(d: Path, tokenizer: bool = True) -> None:
    from transformers import LlamaConfig, LlamaForCausalLM
    from sitv_dist.embedded.tokenizer import train_tokenizer
    tok = train_tokenizer(300, ["a tiny corpus for a tiny tokenizer", "with two texts"] * 20)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tok), hidden_size=16, intermediate_size=32,
                                         num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2))
    model.save_pretrained(d / "model")
    if tokenizer:
        tok.save_pretrained(d / "model")


def _write(path: str, data: bytes | str) -> Callable[[Path], None]:
    def setup(d: Path) -> None:
        target = d / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data if isinstance(data, bytes) else data.encode())
    return setup


def _tv(kind: str) -> Callable[[Path], None]:
    def setup(d: Path) -> None:
        import torch
        from safetensors.torch import save_file
        save_file({"model.embed_tokens.weight": torch.zeros(7, 3)}, str(d / "T.safetensors"))
        if kind == "truncated":
            data = (d / "T.safetensors").read_bytes()
            (d / "T.safetensors").write_bytes(data[:-20])
        elif kind == "text":
            (d / "T.safetensors").write_text("not a safetensors file\n")
    return setup


def _out_with(files: dict[str, str]) -> Callable[[Path], None]:
    def setup(d: Path) -> None:
        for name, text in files.items():
            (d / "out" / name).parent.mkdir(parents=True, exist_ok=True)
            (d / "out" / name).write_text(text)
    return setup


def _complete_plan_without_eval_sets(d: Path) -> None:
    """A finished five-point sweep whose eval_sets.json was lost."""
    from sitv_dist.config import load_config
    from sitv_dist.outdir import OutDir
    from sitv_dist.sweep.plan import eval_set_names, make_plan
    cfg = load_config(None, ["sweep.directions=[qa_factual]", "sweep.grids=[]", "sweep.alpha.num=5",
                             "sweep.squaring=false", "sweep.compositional=false"])
    inputs = {"model": {"files": {}}, "settings": {}, "directions": {"qa_factual": "x"},
              "sets": {s: "y" for s in eval_set_names(cfg)}}
    plan = make_plan(cfg, inputs)
    out = OutDir(d / "out")
    out.write_plan(plan.to_json())
    for p in plan.points:
        out.write_point({"id": p.id, "fingerprint": p.fingerprint, "coefficients": plan.coefficients(p),
                         "sets": {s: {"loss": 1.0, "nll_sum": 1.0, "tokens": 1} for s in p.sets}})


OUT = lambda d: str(d / "out")  # noqa: E731
CASES = [
    Case("config file does not exist", lambda d: ["sweep", "-c", str(d / "missing.yaml")]),
    Case("config file is not YAML", lambda d: ["sweep", "-c", _cfg(d, "sweep: [unclosed\n")]),
    Case("config top level is a list", lambda d: ["sweep", "-c", _cfg(d, "- a\n- b\n")]),
    Case("a key given twice (the second would replace the first section)",
         lambda d: ["sweep", "-c", _cfg(d, "sweep:\n  workers: 2\nname: x\nsweep:\n  num_shards: 2\n")]),
    Case("config file is not UTF-8", lambda d: ["sweep", "-c", str(d / "c.yaml")], _write("c.yaml", b"name: caf\xe9\n")),
    Case("unknown key (typo)", _sweep("sweep.alpah.num=5")),
    Case("wrong type", _sweep("sweep.alpha.num=ten")),
    Case("--set without =", lambda d: ["sweep", "--set", "sweep.alpha.num"]),
    Case("--set value is not YAML", _sweep("sweep.alpha.num=[1")),
    Case("--set a key below a single value", _sweep("name.x=1")),
    Case("--set a list index out of range", _sweep("tasks.9.name=x")),
    Case("a range with one point", _sweep("sweep.alpha.num=1")),
    Case("an inverted range", _sweep("sweep.alpha.start=2", "sweep.alpha.stop=1")),
    Case("a line grid that misses 0", _sweep("sweep.alpha.num=11")),
    Case("NaN coefficient", _sweep("sweep.alpha.start=.nan")),
    Case("infinite poll interval", _sweep("slurm.poll_s=.inf")),
    Case("NaN weight decay", _sweep("finetune.weight_decay=.nan")),
    Case("NaN min_delta", _sweep("finetune.min_delta=.nan")),
    Case("zero learning rate", _sweep("finetune.lr=0")),
    Case("zero eval batch", _sweep("eval.batch_size=0")),
    Case("unknown dtype", _sweep("model.dtype=float64")),
    Case("unknown device", _sweep("model.device=tpu")),
    Case("unknown launcher", _sweep("sweep.launcher=k8s")),
    Case("negative checkpoint interval", _sweep("finetune.checkpoint_every=-1")),
    Case("DeepSpeed without its JSON", _sweep("finetune.backend=deepspeed")),
    Case("100,000-point line (a typo in num)", _sweep("sweep.alpha.num=100001")),
    Case("100,000 × 100,000 grid (must not exhaust memory while planning)",
         _sweep("sweep.grids.0.range.num=100001")),
    Case("a grid of one direction", _sweep("sweep.grids.0.directions=[qa_factual]")),
    Case("unknown direction", _sweep("sweep.directions=[no_such_task]")),
    Case("grid name that climbs out of OUT", _sweep("sweep.grids.0.name=../../ESC_grid")),
    Case("grid name with a slash", _sweep("sweep.grids.0.name=a/b")),
    Case("task name that climbs out of OUT", _sweep("tasks.0.name=../x")),
    Case("derived direction name with a leading dot", _sweep("sweep.derived_directions={.hidden: {negate: qa_factual}}")),
    Case("derived direction from an unknown task vector", _sweep("sweep.derived_directions={neg: {negate: no_such_task}}")),
    Case("a key of another op (gamma on negate)", _sweep("sweep.derived_directions={neg: {negate: qa_factual, gamma: 0.1}}")),
    Case("breadcrumbs gamma out of range", _sweep("sweep.derived_directions={bc: {breadcrumbs: [qa_factual], gamma: 1.5}}")),
    Case("merge sweep op without a density axis", _sweep("sweep.merge_sweeps=[{op: negate, of: [qa_factual]}]")),
    Case("search over a direction that is not swept", _sweep("sweep.search.directions=[no_such_task]")),
    Case("search objective term of an unknown task", _sweep("sweep.search.directions=[qa_factual]",
                                                            "sweep.search.objective={task:nope: 1.0}")),
    Case("search objective term that is no term", _sweep("sweep.search.directions=[qa_factual]",
                                                         "sweep.search.objective={loss: 1.0}")),
    Case("search budget below one batch", _search("sweep.search.directions=[qa_factual]", "sweep.search.budget=3",
                                                  "sweep.search.batch=4")),
    Case("task-vector key with a slash", _sweep("sweep.task_vectors={a/b: $D/T.safetensors}"), _tv("ok")),
    Case("two tasks with one name", _sweep("tasks.1.name=sentiment_positive")),
    Case("eval file does not exist", _sweep("eval.general=$D/none.jsonl")),
    Case("eval file is not UTF-8", _sweep("eval.general=$D/latin1.jsonl"),
         _write("latin1.jsonl", b'{"text": "caf\xe9"}\n')),
    Case("a jsonl row that is a number", _sweep("eval.general=$D/rows.jsonl"), _write("rows.jsonl", '{"text": "a"}\n42\n')),
    Case("a jsonl row that is not JSON", _sweep("eval.general=$D/rows.jsonl"), _write("rows.jsonl", '{"text": "a"\n')),
    Case("eval file holds no texts", _sweep("eval.general=$D/empty.jsonl"), _write("empty.jsonl", "\n")),
    Case("rows without the text field", _sweep("eval.general=$D/rows.jsonl"), _write("rows.jsonl", '{"body": "a"}\n')),
    Case("task-vector file does not exist", _sweep("sweep.task_vectors={qa_factual: $D/none.safetensors}")),
    Case("truncated task vector", _sweep("sweep.task_vectors={qa_factual: $D/T.safetensors}"), _tv("truncated")),
    Case("task vector that is not safetensors", _sweep("sweep.task_vectors={qa_factual: $D/T.safetensors}"), _tv("text")),
    Case("task vector of another model (embedded base: checked from its architecture)",
         _sweep("sweep.task_vectors={qa_factual: $D/T.safetensors}"), _tv("ok")),
    Case("model directory without tokenizer", _sweep("model.name_or_path=$D/model"),
         lambda d: _tiny_model(d, tokenizer=False)),
    Case("model path is a file", _sweep("model.name_or_path=$D/model.bin"), _write("model.bin", "x")),
    Case("out_dir below a file", lambda d: ["sweep", "--set", f"out_dir={d / 'file' / 'out'}"], _write("file", "x")),
    Case("out_dir cannot be created", lambda d: ["sweep", "--set", "out_dir=/proc/sitv-out"]),
    Case("--shard beyond the plan", _sweep(extra=("--shard", "5"))),
    Case("negative --shard", _sweep(extra=("--shard", "-1"))),
    Case("--num-shards 0", _sweep(extra=("--num-shards", "0"))),
    Case("--workers 0", _sweep(extra=("--workers", "0"))),
    Case("reduce without plan.json", lambda d: ["reduce", OUT(d)], _out_with({"points/.keep": ""})),
    Case("reduce with a corrupt plan.json", lambda d: ["reduce", OUT(d)], _out_with({"plan.json": '{"points": ['})),
    Case("status with a corrupt plan.json", lambda d: ["status", OUT(d)], _out_with({"plan.json": "[]"})),
    Case("status of a folder that does not exist", lambda d: ["status", str(d / "nowhere")]),
    Case("reduce with eval_sets.json lost", lambda d: ["reduce", OUT(d)], _complete_plan_without_eval_sets),
    Case("report with a corrupt results file", lambda d: ["report", OUT(d), "--bootstrap", "0"],
         _out_with({"results/line_x.json": '{"sweep": '})),
    Case("report --bootstrap -1", lambda d: ["report", OUT(d), "--bootstrap", "-1"], _out_with({"plan.json": "{}"})),
    Case("refine --tol -1", lambda d: ["refine", "--set", f"out_dir={d}/out", "--tol", "-1"]),
    Case("refine --tol 0", lambda d: ["refine", "--set", f"out_dir={d}/out", "--tol", "0"]),
    Case("compare --level 2", lambda d: ["compare", str(d), "--out", str(d / "cmp"), "--level", "2"]),
]


class _Trap(Exception):
    pass


def _booby_trap() -> contextlib.ExitStack:
    """Loading or building a model during a bad-input case is a failure of that case."""
    from unittest import mock

    import transformers
    stack = contextlib.ExitStack()

    def trap(*a, **k):
        raise _Trap("a model was loaded or built")
    stack.enter_context(mock.patch.object(transformers.PreTrainedModel, "from_pretrained", trap))
    stack.enter_context(mock.patch("sitv_dist.finetune.pretrain.build", trap))
    return stack


def run_case(case: Case, scratch: doc_tables.Scratch) -> dict:
    d = scratch.cases / f"case{CASES.index(case):02d}"
    d.mkdir()
    case.setup(d)
    before = scratch.listing()
    code, problem, lines = doc_tables.call_cli(main, case.argv(d), _booby_trap())
    message = lines[-1] if lines else ""
    if not problem:
        if code != 2:
            problem = f"exit code {code}"
        elif len(lines) != 1 or not message.startswith(("config error:", "error:")):
            problem = f"stderr is not one error line: {lines}"
    outside = scratch.outside(before)
    if outside:
        problem = problem or f"wrote outside its folder: {outside}"
    return {"what": case.what, "argv": " ".join(case.argv(d)).replace(str(d), "$D"), "exit": code,
            "message": message.replace(str(d), "$D"), "outside": bool(outside), "problem": problem}


def table(rows: list[dict]) -> str:
    cell = doc_tables.cell
    return HEADER + doc_tables.markdown_table(
        ["#", "bad input", "command", "exit", "message"],
        ([i, cell(r["what"]), f"`{cell(r['argv'])}`", r["exit"], cell(r["message"])] for i, r in enumerate(rows, 1))) \
        + FOOTER


def main_(argv: list[str] | None = None) -> int:
    return doc_tables.table_main(argv, __doc__, "bad_inputs.py", lambda: doc_tables.run_all(CASES, run_case), table,
                                 lambda rows: {"cases": len(rows), "misbehaving": sum(bool(r["problem"]) for r in rows)})


if __name__ == "__main__":
    sys.exit(main_())
