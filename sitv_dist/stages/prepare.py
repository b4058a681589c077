"""Before anything loads or trains: cheap checks of everything a long run will need, which
tasks must be fine-tuned, and the derived directions written from their task vectors."""
from __future__ import annotations

from pathlib import Path

from ..config import ConfigError, ExperimentConfig
from ..config.specs import sources
from ..multiple_choice import mc_sets
from ..outdir import OutDir
from ..texts import eval_texts, load_texts
from ..vectors import taskvector
from ..vectors.derived import write_direction


def tasks_to_finetune(cfg: ExperimentConfig) -> list[str]:
    """Directions, and task vectors derived directions are made from, that are configured tasks
    without an explicit task-vector file."""
    names = cfg.direction_names()
    for derived in cfg.sweep.derived_directions.values():
        names += [n for n in sources(derived.spec()) if n not in names]
    return [d for d in names if d not in cfg.sweep.task_vectors and cfg.task(d)]


def preflight(cfg: ExperimentConfig) -> None:
    """Every text set loads and is non-empty, and explicit task vectors fit the model (from
    its config alone), before any model loads or trains."""
    eval_texts(cfg)
    mc_sets(cfg)
    if cfg.eval.lm_eval.tasks:
        from ..sweep.lm_eval_point import task_manager
        task_manager(cfg.eval.lm_eval)
    for name in tasks_to_finetune(cfg):
        index = next(i for i, t in enumerate(cfg.tasks) if t.name == name)
        task = cfg.tasks[index]
        if not task.train:
            raise ConfigError(f"tasks.{index}.train: task {name!r} has no training data; give a file, or give "
                              f"its task vector in sweep.task_vectors.{name}")
        load_texts(task.train, key=f"tasks.{index}.train", embedded_name=name, split="train",
                   text_field=task.text_field)
    if cfg.model.name_or_path != "embedded":
        for name in cfg.direction_names():
            if name in cfg.sweep.task_vectors:
                taskvector.check_fits(Path(cfg.sweep.task_vectors[name]).expanduser(), cfg.model.name_or_path,
                                      f"sweep.task_vectors.{name}", cfg.model.gguf_file)


def derive_directions(cfg: ExperimentConfig, out: OutDir) -> list[Path]:
    """Write each sweep.derived_directions entry to OUT/task_vectors/<name>.safetensors; a file
    made from the same spec and the same source contents is kept (resumable)."""
    out = OutDir(out)
    paths = []
    if cfg.sweep.derived_directions:
        with out.timed("derive"):
            for name, derived in cfg.sweep.derived_directions.items():
                path = out.task_vector(name)
                write_direction(path, derived.spec(), lambda n: taskvector.direction_file(cfg, out, n),
                                key=f"sweep.derived_directions.{name}")
                paths.append(path)
    return paths
