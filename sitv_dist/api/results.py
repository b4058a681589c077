"""`open_results(out_dir)`: a finished (or partly finished) run's results as objects, read
from the files the CLI writes (results/<sweep>.json, analysis.json, derivatives.json,
finetune/<task>/history.json), with tables (`to_pandas`, `to_xarray`) and figures (`plot`)
made by the same code as the report's. Nothing here writes into OUT except `report()`."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from ..outdir import OutDir, OutDirError
from .tables import grid_array, long_table

LINE_FIGURES = ("line", "categories")
GRID_FIGURES = ("heatmap", "surface", "slices", "planes")


@dataclass(frozen=True)
class SweepResult:
    """One reduced sweep (a line, a grid, or one density's line of a merge sweep)."""
    name: str
    data: dict                 # the results/<sweep>.json content (schema: docs/layout.md)

    @property
    def kind(self) -> str:
        return self.data["kind"]

    @property
    def directions(self) -> list[str]:
        return list(self.data["directions"])

    @property
    def base_loss(self) -> float:
        return self.data["base_loss"]

    @property
    def merge(self) -> dict | None:
        return self.data.get("merge")

    def to_pandas(self):
        return long_table({self.name: self.data})

    def to_xarray(self, eval_set: str = "general", category: str = "all", value: str = "loss"):
        return grid_array(self.data, eval_set, category, value)


class Results:
    """The results of one output directory. Files are read when this is made; a rerun of a
    stage is seen by a new `open_results`."""

    def __init__(self, out_dir: str | os.PathLike):
        self.out = OutDir(out_dir)
        if not self.out.results_dir.is_dir():
            raise OutDirError(f"{self.out.results_dir} does not exist: run the sweep (and `sitv reduce "
                              f"{self.out.root}`) first")
        self.sweeps = {name: SweepResult(name, data) for name, data in self.out.read_results().items()}
        self.analysis = self.out.read_optional(self.out.analysis)          # None before a report
        self.derivatives = (self.out.read_optional(self.out.derivatives) or {}).get("entries", {})
        self.training = self.out.read_histories()

    def __repr__(self) -> str:
        return (f"Results({str(self.out.root)!r}: {len(self.lines)} line(s), {len(self.grids)} grid(s), "
                f"{len(self.merge_sweeps)} merge-sweep line(s))")

    @property
    def lines(self) -> dict[str, SweepResult]:
        return {n: s for n, s in self.sweeps.items() if s.kind == "line" and s.merge is None}

    @property
    def grids(self) -> dict[str, SweepResult]:
        return {n: s for n, s in self.sweeps.items() if s.kind == "grid"}

    @property
    def merge_sweeps(self) -> dict[str, SweepResult]:
        """Every density's line of the merge sweeps (`merge` says which sweep and density)."""
        return {n: s for n, s in self.sweeps.items() if s.merge is not None}

    @property
    def findings(self) -> dict[str, dict]:
        """Per line: crossings, interior minima and the lowest loss, with their noise (from the report)."""
        sweeps = (self.analysis or {}).get("sweeps", {})
        return {n: a["findings"] for n, a in sweeps.items() if "findings" in a}

    @property
    def accuracy(self) -> dict[str, dict]:
        """Per sweep: the multiple-choice and lm-eval series (from the report)."""
        return (self.analysis or {}).get("accuracy", {})

    @property
    def search(self) -> dict | None:
        """The coefficient search: best point, both halves with intervals, best so far (from the report)."""
        return (self.analysis or {}).get("search")

    def __getitem__(self, name: str) -> SweepResult:
        if name not in self.sweeps:
            raise KeyError(f"no sweep {name!r} in {self.out.results_dir}; there are: {', '.join(self.sweeps)}")
        return self.sweeps[name]

    def to_pandas(self):
        """Every sweep in one long DataFrame (tables.long_table)."""
        return long_table({n: s.data for n, s in self.sweeps.items()})

    def to_xarray(self, name: str | None = None, eval_set: str = "general", category: str = "all",
                  value: str = "loss"):
        """One grid as a DataArray with a dimension per direction (name: default the only grid)."""
        if name is None:
            if len(self.grids) != 1:
                raise ValueError(f"name one grid of {list(self.grids) or 'none'}")
            name = next(iter(self.grids))
        return self[name].to_xarray(eval_set, category, value)

    def plot(self, name: str, figure: str | None = None):
        """A matplotlib Figure of one sweep, drawn by the report's own code: for a line
        'line' (default) or 'categories', for a grid 'heatmap' (default), 'surface',
        'slices' or 'planes'. None where the figure does not apply (one category)."""
        from ..results.analysis.landscape import analyse
        from ..results.plots import run_plots
        sweep = self[name]
        kinds = LINE_FIGURES if sweep.kind == "line" else GRID_FIGURES
        figure = figure or kinds[0]
        if figure not in kinds:
            raise ValueError(f"figure {figure!r}: a {sweep.kind} sweep has {', '.join(kinds)}")
        analysis = ((self.analysis or {}).get("sweeps") or {}).get(name) or analyse(sweep.data)
        unc = ((self.analysis or {}).get("uncertainty") or {}).get(name)
        draw = {"line": lambda: run_plots.plot_line(sweep.data, analysis, None, unc)[0],
                "categories": lambda: run_plots.plot_categories(sweep.data, analysis, None),
                "heatmap": lambda: run_plots.plot_grid(sweep.data, analysis, None),
                "surface": lambda: run_plots.plot_surface(analysis, None),
                "slices": lambda: run_plots.plot_slices(analysis, None),
                "planes": lambda: run_plots.plot_plane_slices(analysis, None)}
        return draw[figure]()

    def report(self, bootstrap: int = 1000) -> Path:
        """Rewrite analysis.json, the plots and report.md (`sitv report`); reread the analysis."""
        from ..results.report.run_report import write_report
        write_report(self.out.root, bootstrap=bootstrap)
        self.analysis = self.out.read_optional(self.out.analysis)
        return self.out.report

    def export(self, fmt: str = "csv", dest: str | os.PathLike | None = None) -> Path:
        """The long table written to OUT/tables/results.<fmt> (or `dest`): `sitv export`."""
        from .export import export
        return export(self, fmt, dest)


def open_results(out_dir: str | os.PathLike) -> Results:
    """The results of a run's output directory."""
    return Results(out_dir)


def compare(results: Sequence[Results | str | os.PathLike], dest: str | os.PathLike, bootstrap: int = 1000,
            level: float = 0.95, seed: int = 0) -> dict:
    """`sitv compare`: the line sweeps of several runs side by side (tables, intervals, plots
    written to `dest`); the contents of compare.json."""
    from ..results.compare.comparison import compare as compare_runs
    dirs = [r.out.root if isinstance(r, Results) else Path(r) for r in results]
    return compare_runs(dirs, Path(dest), bootstrap, level, seed)
