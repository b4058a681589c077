"""The sweep worker: one model copy, every eval set tokenized once, then for each planned
point of its shard(s) — apply the point in place, one forward pass per eval set, write
the point's file atomically. It neither knows nor cares who started it."""
from __future__ import annotations

import hashlib
import json
import time
import traceback
from pathlib import Path

import torch
from tqdm.auto import tqdm

from . import taskvector
from .apply import PointWriter
from .config import ConfigError, ExperimentConfig
from .data import Text, load_texts
from .evaluation import build_eval_set, per_text_nll, summarize
from .io import finite_or_none, write_json
from .modeling import DTYPE, load_model, load_tokenizer, model_location, resolve_device
from .store import done_ids, log_evaluation, write_point


def eval_texts(cfg: ExperimentConfig) -> dict[str, list[Text]]:
    """Every eval set by its plan name: 'general' and 'task:<name>'."""
    e = cfg.eval
    sets = {"general": load_texts(e.general, key="eval.general", embedded_name="general", split="eval",
                                  text_field=e.text_field, category_field=e.category_field, limit=e.max_texts)}
    for i, t in enumerate(cfg.tasks):
        sets[f"task:{t.name}"] = load_texts(t.eval, key=f"tasks.{i}.eval", embedded_name=t.name, split="eval",
                                            text_field=t.text_field, limit=e.max_texts)
    return sets


def task_vector_paths(cfg: ExperimentConfig, out_dir: Path) -> dict[str, Path]:
    """Direction name -> file: explicit sweep.task_vectors first, else the run's own."""
    paths = {}
    for name in cfg.direction_names():
        explicit = cfg.sweep.task_vectors.get(name)
        paths[name] = Path(explicit).expanduser() if explicit else Path(out_dir) / "task_vectors" / f"{name}.safetensors"
    return paths


def _model_identity(location: str) -> str:
    path = Path(location).expanduser()
    if not path.is_dir():
        return location
    parts = [location, (path / "config.json").read_text() if (path / "config.json").is_file() else ""]
    parts += [f"{f.name}:{f.stat().st_size}" for f in sorted(path.iterdir())
              if f.suffix in (".safetensors", ".bin", ".gguf")]
    return "\n".join(parts)


def fingerprint(cfg: ExperimentConfig, location: str, tv_paths: dict[str, Path],
                texts: dict[str, list[Text]]) -> str:
    """Hash of everything a loss depends on; results of another fingerprint are never reused."""
    h = hashlib.sha256()
    settings = {"model": _model_identity(location), "gguf": cfg.model.gguf_file, "dtype": cfg.model.dtype,
                "apply_dtype": cfg.sweep.apply_dtype, "max_length": cfg.eval.max_length,
                **({"vector_dtype": cfg.sweep.vector_dtype} if cfg.sweep.vector_dtype != "float32" else {}),
                "batch_size": cfg.eval.batch_size}
    for name, path in sorted(tv_paths.items()):
        if not path.is_file():
            raise ConfigError(f"sweep.task_vectors.{name}: {path} does not exist; fine-tune first "
                              "(`sitv finetune`) or name an existing file")
        settings[f"tv:{name}"] = taskvector.read_metadata(path).get("content_hash") or str(path.stat().st_size)
    h.update(json.dumps(settings, sort_keys=True).encode())
    for name in sorted(texts):
        h.update(name.encode())
        for t in texts[name]:
            h.update(f"{t.category}\x1f{t.text}\x1e".encode())
    return h.hexdigest()[:24]


class Worker:
    """Holds the model, the resident base and task vectors, and the tokenized eval sets.
    Only the task vectors that `points` (default: the whole plan) move along are loaded:
    memory is model + base + the vectors this worker really needs."""

    def __init__(self, cfg: ExperimentConfig, out_dir: Path, plan: dict, device: torch.device | None = None,
                 points: list[dict] | None = None):
        self.cfg, self.out_dir, self.plan = cfg, Path(out_dir), plan
        self.device = device or resolve_device(cfg.model.device)
        location = model_location(cfg)
        self.model = load_model(location, cfg.model, self.device)
        tokenizer = load_tokenizer(location)
        texts = eval_texts(cfg)
        self.sets = {name: build_eval_set(name, texts[name], tokenizer, cfg.eval.max_length,
                                          cfg.eval.batch_size, self.device) for name in plan["eval_sets"]}
        paths = task_vector_paths(cfg, out_dir)
        points = plan["points"] if points is None else points
        used = [d for i, d in enumerate(plan["directions"]) if any(p["coefficients"][i] != 0.0 for p in points)]
        vectors = {d: taskvector.load(paths[d], self.model, f"sweep.task_vectors.{d}", self.device,
                                      DTYPE[cfg.sweep.vector_dtype]) for d in used}
        self.writer = PointWriter(self.model, vectors, DTYPE[cfg.sweep.apply_dtype])
        write_json(self.out_dir / "eval_sets.json", {
            name: {"texts": len(s.categories), "tokens": s.tokens.tolist(), "categories": s.categories}
            for name, s in self.sets.items()}, indent=None)

    def evaluate(self, point: dict) -> dict:
        start = time.perf_counter()
        self.writer.apply(dict(zip(self.plan["directions"], point["coefficients"])))
        sets = {}
        for name in point["sets"]:
            nll = per_text_nll(self.model, self.sets[name])
            summary = summarize(self.sets[name], nll)
            summary["loss"] = finite_or_none(summary["loss"])
            for cat in summary.get("categories", {}).values():
                cat["loss"] = finite_or_none(cat["loss"])
                cat["nll_sum"] = finite_or_none(cat["nll_sum"])
            summary["nll_sum"] = finite_or_none(summary["nll_sum"])
            summary["per_text_nll"] = [finite_or_none(x) for x in nll.tolist()]
            sets[name] = summary
        return {"id": point["id"], "fingerprint": self.plan["fingerprint"],
                "coefficients": dict(zip(self.plan["directions"], point["coefficients"])),
                "sets": sets, "time_s": time.perf_counter() - start, "device": str(self.device)}


def run_shards(cfg: ExperimentConfig, out_dir: Path, plan: dict, shards: list[int],
               device: torch.device | None = None, progress: bool = True) -> dict:
    """Evaluate every not-yet-done point of `shards`; returns counts. Finished points are on
    disk as soon as they finish; a failing point is recorded and the others go on."""
    out_dir = Path(out_dir)
    done = done_ids(out_dir, plan)
    todo = [p for p in plan["points"] if p["shard"] in shards and p["id"] not in done]
    stats = {"evaluated": 0, "skipped": sum(p["shard"] in shards for p in plan["points"]) - len(todo),
             "failed": 0, "evaluated_ids": []}
    if not todo:
        return stats
    worker = Worker(cfg, out_dir, plan, device, todo)
    for point in tqdm(todo, desc=f"sweep shards {shards[0]}..{shards[-1]}" if len(shards) > 1 else f"sweep shard {shards[0]}",
                      disable=not progress, unit="pt"):
        try:
            record = worker.evaluate(point)
        except Exception:  # one bad point must not lose the rest of the shard
            write_json(out_dir / "failures" / f"{point['id']}.json",
                       {"id": point["id"], "coefficients": point["coefficients"], "error": traceback.format_exc()})
            stats["failed"] += 1
            continue
        write_point(out_dir, record)
        log_evaluation(out_dir, point["id"], point["shard"])
        (out_dir / "failures" / f"{point['id']}.json").unlink(missing_ok=True)
        stats["evaluated"] += 1
        stats["evaluated_ids"].append(point["id"])
    return stats
