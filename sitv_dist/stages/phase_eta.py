"""How long the next phase of `sitv run` should take, from rates measured on this out_dir: the
evaluation time of the points already on disk, by the eval sets they hold (a point with every
task set and its multiple-choice items costs several times one with the general set alone).
No rate is guessed: before the first point is timed, the line says so."""
from __future__ import annotations

from statistics import mean

from ..outdir import OutDir
from ..sweep.plan import Plan, PlannedPoint


def measured_seconds(out: OutDir, plan: Plan, done: set[str]) -> dict[tuple[str, ...], float]:
    """Mean evaluation time per point by its tuple of eval sets, over the finished points."""
    times: dict[tuple[str, ...], list[float]] = {}
    for p in plan.points:
        if p.id in done:
            record = out.read_point(p.id, p.fingerprint)
            if record is not None and isinstance(record.get("time_s"), (int, float)):
                times.setdefault(tuple(p.sets), []).append(float(record["time_s"]))
    return {sets: mean(v) for sets, v in times.items()}


def estimate_seconds(todo: list[PlannedPoint], rates: dict[tuple[str, ...], float], parallel: int) -> float | None:
    """Wall seconds for `todo` over `parallel` workers; a point whose sets were never timed is
    scaled from the nearest timed kind by its number of sets. None without any rate."""
    if not todo:
        return 0.0
    if not rates:
        return None
    total = 0.0
    for p in todo:
        sets = tuple(p.sets)
        if sets in rates:
            total += rates[sets]
        else:
            near = min(rates, key=lambda k: abs(len(k) - len(sets)))
            total += rates[near] * len(sets) / len(near)
    return total / max(parallel, 1)


def phase_line(phase: str, todo: int, targeted: int, seconds: float | None, workers: int) -> str:
    """The one line a phase prints as it starts."""
    line = f"{phase}: {todo} of {targeted} point(s) to evaluate on {workers} worker(s)"
    if todo == 0:
        return line + " (all on disk)"
    if seconds is None:
        return line + "; ETA once the first points are timed"
    return line + f"; ETA {_clock(seconds)} at the rate measured on this out_dir"


def _clock(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"
