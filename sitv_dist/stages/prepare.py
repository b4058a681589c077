"""Before anything loads or trains: cheap checks of everything a long run will need, the
embedded base built when it is the base and not yet cached (the one place that builds it),
which tasks must be fine-tuned, and the derived directions written from their task vectors."""
from __future__ import annotations

from pathlib import Path

from ..config import ConfigError, ExperimentConfig
from ..finetune.pretrain import ensure_embedded
from ..models.location import base_architecture, cached_embedded, check_tokenizer_files, model_location
from ..mc_items import mc_sets
from ..outdir import OutDir
from ..texts import eval_texts, load_texts
from ..vectors import directions, lora, taskvector
from ..vectors.derived import write_direction
from ..vectors.ops.ops_registry import check_config, derived_specs, merge_directions, sources


def prepare_base(cfg: ExperimentConfig, out: OutDir | None = None) -> str:
    """Where the base model is, after building the embedded base if it is the base and not yet
    in the cache (about 3 minutes on 2 cores, once per setting: timed as OUT's 'pretrain'
    stage when `out` is given). Every stage that loads the base calls this first."""
    if cfg.model.name_or_path == "embedded" and not (cached_embedded(cfg) / "config.json").is_file():
        if out is None:
            ensure_embedded(cfg.embedded, seed=cfg.seed)
        else:
            with OutDir(out).timed("pretrain"):
                ensure_embedded(cfg.embedded, seed=cfg.seed)
    return model_location(cfg)


def tasks_to_finetune(cfg: ExperimentConfig) -> list[str]:
    """Directions, and task vectors derived directions are made from, that are configured tasks
    without an explicit task-vector file."""
    names = cfg.direction_names()
    specs = [spec for spec, _ in derived_specs(cfg).values()]
    specs += [spec for spec, _ in merge_directions(cfg).values()]
    for spec in specs:
        names += [n for n in sources(spec) if n not in names]
    return [d for d in names if d not in cfg.sweep.task_vectors and cfg.task(d)]


def preflight(cfg: ExperimentConfig) -> None:
    """Every text set loads and is non-empty, a local model carries its tokenizer, and explicit
    task vectors are whole safetensors files that fit the model (from its config alone, the
    embedded base's too), and every derived direction is a valid op (the configs of callers of
    the Python API get the check `sitv` gives), before any model loads or trains."""
    check_config(cfg)
    check_tokenizer_files(cfg)
    eval_texts(cfg)
    mc_sets(cfg)
    if cfg.eval.lm_eval.tasks:
        from ..sweep.scores.lm_eval_tasks import task_manager
        task_manager(cfg.eval.lm_eval)
    for name in tasks_to_finetune(cfg):
        index = next(i for i, t in enumerate(cfg.tasks) if t.name == name)
        task = cfg.tasks[index]
        if not task.train:
            raise ConfigError(f"tasks.{index}.train: task {name!r} has no training data; give a file, or give "
                              f"its task vector in sweep.task_vectors.{name}")
        load_texts(task.train, key=f"tasks.{index}.train", embedded_name=name, split="train",
                   text_field=task.text_field)
    for name, (spec, _) in derived_specs(cfg).items():
        for source in sources(spec):
            if source in cfg.sweep.task_vectors and lora.is_adapter(Path(cfg.sweep.task_vectors[source]).expanduser()):
                raise ConfigError(f"sweep.derived_directions.{name}: {source!r} is a LoRA adapter; derived directions "
                                  f"need a dense task vector: `sitv taskvector --base BASE --adapter "
                                  f"{cfg.sweep.task_vectors[source]} --out T.safetensors` and name that file")
    explicit = [n for n in cfg.sweep.task_vectors if n in cfg.direction_names() or n in _derived_sources(cfg)]
    if explicit:
        shapes = taskvector.config_shapes(base_architecture(cfg))
        for name in explicit:
            directions.check_fits(Path(cfg.sweep.task_vectors[name]).expanduser(), shapes,
                                  f"sweep.task_vectors.{name}")


def _derived_sources(cfg: ExperimentConfig) -> set[str]:
    return {n for spec, _ in derived_specs(cfg).values() for n in sources(spec)}


def derive_directions(cfg: ExperimentConfig, out: OutDir) -> list[Path]:
    """Write each sweep.derived_directions entry to OUT/task_vectors/<name>.safetensors; a file
    made from the same spec and the same source contents is kept (resumable)."""
    out = OutDir(out)
    paths = []
    todo = derived_specs(cfg)
    todo.update(merge_directions(cfg))      # one direction per density of each merge sweep
    if todo:
        with out.timed("derive"):
            for name, (spec, key) in todo.items():
                path = out.task_vector(name)
                write_direction(path, spec, lambda n: taskvector.direction_file(cfg, out, n), key=key)
                paths.append(path)
    return paths
