"""The search stage (`sitv search`, and a phase of `sitv run` when sweep.search is set): CMA-ES
proposes a batch of coefficient vectors, the batch joins the plan as points of the sweep
`search`, the ordinary workers (in-process, local processes, Slurm) evaluate and write them,
and the next batch follows, until the budget is spent.

Nothing of the optimiser is saved: each batch it asks for is found by replaying the search
from its seed against the point files (`sweep.search.proposer.replay`). A killed search reruns
to the same proposals, skips every point already on disk, and ends at the same result for the
same seed, bounds, batch and budget, whatever the number of workers. A proposal that is
already a point of another sweep (a uniform per-layer proposal is its line's point) is read,
not evaluated again.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..config import ConfigError, ExperimentConfig
from ..io import write_json
from ..outdir import OutDir
from ..sweep.plan import SEARCH, Plan, load_plan, point_id
from ..sweep.search import baseline, proposer, space
from ..sweep.search.objective import Objective
from ..sweep.worker import ensure_eval_sets_file
from ..vectors import taskvector
from .sweep import THIS_PROCESS, choose_launcher, execute, plan_sweep


@dataclass
class Setup:
    """What one search is: its coordinates (direction names), bounds, batch, budget, objective,
    and where CMA-ES starts (`mean`, `sigma`)."""
    coords: list[str]
    bounds: list[list[float]]
    batch: int
    budget: int
    objective: Objective
    seed: int
    quantum: float
    mean: list[float] | None = None
    sigma: float | None = None

    def signature(self, cfg: ExperimentConfig) -> dict:
        """What makes two runs the same search (a rerun of it keeps its recorded start)."""
        s = cfg.sweep.search
        return {"coordinates": self.coords, "directions": list(s.directions), "split": s.split,
                "bounds": list(s.bounds), "objective": dict(s.objective), "budget": self.budget,
                "batch": self.batch, "seed": self.seed, "sampler": s.sampler, "quantum": self.quantum,
                "start_from": s.start}


def batch_size(cfg: ExperimentConfig, dims: int) -> int:
    """sweep.search.batch, or CMA-ES's default population (4 + ⌊3 ln n⌋) rounded up to a multiple
    of the workers that evaluate a batch together."""
    if cfg.sweep.search.batch:
        return cfg.sweep.search.batch
    how = choose_launcher(cfg, THIS_PROCESS)
    workers = {"processes": cfg.sweep.workers, "slurm": cfg.slurm.tasks or cfg.sweep.num_shards}.get(how, 1)
    population = 4 + int(3 * math.log(dims))
    return max(2, -(-population // workers) * workers)


def setup(cfg: ExperimentConfig, out: OutDir) -> Setup:
    """The search of this config on this out_dir (reads the direction files' headers and
    OUT/eval_sets.json, which the first evaluation writes)."""
    s = cfg.sweep.search
    coords = space.coordinates(cfg, taskvector.direction_files(cfg, out))
    tokens = {name: info["tokens"] for name, info in (out.read_eval_sets() or {}).items()}
    budget = s.budget
    batch = batch_size(cfg, len(coords))
    if batch > budget:
        raise ConfigError(f"sweep.search.budget: {budget} point(s) are fewer than one batch of {batch}; "
                          f"raise the budget to at least {batch} or set sweep.search.batch")
    found = Setup(coords, [list(map(float, s.bounds))] * len(coords), batch, budget,
                  Objective(dict(s.objective), tokens, s.seed), s.seed, s.quantum)
    found.mean, found.sigma = start(cfg, out, found)
    return found


def start(cfg: ExperimentConfig, out: OutDir, search: Setup) -> tuple[list[float] | None, float]:
    """(mean, sigma) of CMA-ES: those recorded by an earlier run of the same search, else from
    sweep.search.start (the sweeps' best point when one is on disk)."""
    s = cfg.sweep.search
    recorded = out.read_optional(out.search_state) or {}
    if all(recorded.get(k) == v for k, v in search.signature(cfg).items()) and "sigma" in recorded:
        return recorded.get("start"), recorded["sigma"]
    width = float(s.bounds[1] - s.bounds[0])
    if s.start == "sweeps" and out.plan.is_file():
        plan = load_plan(out)
        found = baseline.best(out, plan, list(s.directions), search.objective)
        if found is not None:
            return baseline.start(plan, found[0], search.coords), s.sigma or width / 8
    return None, s.sigma or width / 4


def proposal_point(plan: Plan, search: Setup, x) -> tuple[list[float], str]:
    vector = space.point_vector(plan.directions, search.coords, x)
    return vector, point_id(plan.directions, vector)


def replay(plan: Plan, out: OutDir, search: Setup) -> proposer.SearchState:
    """The search so far, against the values on disk (search half of the objective)."""
    planned = plan.by_id()

    def value(x):
        _, pid = proposal_point(plan, search, x)
        point = planned.get(pid)
        record = out.read_point(pid, point.fingerprint) if point is not None else None
        if record is None or not set(search.objective.sets) <= set(record["sets"]):
            return None
        return search.objective.value(record, "search")

    return proposer.replay(search.bounds, search.seed, search.batch, search.budget, value, search.quantum,
                           search.sigma, search.mean)


def add_batch(plan: Plan, search: Setup, pending, generation: int) -> int:
    """Put a batch's proposals into the plan as points of the sweep `search` (a proposal that is
    already planned joins the sweep, with the objective's eval sets added); returns how many are new."""
    planned, added = plan.by_id(), 0
    for x in pending:
        vector, pid = proposal_point(plan, search, x)
        point = planned.get(pid)
        if point is None:
            planned[pid] = plan.add_point(vector, [SEARCH], generation, SEARCH, search.objective.sets)
            added += 1
            continue
        if SEARCH not in point.sweeps:
            point.sweeps.append(SEARCH)
        missing = [s for s in search.objective.sets if s not in point.sets]
        if missing:
            point.sets = [s for s in plan.eval_sets if s in point.sets or s in missing]
            point.fingerprint = plan.point_fingerprint(point.coefficients, point.sets)
    return added


def record(plan: Plan, search: Setup, state: proposer.SearchState, cfg: ExperimentConfig) -> dict:
    """OUT/search.json: the setup and every proposal told, in order, with its point and its
    objective on the search half (what the report reads; the optimiser is rebuilt by replay)."""
    told = []
    for x, y in state.history:
        _, pid = proposal_point(plan, search, x)
        told.append({"x": list(x), "point": pid, "objective": y if math.isfinite(y) else None})
    return {"schema": "sitv-dist/search/1", **search.signature(cfg), "start": search.mean, "sigma": search.sigma,
            "complete": state.done, "history": told}


def require_optimiser() -> None:
    try:
        import cmaes  # noqa: F401
    except ImportError:
        raise ConfigError("sweep.search: the search needs the `cmaes` package; pip install 'sitv-dist[search]'") from None


class Stepper:
    """One search's loop, one batch a step: replay against the store, rewrite OUT/search.json,
    and put the next batch into the plan (who evaluates it is the caller's business)."""

    def __init__(self, cfg: ExperimentConfig, out: OutDir):
        self.cfg, self.out = cfg, OutDir(out)
        self.setup = setup(cfg, self.out)
        self.asked = None

    def step(self, announce: bool) -> tuple[proposer.SearchState, int]:
        """(state, the batch number now in the plan; 0 when the search is done)."""
        plan = load_plan(self.out)
        state = replay(plan, self.out, self.setup)
        write_json(self.out.search_state, record(plan, self.setup, state, self.cfg))
        if state.done:
            return state, 0
        if state.pending == self.asked:
            raise RuntimeError(f"search: the batch {self.asked} was evaluated but its values cannot be read back; "
                               f"see {self.out.failures_dir} and `sitv status {self.out.root}`")
        self.asked = state.pending
        generation = len(state.history) // self.setup.batch + 1
        added = add_batch(plan, self.setup, state.pending, generation)
        self.out.write_plan(plan.to_json())
        if announce:
            print(f"search: batch {generation} of {self.setup.budget // self.setup.batch}, "
                  f"{len(state.pending)} proposal(s), {added} new point(s)", flush=True)
        return state, generation


def check(cfg: ExperimentConfig) -> None:
    if not cfg.sweep.search.directions:
        raise ConfigError("sweep.search.directions: no search is configured; name the directions whose "
                          "coefficients to search, e.g. --set 'sweep.search.directions=[sentiment_positive]'")
    require_optimiser()


def search(cfg: ExperimentConfig, out: OutDir, progress: bool = True, announce: bool = True) -> proposer.SearchState:
    """Run (or continue) the configured search to its budget with the configured launcher
    (this process, local processes or Slurm); returns its final state."""
    check(cfg)
    out = OutDir(out)
    ensure_eval_sets_file(cfg, out, plan_sweep(cfg, out))
    stepper = Stepper(cfg, out)
    while True:
        state, generation = stepper.step(announce)
        if not generation:
            break
        summary = execute(cfg, out, load_plan(out), progress=progress, stage="search", sweeps=[SEARCH],
                          announce=False)
        if summary.missing:
            raise RuntimeError(f"search batch {generation}: {summary.missing} point(s) missing ({summary.failed} "
                               f"failed; see {out.failures_dir}); rerun to evaluate only those")
    best = state.best()
    if announce and best is not None:
        print(f"search: {len(state.history)} point(s); best objective {best[1]:.6g} on the search half", flush=True)
    return state
