"""The derivatives step (`sitv derivatives`, and part of `sitv run` after the sweep): exact slope
and curvature of every eval set's loss at α = 0 along each line's direction, along random
directions of the same norm (the controls: is T special? on the general set and the direction's own
task set), and the 2×2 gradient and Hessian block of every two-direction grid; per text, written
to OUT/derivatives.json. An entry is reused while its fingerprint
(:mod:`sitv_dist.sweep.derivative_jobs`) holds. Derivatives are taken of the float32
network whatever `model.dtype` is: the derivative of the smooth function that lower-precision
evaluation rounds (a bf16 loss is piecewise constant at the scale of a derivative's step).
"""
from __future__ import annotations

import time

import numpy as np
import torch

from ..config import ExperimentConfig
from ..io import write_json
from ..models.loading import resolve_device
from ..outdir import OutDir, OutDirError
from ..sweep.derivative_jobs import CONTROLS, SCHEMA, jobs
from ..sweep.evaluation import usable_chunk
from ..sweep.forward_ad import per_text_derivatives
from ..sweep.plan import load_plan
from ..sweep.resident import load_resident
from ..vectors import directions, lora, taskvector
from ..vectors.ops.random_control import random_direction
from .prepare import prepare_base


def pending_jobs(out: OutDir, controls: int = CONTROLS) -> int:
    """Entries `compute` would evaluate now (none on disk with their fingerprint)."""
    out = OutDir(out)
    old = out.read_optional(out.derivatives) or {}
    entries = old.get("entries", {}) if old.get("schema") == SCHEMA else {}
    return sum(entries.get(j["key"], {}).get("fingerprint") != j["fingerprint"] for j in jobs(load_plan(out), controls))


def compute(cfg: ExperimentConfig, out: OutDir, controls: int = CONTROLS, device: torch.device | None = None,
            progress: bool = True) -> dict:
    """Compute the entries whose fingerprint is not on disk yet; write and return the file. The
    file is rewritten (atomically) after every entry, so a killed step keeps what it finished."""
    out = OutDir(out)
    if not out.plan.is_file():
        raise OutDirError(f"{out.plan} is missing: run `sitv sweep` first (derivatives use its plan)")
    plan = load_plan(out)
    if not plan.inputs:
        raise OutDirError(f"{out.plan} was written by an older version; rerun `sitv sweep`")
    old = out.read_optional(out.derivatives) or {}
    entries = old.get("entries", {}) if old.get("schema") == SCHEMA else {}
    todo = [j for j in jobs(plan, controls) if entries.get(j["key"], {}).get("fingerprint") != j["fingerprint"]]
    wanted = {j["key"] for j in jobs(plan, controls)}
    entries = {k: v for k, v in entries.items() if k in wanted}

    def save(key: str | None = None, entry: dict | None = None) -> dict:
        if key is not None:
            entries[key] = entry
        data = {"schema": SCHEMA, "entries": {k: entries[k] for k in sorted(entries)}}
        write_json(out.derivatives, data, indent=None)
        return data

    if todo:
        with out.timed("derivatives"):
            _evaluate(cfg, out, plan, todo, device, progress, entries, save)
    return save()


def _own_derivatives(entries: dict, plan, directions: list[str], sets: list[str]) -> list[dict] | None:
    """Each direction's own line entry at α = 0 on `sets`, current by fingerprint, or None: a
    two-direction grid's gradient and Hessian diagonal are exactly those (the same texts, batches
    and network), so only its cross term needs a pass."""
    current = {j["key"]: j["fingerprint"] for j in jobs(plan, 0)}
    own = []
    for d in directions:
        line = next((s.name for s in plan.sweeps if s.kind == "line" and s.directions == [d] and not s.merge), None)
        entry = entries.get(line) if line else None
        if entry is None or entry.get("fingerprint") != current.get(line) or not set(sets) <= set(entry["sets"]):
            return None
        own.append(entry)
    return own


def _evaluate(cfg, out, plan, todo, device, progress, known: dict | None = None, save=None) -> dict:
    device = device or resolve_device(cfg.model.device)
    prepare_base(cfg, out)
    state = load_resident(cfg, plan.eval_sets, device, dtype="float32")
    model, sets = state.model, state.sets
    # nested forward mode carries four values per logit (the value, two first-order tangents, a
    # second-order one): a quarter of eval.logit_chunk's positions keeps the logits' memory a point's
    chunk = usable_chunk(model, sets, max(1, cfg.eval.logit_chunk // 4) if cfg.eval.logit_chunk else 0)
    paths = taskvector.direction_files(cfg, out)
    vectors: dict = {}

    def vector(name):
        if name not in vectors:
            loaded = directions.load(paths[name], model, f"sweep.task_vectors.{name}", device)
            # a LoRA direction's T = scaling·B·A on the adapted weights only (zero elsewhere):
            # derivatives need it as tensors, which is O(adapted parameters), never the full model
            vectors[name] = lora.densify(loaded) if isinstance(loaded, lora.LoraDirection) else loaded
        return vectors[name]

    result = {}
    known = dict(known or {})
    for job in todo:
        start = time.perf_counter()
        if job["control"]:
            c = job["control"]
            dirs = [random_direction(vector(c["random"]), seed=c["seed"], normalize=c["normalize"])]
            dirs = [{n: t.to(device) for n, t in d.items()} for d in dirs]
        else:
            dirs = [vector(d) for d in job["directions"]]
        own = None if job["control"] or len(dirs) < 2 else _own_derivatives(known, plan, job["directions"],
                                                                              job["sets"])
        per_set = {}
        for name in job["sets"]:
            es = sets[name]
            d = per_text_derivatives(model, es, dirs, cross_only=own is not None, logit_chunk=chunk)
            for i, entry in enumerate(own or []):
                d["grad"][:, i] = np.asarray(entry["sets"][name]["grad"])[:, 0]
                d["hess"][:, i, i] = np.asarray(entry["sets"][name]["hess"])[:, 0, 0]
            per_set[name] = {"tokens": es.tokens.tolist(), "categories": es.categories, "nll": d["nll"].tolist(),
                             "grad": d["grad"].tolist(), "hess": d["hess"].tolist()}
        known[job["key"]] = result[job["key"]] = {"fingerprint": job["fingerprint"], "sweep": job["sweep"],
                              "directions": job["directions"], "control": job["control"],
                              "at": [0.0] * len(job["directions"]), "sets": per_set,
                              "time_s": time.perf_counter() - start}
        if save is not None:
            save(job["key"], result[job["key"]])
        if progress:
            print(f"derivatives: {job['key']} in {result[job['key']]['time_s']:.1f} s", flush=True)
    return result
