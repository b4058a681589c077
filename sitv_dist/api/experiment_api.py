"""`Experiment`: an experiment's stages called from Python (a notebook, a script) exactly as
the `sitv` commands call them (the CLI is a thin layer over this class): the same checks,
the same files in OUT, resumable the same way (a rerun evaluates only what is missing)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import ExperimentConfig, config_from_data, load_config
from ..outdir import OutDir
from ..vectors.ops import ops_registry


def dotted(overrides: dict[str, Any]) -> dict[str, Any]:
    """Keyword overrides as dotted config keys: `sweep__alpha__num=5` is `sweep.alpha.num`
    (a keyword cannot hold a dot; a dotted key can be given in a ** dict as well)."""
    return {key.replace("__", "."): value for key, value in overrides.items()}


@dataclass
class SweepHandle:
    """A sweep submitted to Slurm and not waited for: `wait()` blocks until its array tasks
    end, then reduces and reports as `sitv sweep --wait` does, and gives the results."""
    experiment: "Experiment"
    summary: Any                      # stages.sweep.SweepSummary (waited=False)
    reduce: bool = True

    @property
    def job_ids(self) -> list[str]:
        return list(self.summary.submitted)

    def wait(self):
        summary = self.experiment._after_sweep(self.summary.finish(), self.reduce)
        _check(summary, self.experiment.out)
        return self.experiment.results()


def _check(summary, out: OutDir) -> None:
    """Raise when a sweep left points failed or missing (the CLI's exit code 1)."""
    missing = getattr(summary, "missing", 0)
    if summary.failed or missing:
        raise RuntimeError(f"sweep: {missing} point(s) missing, {summary.failed} failed (see {out.failures_dir} "
                           f"and `sitv status {out.root}`); rerun to evaluate only those")


class Experiment:
    """One experiment: its validated config and its output directory."""

    def __init__(self, cfg: ExperimentConfig):
        ops_registry.check_config(cfg)      # the direction ops' entries, as `sitv` checks them
        self.cfg = cfg

    @classmethod
    def from_yaml(cls, path: str | os.PathLike | None = None, **overrides) -> "Experiment":
        """A YAML config (None: the embedded default) with keyword overrides, e.g.
        `Experiment.from_yaml("exp.yaml", out_dir="runs/a", sweep__alpha__num=5)`."""
        return cls(load_config(path, values=dotted(overrides)))

    @classmethod
    def from_dict(cls, data: dict, **overrides) -> "Experiment":
        """A config given as plain data (the mapping a YAML file holds), with keyword overrides."""
        return cls(config_from_data(data, dotted(overrides)))

    @property
    def out(self) -> OutDir:
        return OutDir(self.cfg.out_dir)

    def __repr__(self) -> str:
        return f"Experiment({self.cfg.name!r}, out_dir={self.cfg.out_dir!r})"

    def _created(self) -> OutDir:
        return OutDir(self.cfg.out_dir).create()

    # ------------------------------------------------------------------ the stages
    def run(self, progress: bool = True):
        """Fine-tune, build task vectors, sweep, refine, derivatives, reduce and report (`sitv run`)."""
        from ..stages.run import run
        run(self.cfg, progress=progress)
        return self.results()

    def finetune(self, tasks: list[str] | None = None, force: bool = False) -> list[str]:
        """Fine-tune `tasks` (default: every swept task without a task-vector file); the
        task-vector paths (`sitv finetune`)."""
        from ..stages.finetune import finetune
        return finetune(self.cfg, self._created(), tasks, force=force)

    def sweep(self, shards: list[int] | None = None, wait: bool | None = None, reduce: bool = True,
              progress: bool = True):
        """Plan and evaluate the missing points (`sitv sweep`), then reduce and report; the
        results. With the Slurm launcher and `wait` not True: a `SweepHandle` at once. Raises
        when points failed or are missing (a rerun evaluates only those)."""
        outcome = self.launch_sweep(shards, wait, reduce, progress)
        if isinstance(outcome, SweepHandle):
            return outcome
        _check(outcome, self.out)
        return self.results() if shards is None else outcome

    def launch_sweep(self, shards: list[int] | None = None, wait: bool | None = None, reduce: bool = True,
                     progress: bool = True):
        """The sweep as `sitv sweep` runs it, its counts returned instead of checked: a
        stages.sweep.SweepSummary, a torchrun rank's WorkerStats, or a SweepHandle."""
        from ..distributed.where import from_env
        from ..stages.sweep import choose_launcher, sweep, sweep_rank
        place = from_env()
        if choose_launcher(self.cfg, place) == "torchrun":
            return sweep_rank(self.cfg, self._created(), place, reduce_at_end=reduce)
        wait = bool(wait) or self.cfg.sweep.launcher != "slurm"
        summary = sweep(self.cfg, self._created(), shards, progress=progress, wait=wait)
        if not summary.waited:
            return SweepHandle(self, summary, reduce)
        return self._after_sweep(summary, reduce and shards is None)

    def _after_sweep(self, summary, reduce: bool):
        """Reduce and report a complete sweep that nothing failed in; the summary."""
        from ..stages.report import reduce_and_report
        if reduce and summary.complete and not summary.failed:
            reduce_and_report(self.out)
            print(f"report: {self.out.report}")
        return summary

    def refine(self, rounds: int | None = None, tol: float | None = None, progress: bool = True):
        """Refinement rounds on a finished sweep, then reduce and report (`sitv refine`)."""
        from ..stages.report import reduce_and_report
        from ..stages.sweep import refine
        added = refine(self.cfg, self._created(), self.cfg.sweep.refine_rounds if rounds is None else rounds,
                       self.cfg.sweep.refine_tol if tol is None else tol, progress)
        print(f"refine: {sum(added)} point(s) added in {len(added)} round(s)")
        reduce_and_report(self.out)
        print(f"report: {self.out.report}")
        return self.results()

    def search(self, progress: bool = True) -> dict:
        """The coefficient search of sweep.search (`sitv search`), then the report (a sweep whose
        points are not all evaluated yet is reported as pending); analysis.json's `search` entry."""
        from ..distributed.where import from_env
        from ..stages.report import report_after_search
        from ..stages.search import search
        from ..stages.sweep import choose_launcher
        place = from_env()
        if choose_launcher(self.cfg, place) == "torchrun":       # every rank evaluates its shards of each batch
            from ..stages.search_ranks import search_rank
            search_rank(self.cfg, self._created(), place)
            return (self.out.read_optional(self.out.analysis) or {}).get("search")
        search(self.cfg, self._created(), progress)
        analysis = report_after_search(self.out)
        print(f"report: {self.out.report}")
        return analysis["search"]

    def derivatives(self, controls: int = 2, progress: bool = True) -> dict:
        """Exact slope and curvature at α = 0 (`sitv derivatives`); OUT/derivatives.json's content."""
        from ..stages.derivatives import compute
        from ..stages.report import reduce_and_report
        result = compute(self.cfg, self._created(), controls=controls, progress=progress)
        print(f"wrote {self.out.derivatives}")
        reduce_and_report(self.out)
        print(f"report: {self.out.report}")
        return result

    def report(self, bootstrap: int = 1000) -> Path:
        """analysis.json, plots and report.md from the results on disk (`sitv report`)."""
        from ..results.report.run_report import write_report
        write_report(self.out.root, bootstrap=bootstrap)
        print(f"wrote {self.out.report}")
        return self.out.report

    def results(self):
        """The results on disk (`open_results(out_dir)`)."""
        from .results import open_results
        return open_results(self.out.root)
