"""The `sitv` command."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .config import ConfigError, load_config


def _config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-c", "--config", help="YAML config (default: the embedded default experiment)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, e.g. --set sweep.alpha.num=50 (repeatable)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sitv", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="fine-tune, build task vectors, sweep, reduce and report")
    _config_args(p)
    p = sub.add_parser("finetune", help="fine-tune the base on tasks and write their task vectors")
    _config_args(p)
    p.add_argument("--task", action="append", help="task to fine-tune (default: every swept task)")
    p.add_argument("--force", action="store_true", help="redo tasks that are already done")
    p = sub.add_parser("taskvector", help="T = finetuned - base from any two checkpoints")
    p.add_argument("--base", required=True, help="hub id or local directory of the base model")
    p.add_argument("--finetuned", required=True, help="hub id or local directory of the fine-tuned model")
    p.add_argument("--out", required=True, help="output .safetensors file")
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    p = sub.add_parser("sweep", help="evaluate the planned points (all shards, or one)")
    _config_args(p)
    p.add_argument("--shard", type=int, help="evaluate only this shard")
    p.add_argument("--num-shards", type=int, help="override sweep.num_shards")
    p.add_argument("--no-reduce", action="store_true", help="do not reduce and report when complete")
    p.add_argument("--launcher", choices=["local", "slurm"], help="override sweep.launcher")
    p.add_argument("--workers", type=int, help="local launcher: worker processes (overrides sweep.workers)")
    p.add_argument("--wait", action="store_true", help="slurm: block until the array job ends, then reduce")
    p = sub.add_parser("refine", help="refinement rounds on a finished sweep (crossings and minima of every line)")
    _config_args(p)
    p.add_argument("--rounds", type=int, help="refinement rounds in all, earlier ones included (overrides sweep.refine_rounds)")
    p.add_argument("--tol", type=float, help="override sweep.refine_tol")
    for name, text in (("reduce", "merge point files into results/<sweep>.json"),
                       ("report", "write analysis.json, plots and report.md"),
                       ("status", "done / missing points per shard")):
        p = sub.add_parser(name, help=text)
        p.add_argument("out_dir", help="the experiment's output directory")
        if name == "report":
            p.add_argument("--bootstrap", type=int, default=1000,
                           help="bootstrap replicates over eval texts for the intervals (0: none)")
    p = sub.add_parser("compare", help="compare the line sweeps of several experiments (tables, intervals, plots)")
    p.add_argument("out_dirs", nargs="+", metavar="OUT", help="the experiments' output directories")
    p.add_argument("--out", required=True, metavar="DEST", help="where compare.md, compare.json and plots/ go")
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap replicates over eval texts (0: none)")
    p.add_argument("--level", type=float, default=0.95, help="confidence level of the intervals")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap")
    sub.add_parser("config-reference", help="print every config key with its default and meaning")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _dispatch(args)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2


def _dispatch(args: argparse.Namespace) -> int:
    from . import pipeline
    if args.command == "config-reference":
        from .config import reference
        print(reference())
        return 0
    if args.command == "taskvector":
        from .taskvector import from_checkpoints
        meta = from_checkpoints(args.base, args.finetuned, Path(args.out), args.dtype)
        print(f"wrote {args.out}: {meta['num_parameters']} parameters, |T| = {float(meta['global_norm']):.6g}")
        return 0
    if args.command in ("reduce", "report", "status"):
        return _out_dir_command(args)
    if args.command == "compare":
        from .compare import compare
        if not 0 < args.level < 1 or args.bootstrap < 0:
            raise ConfigError(f"--level must be in (0, 1) and --bootstrap >= 0, got {args.level}, {args.bootstrap}")
        try:
            compare([Path(d) for d in args.out_dirs], Path(args.out), args.bootstrap, args.level, args.seed)
        except FileNotFoundError as exc:
            print(f"compare: {exc}", file=sys.stderr)
            return 1
        print(f"wrote {Path(args.out) / 'compare.md'}")
        return 0
    overrides = list(args.set)
    for flag, key in (("num_shards", "sweep.num_shards"), ("launcher", "sweep.launcher"), ("workers", "sweep.workers")):
        if getattr(args, flag, None):
            overrides.append(f"{key}={getattr(args, flag)}")
    cfg = load_config(args.config, overrides)
    out = pipeline.out_dir(cfg)
    if args.command == "run":
        pipeline.run(cfg)
        return 0
    if args.command == "refine":
        added = pipeline.refine(cfg, out, args.rounds if args.rounds is not None else cfg.sweep.refine_rounds,
                                args.tol or cfg.sweep.refine_tol)
        print(f"refine: {sum(added)} point(s) added in {len(added)} round(s)")
        pipeline.reduce_and_report(out)
        print(f"report: {out / 'report.md'}")
        return 0
    if args.command == "finetune":
        from .config import save_config
        from .distributed.where import from_env
        pipeline.preflight(cfg)
        names = args.task or pipeline.tasks_to_finetune(cfg)
        for name in names:
            if cfg.task(name) is None:
                raise ConfigError(f"--task: {name!r} is not a configured task")
        place = from_env()
        if place.launcher == "torchrun" or cfg.finetune.backend == "deepspeed":
            from .distributed.train import run as finetune_ranks     # every rank trains, rank 0 writes
            finetune_ranks(cfg, names, place, force=args.force)
            return 0
        save_config(cfg, out / "config.resolved.yaml")
        for name in names:
            print(f"wrote {pipeline.finetune_task(cfg, out, name, force=args.force)}")
        return 0
    from .distributed.where import from_env
    place = from_env()
    if place.launcher == "torchrun":
        from .distributed.torchrun import sweep_rank
        stats = sweep_rank(cfg, out, place, reduce_at_end=not args.no_reduce)
        return 1 if stats["failed"] else 0
    stats = pipeline.sweep(cfg, out, None if args.shard is None else [args.shard],
                           wait=args.wait or cfg.sweep.launcher != "slurm")
    if stats["failed"] or (stats["missing"] and args.shard is None):
        return 1
    if not args.no_reduce and args.shard is None and stats["complete"]:
        pipeline.reduce_and_report(out)
        print(f"report: {out / 'report.md'}")
    return 0


def _out_dir_command(args: argparse.Namespace) -> int:
    from .reduce import MissingPoints, reduce, status
    out = Path(args.out_dir)
    if args.command == "status":
        print(json.dumps(status(out), indent=1))
        return 0
    if args.command == "reduce":
        try:
            for path in reduce(out):
                print(f"wrote {path}")
        except MissingPoints as exc:
            for path in exc.written:
                print(f"wrote {path}")
            print(str(exc), file=sys.stderr)
            return 1
        return 0
    from .report import write_report
    write_report(out, bootstrap=args.bootstrap)
    print(f"wrote {out / 'report.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
