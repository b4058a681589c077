"""The derivatives step (`sitv derivatives`, and part of `sitv run` after the sweep): exact slope
and curvature of every eval set's loss at α = 0 along each line's direction, along random
directions of the same norm (the controls: is T special? on the general set and the direction's own
task set), and the 2×2 gradient and Hessian
block of every two-direction grid; per text, written to OUT/derivatives.json.

An entry is reused while its fingerprint holds: the digest the plan gives the point α = 1 on
its line (the base, the direction, the eval sets: `sweep.fingerprint.point_fingerprint`) plus
what the entry adds (which control, at which point). Derivatives are taken of the float32
network whatever `model.dtype` is: the derivative of the smooth function that lower-precision
evaluation rounds (a bf16 loss is piecewise constant at the scale of a derivative's step).
"""
from __future__ import annotations

import hashlib
import json
import time

import torch

from ..config import ExperimentConfig
from ..io import write_json
from ..models.loading import load_model, load_tokenizer, resolve_device
from ..models.location import model_location
from ..outdir import OutDir, OutDirError
from ..sweep.derivatives import per_text_derivatives
from ..sweep.evaluation import build_eval_set
from ..sweep.fingerprint import point_fingerprint
from ..sweep.plan import load_plan
from ..texts import eval_texts
from ..vectors import taskvector
from ..vectors.derived import random_direction

SCHEMA = "sitv-dist/derivatives/1"
CONTROLS = 2            # random directions per line: enough to see whether T stands out, cheap


def jobs(plan, controls: int = CONTROLS) -> list[dict]:
    """What to differentiate: each line's direction and its `controls` random directions (seeds
    1..controls, scaled to ‖T‖), and each two-direction grid's pair; with fingerprints."""
    out = []
    for s in plan.sweeps:
        if s.kind == "line":
            unit = point_fingerprint(plan.inputs, plan.directions, plan.line_vector(s.directions[0], 1.0),
                                     plan.eval_sets)
            out.append({"key": s.name, "sweep": s.name, "directions": list(s.directions), "control": None,
                        "base": unit, "sets": list(plan.eval_sets)})
            # controls on the general set and the direction's own task set only: what "is T special?" asks
            own = [x for x in plan.eval_sets if x in ("general", f"task:{s.directions[0]}")]
            out += [{"key": f"{s.name}/random{k}", "sweep": s.name, "directions": list(s.directions),
                     "control": {"random": s.directions[0], "seed": k, "normalize": "global"}, "base": unit,
                     "sets": own} for k in range(1, controls + 1)]
        elif s.kind == "grid" and len(s.directions) == 2:
            vector = [1.0 if d in s.directions else 0.0 for d in plan.directions]
            out.append({"key": s.name, "sweep": s.name, "directions": list(s.directions), "control": None,
                        "base": point_fingerprint(plan.inputs, plan.directions, vector, plan.eval_sets),
                        "sets": list(plan.eval_sets)})
    for job in out:
        what = {"point": job["base"], "control": job["control"], "at": [0.0] * len(job["directions"]),
                "sets": job["sets"], "dtype": "float32"}
        job["fingerprint"] = hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:24]
    return out


def compute(cfg: ExperimentConfig, out: OutDir, controls: int = CONTROLS, device: torch.device | None = None,
            progress: bool = True) -> dict:
    """Compute the entries whose fingerprint is not on disk yet; write and return the file."""
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
    if todo:
        with out.timed("derivatives"):
            entries.update(_evaluate(cfg, out, plan, todo, device, progress))
    data = {"schema": SCHEMA, "entries": {k: entries[k] for k in sorted(entries)}}
    write_json(out.derivatives, data, indent=None)
    return data


def _evaluate(cfg, out, plan, todo, device, progress) -> dict:
    device = device or resolve_device(cfg.model.device)
    location = model_location(cfg)
    model = load_model(location, cfg.model, device, dtype="float32")
    tokenizer = load_tokenizer(location)
    texts = eval_texts(cfg)
    rows = model.get_input_embeddings().num_embeddings
    sets = {name: build_eval_set(name, texts[name], tokenizer, cfg.eval.max_length, cfg.eval.batch_size,
                                 device, rows) for name in plan.eval_sets}
    paths = taskvector.direction_files(cfg, out)
    vectors: dict = {}

    def vector(name):
        if name not in vectors:
            vectors[name] = taskvector.load(paths[name], model, f"sweep.task_vectors.{name}", device)
        return vectors[name]

    result = {}
    for job in todo:
        start = time.perf_counter()
        if job["control"]:
            c = job["control"]
            dirs = [random_direction(vector(c["random"]), seed=c["seed"], normalize=c["normalize"])]
            dirs = [{n: t.to(device) for n, t in d.items()} for d in dirs]
        else:
            dirs = [vector(d) for d in job["directions"]]
        per_set = {}
        for name in job["sets"]:
            es = sets[name]
            d = per_text_derivatives(model, es, dirs)
            per_set[name] = {"tokens": es.tokens.tolist(), "categories": es.categories, "nll": d["nll"].tolist(),
                             "grad": d["grad"].tolist(), "hess": d["hess"].tolist()}
        result[job["key"]] = {"fingerprint": job["fingerprint"], "sweep": job["sweep"],
                              "directions": job["directions"], "control": job["control"],
                              "at": [0.0] * len(job["directions"]), "sets": per_set,
                              "time_s": time.perf_counter() - start}
        if progress:
            print(f"derivatives: {job['key']} in {result[job['key']]['time_s']:.1f} s", flush=True)
    return result
