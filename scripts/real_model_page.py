"""The real-model pages (docs/gemma3-270m.md, docs/smollm2-135m.md), generated entirely from a
real run's out_dir, and the check that a page and its run agree. The model's own prose (title,
what it is, how to get it) comes from scripts/real_model_models.py, chosen by the run's
`model.name_or_path`; everything else is shared, one section per line for a run with several.

    # once, after `sitv run` finished: what the out_dir does not hold (the machine, the command,
    # /usr/bin/time -v's report, `sitv plan`'s estimate for this config on a fresh out_dir)
    python scripts/real_model_page.py record OUT --command "CMD" [--time-v FILE] [--note TEXT]
    python scripts/real_model_page.py write OUT docs/gemma3-270m.md      # or docs/smollm2-135m.md
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
import importlib.util
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
_spec = importlib.util.spec_from_file_location("real_model_models", Path(__file__).with_name("real_model_models.py"))
_models = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_models)          # scripts/ is no package: the prose module beside this one
model_of = _models.model_of


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


def _line(out: Path, name: str, line: dict) -> dict:
    """One line's facts: its curves on the grid, its findings over every point sampled on it
    (grid, 2α, α + α², refinement), its derivatives, its task's fine-tuning."""
    task, findings = line["task"], line["findings"]
    history = _json(out / "finetune" / task / "history.json")
    deriv = (line.get("derivatives") or {}).get("general")
    return {"sweep": name, "task": task, "alpha": line["curves"]["alpha"], "general": line["curves"]["general"],
            "task_loss": line["curves"]["task"], "base_loss": line["base_loss"],
            "general_min": line["general_min"], "task_min": line["task_min"],
            "samples": findings["samples"], "refined": findings["refined"],
            "crossings": [{k: c[k] for k in ("x", "bracket", "direction", "resolved")} for c in findings["crossings"]],
            "minima": [{k: m[k] for k in ("x", "depth", "depth_interval", "exists", "resolved")}
                       for m in findings["minima"]],
            "derivatives": None if not deriv else {k: deriv[k] for k in (
                "slope", "slope_interval", "curvature", "curvature_interval", "predicted_min",
                "slope_beyond_controls", "curvature_beyond_controls")},
            "train_steps": history["steps"][-1]["step"], "train_losses": [s["loss"] for s in history["steps"]], "val_loss": history["epochs"][-1]["val_loss"]}


def collect(out: Path) -> dict:
    """Every fact the page states, from the run's files (JSON-able)."""
    import yaml
    cfg = yaml.safe_load((out / "config.resolved.yaml").read_text())
    ft, ev, sw = cfg["finetune"], cfg["eval"], cfg["sweep"]
    lines = [_line(out, k, v) for k, v in _json(out / "analysis.json")["sweeps"].items() if v["kind"] == "line"]
    order = sw["directions"]                   # the config's order, not analysis.json's (sorted by name)
    lines.sort(key=lambda x: order.index(x["task"]) if x["task"] in order else len(order))
    return {"config": {"model": Path(cfg["model"]["name_or_path"]).name, "dtype": cfg["model"]["dtype"],
                       "steps": ft["max_steps"], "ft_batch": ft["batch_size"], "ft_length": ft["max_length"],
                       "lr": ft["lr"], "texts": ev["max_texts"], "eval_length": ev["max_length"],
                       "eval_batch": ev["batch_size"], "logit_chunk": ev["logit_chunk"],
                       "squaring": sw["squaring"], "compositional": sw["compositional"],
                       "refine_rounds": sw["refine_rounds"]},
            "lines": lines,
            "derivative_entries": {k: e["time_s"] for k, e in _json(out / "derivatives.json")["entries"].items()}
            if (out / "derivatives.json").is_file() else {},
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


def _a(x: float) -> str:
    """An α as the grid and the refinement give it: 1.0, 0.25, 0.506."""
    text = f"{x:.3f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def render(f: dict) -> Page:
    c, ctx, m = f["config"], f["context"], f["context"]["machine"]
    est, t, pm, model = ctx["plan"], f["timings"], f["peak_memory"], model_of(f)
    p = Page()
    p.add("# Example: {title} on {cores} CPU cores, offline", title=model.title, cores=str(m["cores"]))
    p.add()
    model.intro(p, f)
    p.add()
    p.add("## Commands ({date}; {cores} CPU cores ({cpu}), {ram} RAM, torch {torch}, transformers {tf})",
          date=ctx["started"], cores=str(m["cores"]), cpu=m["cpu"], ram=_g(m["memory_bytes"]), torch=m["torch"],
          tf=m["transformers"])
    p.add()
    p.add("```bash")
    for command in model.setup:
        p.add(command.replace("{", "{{").replace("}", "}}"))
    p.add(model.run)
    p.add("# {command}", command=("the command", ctx["command"]))
    p.add("```")
    p.add()
    for line in model.conversion:
        p.add(line)
    if ctx.get("note"):
        p.add()
        p.add("{note}", note=ctx["note"])
    _times(p, f)
    _memory(p, f)
    p.add()
    p.add("## Result")
    for line in f["lines"]:
        _result(p, line, c, len(f["lines"]) > 1)
    p.add()
    p.add("Each point's logits are formed {chunk} positions at a time from the final hidden states",
          chunk=str(c["logit_chunk"]))
    p.add("(`eval.logit_chunk`), the derivatives' a quarter of that (four values per logit in nested forward mode);")
    p.add("`docs/performance.md` §5 and §11 have the memory with and without chunking.")
    return p


def _times(p: Page, f: dict) -> None:
    ctx, t = f["context"], f["timings"]
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


def _memory(p: Page, f: dict) -> None:
    est, pm, tasks = f["context"]["plan"], f["peak_memory"], [x["task"] for x in f["lines"]]
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
    phases = [("fine-tuning" if len(tasks) == 1 else f"fine-tuning {task}", "finetune:" + task, "finetune")
              for task in tasks] + [("sweep", "sweep:lines", "sweep")]
    phases += [("refinement", "refine", "sweep")] if "refine" in pm else []
    phases += [("derivatives", "derivatives", "derivatives")]
    for label, stage, key in phases:
        e = pm.get(stage) or {}
        shown = _g(e["stage_peak_rss_bytes"]) if e.get("stage_peak_rss_bytes") else \
            f"below {_g(e.get('process_peak_rss_bytes'))} (the peak so far)" if e else "not recorded"
        p.add("| {label} | {measured} | {estimate} |", label=label, measured=(f"{label} peak RSS", shown),
              estimate=(f"{label} estimate", _g(est[key])))
    run_peak = max((e.get("process_peak_rss_bytes") or 0 for e in pm.values()), default=0) or None
    p.add("| whole run | {peak} | {est_peak} |", peak=("the run's peak RSS", _g(run_peak)),
          est_peak=("the estimated peak", _g(est["peak"])))
    if f["context"].get("time_v"):
        p.add("| whole run, `/usr/bin/time -v` | {tv} | |",
              tv=("time -v's peak RSS", _g(f["context"]["time_v"]["max_rss_bytes"])))
    if run_peak:
        p.add()
        ratio = est["peak"] / run_peak
        p.add("The estimated peak is {ratio} of the measured one ({verdict} the 10 % the estimate aims at). The",
              ratio=("the estimate's share of the measured peak", f"{ratio:.1%}"),
              verdict="within" if abs(ratio - 1) <= 0.10 else "outside")
        p.add("estimate counts the tensors alive at each phase's peak, not memory the allocator keeps after earlier")
        at = next((k for k, e in pm.items() if e.get("stage_peak_rss_bytes") == run_peak), None)
        if at == "derivatives":
            p.add("stages of the same process freed it; the derivatives' peak is the drawing of the second random "
                  "control")
            p.add("(its Gaussian in float64 while the first control is still held).")
        else:
            p.add("stages of the same process freed it; the run reached its peak in `{at}`.",
                  at=("the stage of the run's peak", str(at)))


def _result(p: Page, f: dict, c: dict, headed: bool) -> None:
    """One line's result: its fine-tuning, its curves, its findings, its derivatives."""
    p.add()
    if headed:
        p.add("### Along `{task}`", task=f["task"])
        p.add()
    p.add("Training loss over the {steps} steps: {losses}; validation loss after them {val}.",
          steps=("fine-tuning steps taken", str(f["train_steps"])),
          losses=", ".join(f"{x:.2f}" for x in f["train_losses"]), val=f"{f['val_loss']:.2f}")
    p.add()
    p.add("| α | general loss | task loss ({task}) |", task=f["task"])
    p.add("|---|---|---|")
    for a, g, k in zip(f["alpha"], f["general"], f["task_loss"]):
        p.add("| {a} | {g} | {k} |", a=_a(a), g=(f"general loss at α = {_a(a)}", f"{g:.4f}"),
              k=(f"task loss at α = {_a(a)}", f"{k:.4f}"))
    p.add()
    gm, tm = f["general_min"], f["task_min"]
    p.add("The general loss is lowest at α = {x} (L = {y}; L(0) = {base}).",
          x=("general minimum's α", _a(gm["x"])),
          y=("general minimum's loss", f"{gm['y']:.4f}"), base=("L(0)", f"{f['base_loss']:.4f}"))
    if f["samples"] > len(f["alpha"]):
        p.add("Over all {n} points sampled on the line ({grid} on the grid, the others its 2α, α + α² and",
              n=("points sampled on the line", str(f["samples"])), grid=str(len(f["alpha"])))
        p.add("refinement points; {refined} of them refinement), the minima and crossings are these:",
              refined=("refinement points", str(f["refined"])))
    for mn in f["minima"]:
        if mn["depth"] < 0:
            p.add("Its dip at α = {x}: L(α) − L(0) = {depth}, 95 % bootstrap interval [{lo}, {hi}] ({res}).",
                  x=("the dip's α", _a(mn["x"])), depth=("the dip's depth", f"{mn['depth']:.4f}"),
                  lo=("the depth's lower bound", f"{mn['depth_interval'][0]:.4f}"),
                  hi=("the depth's upper bound", f"{mn['depth_interval'][1]:.4f}"),
                  res="resolved: the interval excludes 0" if mn["resolved"] else "not resolved")
        else:
            p.add("A local minimum above L(0) at α = {x}: L(α) − L(0) = {depth}, present in {share} of the bootstrap "
                  "replicates ({res}).", x=("the minimum's α", _a(mn["x"])),
                  depth=("the minimum's height", f"{mn['depth']:.4f}"),
                  share=("the minimum's share of replicates", f"{mn['exists']:.1%}"),
                  res="resolved" if mn["resolved"] else "not resolved")
    for cr in f["crossings"]:
        p.add("The general loss crosses L(0) at α ≈ {x} ({way}, between the samples at α = {lo} and {hi}; {res}).",
              x=("the crossing's α", f"{cr['x']:.3f}"), way=str(cr["direction"]),
              lo=("the crossing's bracket", _a(cr["bracket"][0])), hi=("the crossing's bracket", _a(cr["bracket"][1])),
              res={True: "resolved", False: "not resolved: within the eval set's noise"}.get(cr["resolved"],
                                                                                          "no interval"))
    if not f["crossings"]:
        p.add("The general loss does not cross L(0) again within the swept range (no return crossing).")
    p.add("The task loss is lowest at α = {x} (L = {y}).", x=("task minimum's α", _a(tm["x"])),
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
        shape = "" if d["curvature_interval"][0] > 0 else (
            ", not resolved: the curvature's interval includes 0" if d["curvature"] > 0 else
            ", but it is concave: no minimum")       # a quadratic prediction is only as good as its curvature
        p.add("minimum at α ≈ {pm}{shape} (the sweep's lowest point: α = {x}); the slope is {sb} the random "
              "controls', the",
              pm=("the quadratic's minimum", f"{d['predicted_min']:.3f}"), shape=shape, x=_a(f["general_min"]["x"]),
              sb="beyond" if d["slope_beyond_controls"] else "within")
        p.add("curvature {kb} theirs.", kb="beyond" if d["curvature_beyond_controls"] else "within")


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
