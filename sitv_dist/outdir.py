"""The output directory's layout, in one place (as submitit's `JobPaths` is for its folder):
every path under OUT, and reading and writing what lives there — the resolved config, the
plan, one file per evaluated point, the evaluation audit log, failures, timings.

    OUT/config.resolved.yaml          every setting, after overrides
    OUT/timings.json                  seconds per stage (accumulates over resumed runs)
    OUT/peak_memory.json              the process's peak RSS before/after each stage (sitv_dist.peak_memory)
    OUT/finetune/<task>/              model/, history.json, checkpoint/
    OUT/task_vectors/<name>.safetensors
    OUT/plan.json                     the unique points and their shards
    OUT/eval_sets.json                texts, per-text token counts and categories of each eval set
    OUT/search.json                   the coefficient search: its setup and every proposal told so far
    OUT/points/<id>.json              one file per evaluated point, written atomically
    OUT/points/done.jsonl             the done-index: a line per point file written (sitv_dist.done_index)
    OUT/failures/<id>.json            the traceback of a point that failed (removed once it succeeds)
    OUT/logs/evaluations.tsv          one line per evaluation (a point listed twice was recomputed)
    OUT/slurm/                        submitit folders, submissions.json
    OUT/locks/                        flock files: planning, and each shard while it is evaluated
    OUT/cache/file-hashes.json        content digests of models and directions, by path, size and mtime
    OUT/cache/results-inputs/         what each results file was reduced from (sitv_dist.results_inputs)
    OUT/results/<sweep>.json, OUT/analysis.json, OUT/report.md, OUT/plots/*.png

A point file that does not parse or belongs to another experiment counts as missing, so a
killed worker loses at most the point it was evaluating and a rerun skips the rest.
"""
from __future__ import annotations

import os
import socket
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .done_index import NAME as DONE_INDEX, DoneIndex, parse_point
from . import peak_memory
from .io import FileLock, atomic_write_text, read_json, write_json
from .results_inputs import stale_reason


RUN_VARIABLE = "SITV_RUN"     # names the launch an evaluation belongs to (see log_evaluation)


class OutDirError(ValueError):
    """A file in OUT that is missing or unreadable, phrased as 'file: what is wrong; how to fix it'."""


def _read(path: Path, fix: str) -> Any:
    """A JSON file of OUT, with one clear error when it is missing, corrupt or unreadable."""
    try:
        return read_json(path)
    except FileNotFoundError:
        raise OutDirError(f"{path} does not exist; {fix}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise OutDirError(f"{path} is corrupt ({str(exc).splitlines()[0][:80]}); {fix}") from None
    except OSError as exc:
        raise OutDirError(f"{path} cannot be read ({exc.strerror}); check its permissions") from None


class OutDir:
    """Paths and files of one experiment's output directory."""

    def __init__(self, root: "str | os.PathLike | OutDir"):
        self.root = root.root if isinstance(root, OutDir) else Path(root).expanduser()

    def __repr__(self) -> str:
        return f"OutDir({str(self.root)!r})"

    def __truediv__(self, other: str) -> Path:      # for the rare file no method names (tests, tools)
        return self.root / other

    def create(self) -> "OutDir":
        """Make OUT and prove it writable (a probe file, removed at once), so that a bad out_dir
        fails now with its reason rather than after the first model loaded."""
        from .config import ConfigError      # config is a leaf; imported here only for the error type
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = self.root / f".write-probe-{os.getpid()}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise ConfigError(f"out_dir: cannot write to {self.root} ({exc.strerror or exc}); choose a writable "
                              "directory (it is created if missing)") from None
        escape = self.link_out()
        if escape:
            raise ConfigError(f"out_dir: {escape} is a symlink to {escape.resolve()}, outside {self.root}; sitv "
                              "writes only inside out_dir: replace the link by a directory (or point out_dir there)")
        return self

    def link_out(self) -> Path | None:
        """The first symlink in OUT or one level below whose target lies outside OUT (files are
        written through such a link, so they would land elsewhere), or None."""
        inside = self.root.resolve()
        level = [self.root]
        for _ in range(2):
            below = []
            for folder in level:
                for entry in os.scandir(folder):
                    path = Path(entry.path)
                    if entry.is_symlink() and not path.resolve().is_relative_to(inside):
                        return path
                    if entry.is_dir(follow_symlinks=False):
                        below.append(path)
            level = below
        return None

    # ------------------------------------------------------------------ paths
    @property
    def config(self) -> Path:
        return self.root / "config.resolved.yaml"

    @property
    def timings(self) -> Path:
        return self.root / "timings.json"

    @property
    def peak_memory(self) -> Path:
        return peak_memory.path_in(self.root)

    @property
    def plan(self) -> Path:
        return self.root / "plan.json"

    @property
    def eval_sets(self) -> Path:
        return self.root / "eval_sets.json"

    @property
    def points_dir(self) -> Path:
        return self.root / "points"

    def point(self, pid: str) -> Path:
        return self.points_dir / f"{pid}.json"

    @property
    def failures_dir(self) -> Path:
        return self.root / "failures"

    def failure(self, pid: str) -> Path:
        return self.failures_dir / f"{pid}.json"

    @property
    def evaluation_log(self) -> Path:
        return self.root / "logs" / "evaluations.tsv"

    @property
    def finetune_root(self) -> Path:
        return self.root / "finetune"

    def finetune_dir(self, task: str) -> Path:
        return self.finetune_root / task

    def finetuned_model(self, task: str) -> Path:
        return self.finetune_dir(task) / "model"

    def history(self, task: str) -> Path:
        return self.finetune_dir(task) / "history.json"

    def checkpoints(self, task: str) -> Path:
        return self.finetune_dir(task) / "checkpoint"

    def task_vector(self, name: str) -> Path:
        return self.root / "task_vectors" / f"{name}.safetensors"

    @property
    def locks_dir(self) -> Path:
        return self.root / "locks"

    def shard_lock(self, shard: int, num_shards: int) -> FileLock:
        """Held while a process evaluates the shard (named with the shard count: another sharding
        of the same plan is other work)."""
        return FileLock(self.locks_dir / f"shard-{shard}-of-{num_shards}.lock")

    def plan_lock(self) -> FileLock:
        """Held while a process checks OUT against its config and writes plan.json."""
        return FileLock(self.locks_dir / "plan.lock")

    @contextmanager
    def pipeline_lock(self):
        """Held by `sitv run` for its whole life: a second `sitv run` on the same OUT would
        fine-tune the same tasks into the same folders at once, so it refuses with one line."""
        lock = FileLock(self.locks_dir / "run.lock")
        if not lock.acquire(blocking=False):
            raise OutDirError(f"{self.locks_dir / 'run.lock'} is held: another `sitv run` is using {self.root}; "
                              "wait for it to end (its finished work is reused) or choose another out_dir")
        try:
            yield
        finally:
            lock.release()

    def sweep_in_progress(self) -> bool:
        """Whether another process is evaluating a shard of this OUT now."""
        return self.locks_dir.is_dir() and any(FileLock(p).busy() for p in self.locks_dir.glob("shard-*.lock"))

    @property
    def hash_cache(self) -> Path:
        return self.root / "cache" / "file-hashes.json"

    @property
    def slurm_dir(self) -> Path:
        return self.root / "slurm"

    @property
    def slurm_submissions(self) -> Path:
        return self.slurm_dir / "submissions.json"

    @property
    def results_dir(self) -> Path:
        return self.root / "results"

    def results(self, sweep: str) -> Path:
        return self.results_dir / f"{sweep}.json"

    @property
    def analysis(self) -> Path:
        return self.root / "analysis.json"

    @property
    def report(self) -> Path:
        return self.root / "report.md"

    @property
    def search_state(self) -> Path:
        """The coefficient search so far: its setup and every proposal told (sitv_dist.stages.search)."""
        return self.root / "search.json"

    @property
    def derivatives(self) -> Path:
        """Per-text slope and curvature along each line's direction (sitv_dist.stages.derivatives)."""
        return self.root / "derivatives.json"

    @property
    def plots_dir(self) -> Path:
        return self.root / "plots"

    # ------------------------------------------------------------------ config, plan, timings
    def write_config(self, yaml_text: str) -> None:
        """The resolved config (what Slurm tasks and reports read)."""
        atomic_write_text(self.config, yaml_text)

    def read_plan(self) -> dict:
        plan = _read(self.plan, "run `sitv sweep` (or `sitv run`) for this out_dir to (re)write it")
        if not isinstance(plan, dict) or not isinstance(plan.get("points"), list):
            raise OutDirError(f"{self.plan} is not a plan; run `sitv sweep` for this out_dir to rewrite it")
        return plan

    def write_plan(self, plan: dict) -> None:
        write_json(self.plan, plan, indent=None)

    @contextmanager
    def timed(self, stage: str):
        """Add the stage's wall time to OUT/timings.json (accumulates over resumed runs) and its
        peak memory to OUT/peak_memory.json."""
        start, rss_before = time.perf_counter(), peak_memory.peak_rss_bytes()
        try:
            yield
        finally:
            try:
                timings = read_json(self.timings) if self.timings.is_file() else {}
            except (ValueError, UnicodeDecodeError):
                timings = {}            # a corrupt timings file only loses timings
            timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - start
            write_json(self.timings, timings)
            peak_memory.record(self.peak_memory, stage, rss_before)

    # ------------------------------------------------------------------ points
    def write_point(self, record: dict) -> None:
        """The point file, then its line in the done-index (a crash between them loses nothing:
        the index catches up from the point file)."""
        write_json(self.point(record["id"]), record, indent=None)
        self.done_index.written(record, self.point(record["id"]))

    @property
    def done_index(self) -> DoneIndex:
        return DoneIndex(self.points_dir)

    def read_point(self, pid: str, fingerprint: str | None) -> dict | None:
        """The stored record, or None if absent, truncated, corrupt or from another experiment
        (`fingerprint` None: any experiment's record is accepted)."""
        try:
            record = parse_point(self.point(pid).read_bytes(), pid)
        except FileNotFoundError:
            return None
        if record is None or (fingerprint is not None and record.get("fingerprint") != fingerprint):
            return None
        return record

    def has_points(self) -> bool:
        return self.points_dir.is_dir() and any(p.name != DONE_INDEX for p in self.points_dir.iterdir())

    def count_point_files(self) -> int:
        """Point files on disk (a progress count for launchers; not checked)."""
        return sum(1 for _ in self.points_dir.glob("p*.json")) if self.points_dir.is_dir() else 0

    def done_ids(self, plan, points=None) -> set[str]:
        """Ids of planned points (of `points`, default all) whose valid result is on disk with
        every set the plan asks for: the done-index answers, point files it does not cover
        yet are parsed (sitv_dist.done_index)."""
        points = plan.points if points is None else points
        found = self.done_index.lookup(p.id for p in points)
        return {p.id for p in points if p.id in found and found[p.id][0] == p.fingerprint
                and found[p.id][1].issuperset(p.sets)}

    def foreign_ids(self, plan) -> set[str]:
        """Ids of planned points whose file parses but belongs to another experiment (another
        fingerprint: copied in from another OUT); they count as missing and are evaluated again."""
        found = self.done_index.lookup(p.id for p in plan.points)
        return {p.id for p in plan.points if p.id in found and found[p.id][0] not in (None, p.fingerprint)}

    def write_failure(self, pid: str, info: dict) -> None:
        write_json(self.failure(pid), info)

    def clear_failure(self, pid: str) -> None:
        self.failure(pid).unlink(missing_ok=True)

    def failed_ids(self) -> set[str]:
        return {f.stem for f in self.failures_dir.glob("*.json")} if self.failures_dir.is_dir() else set()

    def log_evaluation(self, pid: str, shard: int) -> None:
        """Append one line per evaluation to the audit trail (point, shard, host:pid, time, and
        the launch it belongs to: $SITV_RUN, which workers inherit); O_APPEND keeps concurrent
        workers' lines whole."""
        path = self.evaluation_log
        path.parent.mkdir(parents=True, exist_ok=True)
        line = (f"{pid}\t{shard}\t{socket.gethostname()}:{os.getpid()}\t{time.time():.3f}\t"
                f"{os.environ.get(RUN_VARIABLE, '')}\n")
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)

    def evaluation_counts(self, run: str | None = None) -> Counter:
        """How often each point id was evaluated, from the audit trail (only by launch `run`)."""
        if not self.evaluation_log.is_file():
            return Counter()
        rows = [line.split("\t") for line in self.evaluation_log.read_text().splitlines() if line]
        return Counter(r[0] for r in rows if run is None or (len(r) > 4 and r[4] == run))

    # ------------------------------------------------------------------ eval sets, results, runs
    def write_eval_sets(self, info: dict) -> None:
        write_json(self.eval_sets, info, indent=None)

    def read_eval_sets(self) -> dict | None:
        return _read(self.eval_sets, "rerun `sitv sweep` to rewrite it") if self.eval_sets.is_file() else None

    def write_results(self, sweep: str, results: dict, inputs: dict | None = None) -> Path:
        """The results file, then what it was reduced from (`inputs`, sitv_dist.results_inputs)."""
        write_json(self.results(sweep), results)
        if inputs is not None:
            write_json(self.root / "cache" / "results-inputs" / f"{sweep}.json", inputs)
        return self.results(sweep)

    def stale_results(self, skip=()) -> dict[str, str]:
        """Sweep -> why, for each results file older than its points (never to be served)."""
        plan = read_json(self.plan) if self.plan.is_file() and self.results_dir.is_dir() else None
        stale = {}
        for p in sorted(self.results_dir.glob("*.json")) if plan else []:
            record = self.root / "cache" / "results-inputs" / p.name
            why = p.stem not in skip and stale_reason(read_json(record) if record.is_file() else None,
                                                      self.points_dir, plan, p.stem)
            if why:
                stale[p.stem] = why
        return stale

    def read_results(self, skip=()) -> dict[str, dict]:
        """Every reduced sweep, by name (but those in `skip`); one results file older than its
        points is refused in one line (sitv_dist.results_inputs)."""
        for sweep, why in self.stale_results(skip).items():
            raise OutDirError(f"{self.results(sweep)} is older than its points ({why}); run `sitv reduce "
                              f"{self.root}` (or `sitv report {self.root}`, which rebuilds it) first")
        return {p.stem: _read(p, "rerun `sitv reduce` for this out_dir to rewrite it")
                for p in sorted(self.results_dir.glob("*.json")) if p.stem not in skip}

    def read_histories(self) -> dict[str, dict]:
        """Every finished fine-tune's history, by task."""
        return {p.parent.name: _read(p, "rerun `sitv finetune --force` for that task")
                for p in sorted(self.finetune_root.glob("*/history.json"))}

    def read_optional(self, path: Path) -> Any:
        return _read(path, "rerun the command that writes it") if path.is_file() else None

    def record_submission(self, entry: dict) -> None:
        history = read_json(self.slurm_submissions) if self.slurm_submissions.is_file() else []
        history.append(entry)
        write_json(self.slurm_submissions, history)

    def new_slurm_folder(self) -> Path:
        """A fresh folder per submission: job ids can repeat across clusters (or a wiped Slurm)."""
        return self.slurm_dir / time.strftime("%Y%m%d-%H%M%S") / f"{os.getpid()}"


