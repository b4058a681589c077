"""What `sitv run` will do, phase by phase, before anything loads (`sitv plan`): the points of
the sweep (lines and grids), the refinement points it is likely to add, the derivative passes,
the fine-tuning left to do; each phase's time from the rates this out_dir has measured (none
measured: "unknown", never guessed); and each phase's memory, so that the peak of the whole run
(on a CPU: the peak RSS of the host) is the largest of them.

Memory per phase: :mod:`.run_memory` (on a CPU the peak RSS of the process running it,
calibrated on Gemma-3-270M; fine-tuning counts only while a task is left to train).
These are estimates from the model's config, not measurements.
"""
from __future__ import annotations

from statistics import mean

from ..config import ExperimentConfig
from ..outdir import OutDir
from ..sweep.derivative_jobs import CONTROLS, SCHEMA, jobs
from ..sweep.plan import Plan, PlannedPoint, load_plan, make_plan
from .phase_eta import estimate_seconds, measured_seconds
from .run_memory import phase_memory

REFINE_PER_FINDING = 2          # a round proposes two points per bracket (secant, midpoint) and per minimum


def _rates(out: OutDir) -> tuple[dict, set[str]]:
    """Evaluation seconds per point by its eval sets, measured on this out_dir, and the ids done."""
    if not out.plan.is_file():
        return {}, set()
    try:
        disk = load_plan(out)
    except (ValueError, KeyError, OSError):
        return {}, set()
    done = out.done_ids(disk)
    return measured_seconds(out, disk, done), done


def refinement_estimate(cfg: ExperimentConfig, plan: Plan) -> dict:
    """Points refinement rounds are likely to add: per line and round, two per return crossing
    and two per interior minimum, for the typical finding (a dip and its return crossing; the
    task loss's minimum too with refine_sets 'all'). Rounds stop once brackets are narrower than
    refine_tol, so this is an upper estimate for such a line (a line with more crossings adds more)."""
    lines = [s for s in plan.sweeps if s.kind == "line"]
    findings = 2 + (1 if cfg.sweep.refine_sets == "all" else 0)
    per_round = REFINE_PER_FINDING * findings
    return {"lines": len(lines), "rounds": cfg.sweep.refine_rounds, "per_line_per_round": per_round,
            "points": cfg.sweep.refine_rounds * len(lines) * per_round,
            "sets": ["general"] if cfg.sweep.refine_sets == "general" else list(plan.eval_sets),
            "assumes": "one interior minimum and one return crossing per line"
                       + (" and a task-loss minimum" if cfg.sweep.refine_sets == "all" else "")}


def derivative_entries(plan: Plan, controls: int = CONTROLS) -> list[dict]:
    """The entries :func:`..sweep.derivative_jobs.jobs` will make (directions, control, sets),
    without their fingerprints (a plan made before the inputs are digested has none): each
    line's direction on every eval set and its random controls on the general and own task sets,
    each two-direction grid's pair on every eval set. tests/unit/test_run_estimate.py holds this
    to `jobs` on a plan with inputs."""
    out = []
    for s in plan.sweeps:
        if s.kind == "line":
            own = [x for x in plan.eval_sets if x in ("general", f"task:{s.directions[0]}")]
            out.append({"key": s.name, "directions": list(s.directions), "control": None,
                        "sets": list(plan.eval_sets)})
            out += [{"key": f"{s.name}/random{k}", "directions": list(s.directions), "control": k, "sets": own}
                    for k in range(1, controls + 1)]
        elif s.kind == "grid" and len(s.directions) == 2:
            out.append({"key": s.name, "directions": list(s.directions), "control": None,
                        "sets": list(plan.eval_sets)})
    return out


def derivatives_done(out: OutDir) -> set[str]:
    """Keys of the derivative entries on disk whose fingerprint the out_dir's plan still gives
    (the derivatives step reuses them)."""
    try:
        if not out.plan.is_file() or not out.derivatives.is_file():
            return set()
        disk, data = load_plan(out), out.read_optional(out.derivatives) or {}
    except (ValueError, KeyError, OSError):
        return set()
    if data.get("schema") != SCHEMA or not disk.inputs:
        return set()
    entries = data.get("entries") or {}
    return {j["key"] for j in jobs(disk, CONTROLS)
            if (entries.get(j["key"]) or {}).get("fingerprint") == j["fingerprint"]}


def derivative_passes(cfg: ExperimentConfig, plan: Plan, done: set[str] = frozenset()) -> dict:
    """Entries of the derivatives step and its nested-jvp passes over an eval set: k(k+1)/2 per
    set for k directions (a two-direction grid reuses its lines' entries: one pass per set)."""
    if not cfg.sweep.derivatives:
        return {"entries": 0, "passes": 0, "skipped": "sweep.derivatives: false"}
    every = derivative_entries(plan, CONTROLS)
    todo = [j for j in every if j["key"] not in done]
    lines = {tuple(s.directions) for s in plan.sweeps if s.kind == "line" and not s.merge}

    def per_set(job: dict) -> int:
        k = len(job["directions"])
        if k == 1 or job["control"] or all((d,) in lines for d in job["directions"]):
            return 1
        return k * (k + 1) // 2
    passes = sum(len(j["sets"]) * per_set(j) for j in todo)
    return {"entries": len(todo), "done": len(every) - len(todo), "passes": passes, "controls_per_line": CONTROLS}


def _finetune_tasks(cfg: ExperimentConfig, out: OutDir) -> list[str]:
    from ..vectors.taskvector import direction_files
    files = direction_files(cfg, out)
    return [t.name for t in cfg.tasks if t.train and t.name in files and not files[t.name].is_file()]


def _timings(out: OutDir) -> dict:
    try:
        return out.read_optional(out.timings) or {}
    except ValueError:
        return {}


def _derivative_seconds(out: OutDir) -> float | None:
    """Mean seconds per derivatives entry measured on this out_dir (derivatives.json)."""
    try:
        data = out.read_optional(out.derivatives) or {}
    except ValueError:
        return None
    times = [e["time_s"] for e in (data.get("entries") or {}).values() if isinstance(e.get("time_s"), (int, float))]
    return mean(times) if times else None


def search_estimate(cfg: ExperimentConfig, out: OutDir, rates: dict) -> dict:
    """The coefficient search's points left (its budget, less those told in OUT/search.json for
    this search) and their time at the measured rate of points with the objective's eval sets.
    Its memory is the sweep worker's: the per-layer parts are views of the resident T."""
    s = cfg.sweep.search
    if not s.directions:
        return {"points": 0, "seconds": 0.0, "skipped": "not configured (sweep.search.directions)"}
    recorded = out.read_optional(out.search_state) if out.search_state.is_file() else None
    same = recorded and recorded.get("directions") == list(s.directions) and recorded.get("split") == s.split \
        and recorded.get("seed") == s.seed and recorded.get("budget") == s.budget
    left = max(0, s.budget - (len(recorded.get("history", [])) if same else 0))
    sets = list(dict.fromkeys(["general"] + ["general" if t == "general" else "task:" + t.split(":", 1)[1]
                                              for t in s.objective]))
    stand_in = [PlannedPoint(id="", coefficients=[], sets=sets, shard=0, sweeps=[])] * left
    return {"points": left, "sets": sets, "seconds": estimate_seconds(stand_in, rates, cfg.sweep.workers)
            if rates and left else (0.0 if not left else None)}


def run_estimate(cfg: ExperimentConfig, memory: dict, arch, out: OutDir | None = None) -> dict:
    """Points, seconds (None: unknown) and bytes of every phase of `sitv run` for ``cfg``."""
    out = OutDir(out or cfg.out_dir)
    plan = make_plan(cfg, None, cfg.sweep.workers)
    rates, done = _rates(out)
    by_kind = {k: sum(1 for p in plan.points if any(s.kind == k for s in plan.sweeps if s.name in p.sweeps))
               for k in ("line", "grid")}
    todo = [p for p in plan.points if p.id not in done]
    refine = refinement_estimate(cfg, plan)
    deriv = derivative_passes(cfg, plan, derivatives_done(out))
    timings = _timings(out)
    tasks = _finetune_tasks(cfg, out)
    refine_s = None
    if rates and refine["points"]:
        stand_in = [PlannedPoint(id="", coefficients=[], sets=refine["sets"], shard=0, sweeps=[])]
        refine_s = estimate_seconds(stand_in * refine["points"], rates, cfg.sweep.workers)
    search = search_estimate(cfg, out, rates)
    per_entry = _derivative_seconds(out)
    ft_times = [timings[f"finetune:{t}"] for t in tasks if f"finetune:{t}" in timings]
    seconds = {"finetune": 0.0 if not tasks else (sum(ft_times) if len(ft_times) == len(tasks) else None),
               "sweep": estimate_seconds(todo, rates, cfg.sweep.workers),
               "refinement": 0.0 if not refine["points"] else refine_s,
               "search": search["seconds"],
               "derivatives": 0.0 if not deriv["entries"] else (per_entry * deriv["entries"] if per_entry else None)}
    known = [v for v in seconds.values() if v is not None]
    return {"points": {"lines": by_kind["line"], "grids": by_kind["grid"], "sweep": len(plan.points),
                       "done": len(plan.points) - len(todo), "refinement_estimate": refine["points"],
                       "search": search["points"],
                       "total_estimate": len(plan.points) + refine["points"] + search["points"]},
            "refinement": refine, "search": search, "derivatives": deriv, "finetune_tasks": tasks,
            "seconds": seconds, "seconds_total": sum(known) if len(known) == len(seconds) else None,
            "rates_measured": {"+".join(k): v for k, v in rates.items()},
            "memory": phase_memory(cfg, memory, arch, plan, train=bool(tasks),
                                   evaluate=bool(todo or refine["points"] or search["points"]),
                                   derive=bool(deriv["entries"]))}


def _clock(s: float | None) -> str:
    if s is None:
        return "unknown (no rate measured in this out_dir yet)"
    s = round(s)
    return f"{s // 60} min {s % 60:02d} s" if s >= 60 else f"{s} s"


def render_estimate(est: dict) -> str:
    """The estimate as text (`sitv plan` without --json), after the sweep worker's memory."""
    gib = lambda x: f"{x / 2 ** 30:.2f} GiB"  # noqa: E731
    p, r, d, m, s = est["points"], est["refinement"], est["derivatives"], est["memory"], est["seconds"]
    lines = ["", "phases of `sitv run`:",
             f"  fine-tuning     {len(est['finetune_tasks'])} task(s) to train"
             + (f" ({', '.join(est['finetune_tasks'])})" if est["finetune_tasks"] else " (vectors on disk)")
             + f"; time {_clock(s['finetune'])}; memory {gib(m['finetune'])}",
             f"  sweep           {p['sweep']} unique point(s) (line points {p['lines']}, grid points {p['grids']}; "
             f"{p['done']} on disk); time {_clock(s['sweep'])}; memory {gib(m['sweep'])}"
             + (f" ({m['sweep_workers_on_host']} workers on this host)" if m["sweep_workers_on_host"] > 1 else ""),
             f"  refinement      ~{r['points']} point(s) estimated ({r['rounds']} round(s) x {r['lines']} line(s) x "
             f"{r['per_line_per_round']}, assuming {r['assumes']}); time {_clock(s['refinement'])}",
             "  search          " + (est["search"]["skipped"] if est["search"].get("skipped") else
                                     f"{est['search']['points']} point(s) left of sweep.search.budget; time "
                                     f"{_clock(s['search'])}; memory as the sweep's (the parts are views of T)"),
             "  derivatives     " + (d["skipped"] if d.get("skipped") else
                                     f"{d['entries']} entr(ies) to compute ({d['done']} on disk), {d['passes']} "
                                     "nested-jvp pass(es) over an eval set "
                                     f"({d['controls_per_line']} random controls per line); time {_clock(s['derivatives'])}; "
                                     f"memory {gib(m['derivatives'])}"),
             f"  total           ~{p['total_estimate']} point(s); time {_clock(est['seconds_total'])}; "
             + (f"peak memory {gib(m['peak'])} (the largest phase left to run; {m['basis']}, estimated from the "
              "model's config)" if any(m["left_to_run"].values()) else "nothing left to run")]
    lines += [f"  note            {n}" for n in m["notes"]]
    return "\n".join(lines)
