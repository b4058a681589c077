"""The `sitv` command: a table of subcommands, each a parser and the stage it calls.

Each subcommand imports its stage when it runs (the only imports inside functions here, and
none of them closes a cycle: nothing imports the CLI), so `sitv status` or `sitv
config-reference` does not pay seconds for torch, transformers and matplotlib."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml
from safetensors import SafetensorError

from .cli_errors import debug_requested, exit_code, one_line
from .config import ConfigError, load_config, reference
from .outdir import OutDir, OutDirError
from .progress import quiet_library_bars
from .vectors.ops import ops_registry as direction_ops


USAGE = """Loss landscapes along task vectors: how the loss of a model changes as a fine-tuning's
weight difference T is added to it, M(α) = M_base + αT.

  sitv plan -c CONFIG          the memory a run needs per worker, before any model loads
  sitv run -c CONFIG           fine-tune, sweep, compute derivatives and write OUT/report.md
  sitv search -c CONFIG        search the coefficients of sweep.search (per layer or per direction)
  sitv status OUT              how many points are done (add --json for scripts)
  sitv compare OUT1 OUT2 ...   one table for several runs
  sitv config-reference        every config key with its default

Each command's options: sitv COMMAND --help."""


def config_reference() -> str:
    """Every config key, then every direction op's keys (the README's reference section)."""
    return reference() + "\n\n" + direction_ops.reference()


def _load(path: str | None, overrides: list[str]):
    """The config with every section checked, the direction ops' entries included."""
    cfg = load_config(path, overrides)
    direction_ops.check_config(cfg)
    return cfg


def _config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-c", "--config", help="YAML config (default: the embedded default experiment)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, e.g. --set sweep.alpha.num=41 (repeatable)")


def _config(args: argparse.Namespace):
    """The validated config with the command's flags as overrides."""
    overrides = list(args.set)
    for flag in ("num_shards", "workers"):
        if getattr(args, flag, None) is not None and getattr(args, flag) < 1:
            raise ConfigError(f"--{flag.replace('_', '-')}: must be >= 1, got {getattr(args, flag)}")
    for flag, key in (("num_shards", "sweep.num_shards"), ("launcher", "sweep.launcher"), ("workers", "sweep.workers")):
        if getattr(args, flag, None) is not None:
            overrides.append(f"{key}={getattr(args, flag)}")
    cfg = _load(args.config, overrides)
    if hasattr(args, "confirm_large"):
        from .sweep.plan import check_size
        check_size(cfg, args.confirm_large)
    return cfg, OutDir(cfg.out_dir).create()


def _shards(cfg) -> int:
    """The shard count a plan of this config has outside torchrun."""
    return max(cfg.sweep.num_shards, cfg.slurm.tasks if cfg.sweep.launcher == "slurm" else 1)


def _existing(out_dir: str) -> None:
    if not Path(out_dir).expanduser().is_dir():
        raise OutDirError(f"{out_dir} is not a directory; give the out_dir of an experiment (see `sitv run`)")


# ------------------------------------------------------------------ one function per subcommand
def _experiment(args: argparse.Namespace):
    """The command's experiment: the Python API that every stage command calls."""
    from .api.experiment_api import Experiment
    return Experiment(_config(args)[0])


def cmd_run(args: argparse.Namespace) -> int:
    experiment = _experiment(args)
    with experiment.out.pipeline_lock():        # one `sitv run` per out_dir at a time
        experiment.run()
    return 0


def cmd_finetune(args: argparse.Namespace) -> int:
    _experiment(args).finetune(args.task, force=args.force)
    return 0


def cmd_taskvector(args: argparse.Namespace) -> int:
    if args.adapter:
        from .vectors.directions import materialise
        meta = materialise(args.base, Path(args.adapter), Path(args.out), args.dtype)
    else:
        from .vectors.taskvector import from_checkpoints
        meta = from_checkpoints(args.base, args.finetuned, Path(args.out), args.dtype)
    print(f"wrote {args.out}: {meta['num_parameters']} parameters, |T| = {float(meta['global_norm']):.6g}")
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    if args.shard is not None and args.shard < 0:
        raise ConfigError(f"--shard: must be >= 0, got {args.shard}")
    experiment = _experiment(args)
    cfg = experiment.cfg
    if args.shard is not None and args.shard >= _shards(cfg):
        raise ConfigError(f"--shard: {args.shard} is not a shard of this plan (shards 0..{_shards(cfg) - 1}); "
                          "pass --num-shards or set sweep.num_shards to the count you split into")
    outcome = experiment.launch_sweep(None if args.shard is None else [args.shard], args.wait, not args.no_reduce)
    from .api.experiment_api import SweepHandle
    if isinstance(outcome, SweepHandle):        # submitted to Slurm, not waited for
        return 0
    return 1 if outcome.failed or (getattr(outcome, "missing", 0) and args.shard is None) else 0


def cmd_plan(args: argparse.Namespace) -> int:
    from .stages.prepare import prepare_base
    from .sweep.budget import GIB, memory_plan, render
    cfg = _load(args.config, list(args.set))
    plan = memory_plan(cfg, int(args.device_memory * GIB) if args.device_memory else None,
                       location=prepare_base(cfg))      # the plan reads the base's config.json
    from .models.location import base_architecture
    from .stages.run_estimate import render_estimate, run_estimate
    arch = base_architecture(cfg)
    plan["run"] = run_estimate(cfg, plan, getattr(arch, "text_config", None) or arch)    # every phase (#24)
    print(json.dumps(plan, indent=1) if args.json else render(plan) + "\n" + render_estimate(plan["run"]))
    return 0 if plan["fits"] else 3


def cmd_refine(args: argparse.Namespace) -> int:
    if args.tol is not None and not args.tol > 0:
        raise ConfigError(f"--tol: must be > 0 (a bracket width in coefficient units), got {args.tol}")
    if args.rounds is not None and args.rounds < 0:
        raise ConfigError(f"--rounds: must be >= 0, got {args.rounds}")
    _experiment(args).refine(args.rounds, args.tol)
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    _experiment(args).search()
    return 0


def cmd_derivatives(args: argparse.Namespace) -> int:
    if args.controls < 0:
        raise ConfigError(f"--controls: must be >= 0 (random directions per line), got {args.controls}")
    _experiment(args).derivatives(controls=args.controls)
    return 0


def cmd_reduce(args: argparse.Namespace) -> int:
    from .sweep.reduce import MissingPoints, reduce
    _existing(args.out_dir)
    try:
        for path in reduce(OutDir(args.out_dir)):
            print(f"wrote {path}")
    except MissingPoints as exc:
        for path in exc.written:
            print(f"wrote {path}")
        print(str(exc), file=sys.stderr)
        return 1
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    if args.bootstrap < 0:
        raise ConfigError(f"--bootstrap: must be >= 0 (0: no intervals), got {args.bootstrap}")
    from .stages.report import report_current
    _existing(args.out_dir)
    report_current(OutDir(args.out_dir), bootstrap=args.bootstrap)
    print(f"wrote {OutDir(args.out_dir).report}")
    return 0


def status_text(st: dict) -> str:
    """`sitv status` for a person: the totals in a sentence, then one line per shard."""
    lines = [f"{st['done']} of {st['points']} points done, {st['points'] - st['done']} missing; "
             f"{st['evaluations']} evaluations ({st['recomputed']} recomputed)"]
    for shard, c in st["shards"].items():
        failed = f", {c['failed']} failed" if c["failed"] else ""
        lines.append(f"  shard {shard}: {c['done']} done, {c['missing']} missing{failed}")
    if "search" in st:
        s = st["search"]
        per = {"none": "direction", "layers": "layer", "groups": "group"}[s["split"]]
        lines.append(f"  search (a coefficient per {per}): {s['told']} of a budget of {s['budget']} points told"
                     f"{'' if s['complete'] else '; not finished: rerun `sitv search`'}")
    return "\n".join(lines)


def cmd_status(args: argparse.Namespace) -> int:
    from .sweep.reduce import status
    _existing(args.out_dir)
    st = status(OutDir(args.out_dir))
    print(json.dumps(st, indent=1) if args.json else status_text(st))
    return 0


def _status_args(p):
    _out_dir_arg(p)
    p.add_argument("--json", action="store_true", help="print the counts as JSON (for scripts)")


def cmd_compare(args: argparse.Namespace) -> int:
    if not 0 < args.level < 1 or args.bootstrap < 0:
        raise ConfigError(f"--level must be in (0, 1) and --bootstrap >= 0, got {args.level}, {args.bootstrap}")
    from .results.compare.comparison import compare
    try:
        compare([Path(d) for d in args.out_dirs], Path(args.out), args.bootstrap, args.level, args.seed)
    except FileNotFoundError as exc:
        print(f"compare: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {Path(args.out) / 'compare.md'}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from .api.results import open_results
    _existing(args.out_dir)
    print(f"wrote {open_results(args.out_dir).export(args.format, args.out)}")
    return 0


def cmd_config_reference(args: argparse.Namespace) -> int:
    print(config_reference())
    return 0


# ------------------------------------------------------------------ the table
def _confirm_arg(p):
    p.add_argument("--confirm-large", action="store_true",
                   help="run a plan of more than sweep.max_points point evaluations")


def _run_args(p):
    _config_args(p)
    _confirm_arg(p)


def _finetune_args(p):
    _config_args(p)
    p.add_argument("--task", action="append", help="task to fine-tune (default: every swept task)")
    p.add_argument("--force", action="store_true", help="redo tasks that are already done")


def _taskvector_args(p):
    p.add_argument("--base", required=True, help="hub id or local directory of the base model")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--finetuned", help="hub id or local directory of the fine-tuned model")
    which.add_argument("--adapter", help="a PEFT LoRA adapter directory: its dense T = scaling·B·A (base config only)")
    p.add_argument("--out", required=True, help="output .safetensors file")
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])


def _sweep_args(p):
    _config_args(p)
    _confirm_arg(p)
    p.add_argument("--shard", type=int, help="evaluate only this shard")
    p.add_argument("--num-shards", type=int, help="override sweep.num_shards")
    p.add_argument("--no-reduce", action="store_true", help="do not reduce and report when complete")
    p.add_argument("--launcher", choices=["local", "slurm"], help="override sweep.launcher")
    p.add_argument("--workers", type=int, help="local launcher: worker processes (overrides sweep.workers)")
    p.add_argument("--wait", action="store_true", help="slurm: block until the array job ends, then reduce")


def _plan_args(p):
    _config_args(p)
    p.add_argument("--device-memory", type=float, metavar="GIB", help="memory of one device (default: "
                   "sweep.device_memory_gib, else this machine's GPU, else its RAM)")
    p.add_argument("--json", action="store_true", help="print the plan as JSON")


def _refine_args(p):
    _config_args(p)
    p.add_argument("--rounds", type=int, help="refinement rounds in all, earlier ones included (overrides sweep.refine_rounds)")
    p.add_argument("--tol", type=float, help="override sweep.refine_tol")


def _search_args(p):
    _config_args(p)
    p.add_argument("--launcher", choices=["local", "slurm"], help="override sweep.launcher")
    p.add_argument("--workers", type=int, help="local launcher: worker processes (overrides sweep.workers)")


def _derivatives_args(p):
    _config_args(p)
    p.add_argument("--controls", type=int, default=2, help="random directions of equal norm per line (default 2)")


def _out_dir_arg(p):
    p.add_argument("out_dir", help="the experiment's output directory")


def _report_args(p):
    _out_dir_arg(p)
    p.add_argument("--bootstrap", type=int, default=1000,
                   help="bootstrap replicates over eval texts for the intervals (0: none)")


def _compare_args(p):
    p.add_argument("out_dirs", nargs="+", metavar="OUT", help="the experiments' output directories")
    p.add_argument("--out", required=True, metavar="DEST", help="where compare.md, compare.json and plots/ go")
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap replicates over eval texts (0: none)")
    p.add_argument("--level", type=float, default=0.95, help="confidence level of the intervals")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap")


def _export_args(p):
    _out_dir_arg(p)
    p.add_argument("--format", choices=["csv", "parquet"], default="csv", help="table format (default csv)")
    p.add_argument("--out", metavar="FILE", help="where to write it (default OUT/tables/results.FORMAT)")


COMMANDS = [        # name, help, arguments, what it runs
    ("run", "fine-tune, build task vectors, sweep, reduce and report", _run_args, cmd_run),
    ("finetune", "fine-tune the base on tasks and write their task vectors", _finetune_args, cmd_finetune),
    ("taskvector", "T = finetuned - base from any two checkpoints", _taskvector_args, cmd_taskvector),
    ("sweep", "evaluate the planned points (all shards, or one)", _sweep_args, cmd_sweep),
    ("plan", "memory per worker by part, from the model's config alone; exit 3 when it does not fit", _plan_args,
     cmd_plan),
    ("refine", "refinement rounds on a finished sweep (crossings and minima of every line)", _refine_args,
     cmd_refine),
    ("search", "search the coefficients of sweep.search (CMA-ES, per layer or per direction) to minimise its "
     "objective, with held-out texts", _search_args, cmd_search),
    ("derivatives", "exact slope and curvature at α = 0 along every line (and grid pair), with random controls",
     _derivatives_args, cmd_derivatives),
    ("reduce", "merge point files into results/<sweep>.json", _out_dir_arg, cmd_reduce),
    ("report", "write analysis.json, plots and report.md", _report_args, cmd_report),
    ("status", "done / missing points per shard", _status_args, cmd_status),
    ("compare", "compare the line sweeps of several experiments (tables, intervals, plots)", _compare_args,
     cmd_compare),
    ("export", "the results as one long table (csv or parquet; needs the `tables` extra)", _export_args,
     cmd_export),
    ("config-reference", "print every config key with its default and meaning", lambda p: None,
     cmd_config_reference),
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sitv", description=USAGE, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--debug", action="store_true", help="show the traceback of a failure (anywhere in the line)")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text, add_args, func in COMMANDS:
        p = sub.add_parser(name, help=text)
        add_args(p)
        p.set_defaults(func=func)
    return parser


def main(argv: list[str] | None = None) -> int:
    debug, argv = debug_requested(sys.argv[1:] if argv is None else list(argv))
    args = build_parser().parse_args(argv)
    quiet_library_bars()            # transformers' loading bars: redraws in a non-TTY log
    try:
        return args.func(args)
    except (OSError, SafetensorError, yaml.YAMLError, KeyboardInterrupt) as exc:     # sitv_dist/cli_errors.py
        line = one_line(exc)
        if debug or line is None:
            raise
        print(line, file=sys.stderr)
        return exit_code(exc)
    except ConfigError as exc:
        code = getattr(exc, "exit_code", 2)          # 3: sweep.budget.DoesNotFit
        print(f"{'does not fit' if code == 3 else 'config error'}: {exc}", file=sys.stderr)
        return code
    except OutDirError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
