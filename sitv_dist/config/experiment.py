"""The experiment's configuration, section by section (model, embedded base, tasks, fine-tuning,
evaluation) and the whole `ExperimentConfig`; the sweep and Slurm sections are in `sweep.py`.

Every field has a docstring (the string literal under it); `sitv config-reference` prints
them. Validation happens here, before any model is loaded, so a typo costs a second, not a
fine-tune.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .checks import DTYPES, EMBEDDED_TASKS, ConfigError, check_source, choice, non_negative, path_name, positive, require
from .deepspeed import read_deepspeed_json
from .merge_sweep import merge_direction_names
from .sweep_section import SlurmConfig, SweepConfig
from .tracking import TrackingConfig


CACHE_VAR = "SITV_CACHE"
DEFAULT_CACHE = "~/.cache/sitv-dist"


def cache_root() -> str:
    """The project's cache root: $SITV_CACHE, else ~/.cache/sitv-dist (prepared models, the embedded base)."""
    return os.environ.get(CACHE_VAR) or DEFAULT_CACHE


def expand_cache(path: str) -> str:
    """A leading `$SITV_CACHE` (or `${SITV_CACHE}`) replaced by :func:`cache_root`, so that a shipped
    config finds a model where scripts/prepare_model.py put it whatever the cache root is."""
    for var in (f"${{{CACHE_VAR}}}", f"${CACHE_VAR}"):
        if path == var or path.startswith(var + "/"):
            return cache_root() + path[len(var):]
    return path


@dataclass
class ModelConfig:
    name_or_path: str = "embedded"
    """'embedded' (the project's tiny Llama, built and cached on first use), a hub id, or a local directory
    (a leading `$SITV_CACHE` is the cache root: $SITV_CACHE, else ~/.cache/sitv-dist)."""
    gguf_file: str = ""
    """GGUF file inside `name_or_path` to load (needs the `gguf` package); empty for safetensors/bin checkpoints."""
    dtype: str = "float32"
    """Parameter dtype while evaluating: float32, bfloat16 or float16."""
    device: str = "auto"
    """'auto' (cuda:LOCAL_RANK when a GPU is visible, else cpu), 'cpu', or 'cuda:N'."""

    def __post_init__(self) -> None:
        self.name_or_path = expand_cache(self.name_or_path)      # `$SITV_CACHE/...` (configs/gemma3-270m.yaml)

    def validate(self, key: str) -> None:
        require(self.name_or_path, f"{key}.name_or_path", "give 'embedded', a hub id or a local directory")
        choice(self.dtype, DTYPES, f"{key}.dtype")
        if self.device not in ("auto", "cpu", "cuda") and not self.device.startswith("cuda:"):
            raise ConfigError(f"{key}.device: {self.device!r} is not a device; use auto, cpu, cuda or cuda:N")
        local = Path(self.name_or_path).expanduser()
        looks_local = self.name_or_path.startswith((".", "/", "~")) or local.exists()
        if self.name_or_path != "embedded" and looks_local and not local.is_dir():
            raise ConfigError(f"{key}.name_or_path: {self.name_or_path!r} is not a directory; "
                              "point it at a saved model directory or a hub id")
        if self.gguf_file and looks_local and not (local / self.gguf_file).is_file():
            raise ConfigError(f"{key}.gguf_file: {local / self.gguf_file} does not exist")


@dataclass
class EmbeddedConfig:
    cache_dir: str = ""
    """Where the embedded tokenizer and pre-trained base are cached; empty: $SITV_CACHE or ~/.cache/sitv-dist."""
    vocab_size: int = 2048
    """Byte-level BPE vocabulary size of the embedded tokenizer."""
    hidden_size: int = 96
    """Width of the embedded Llama-style base model."""
    num_layers: int = 2
    """Decoder layers of the embedded base model."""
    num_heads: int = 4
    """Attention heads of the embedded base model."""
    intermediate_size: int = 256
    """MLP width of the embedded base model."""
    pretrain_steps: int = 500
    """Pre-training steps on the embedded general corpus (so that the landscape has structure)."""
    pretrain_lr: float = 3e-3
    """Peak learning rate of the pre-training."""
    pretrain_batch_size: int = 32
    """Texts per pre-training step."""

    def validate(self, key: str) -> None:
        for name in ("vocab_size", "hidden_size", "num_layers", "num_heads", "intermediate_size",
                     "pretrain_steps", "pretrain_batch_size"):
            positive(getattr(self, name), f"{key}.{name}")
        if self.hidden_size % self.num_heads:
            raise ConfigError(f"{key}.hidden_size: {self.hidden_size} is not divisible by num_heads={self.num_heads}")
        positive(self.pretrain_lr, f"{key}.pretrain_lr")


@dataclass
class TaskConfig:
    name: str = ""
    """Task name. The built-in tasks (sentiment_positive, sentiment_negative, qa_factual,
    instruction_following) have embedded data; any other name needs `train` and `eval`."""
    train: str = "embedded"
    """Training texts: 'embedded', a local .jsonl/.json/.txt file, 'hf:DATASET[:CONFIG]:SPLIT', or
    empty when the task is only evaluated (its task vector comes from sweep.task_vectors)."""
    eval: str = "embedded"
    """Evaluation texts (the task loss), same forms as `train`."""
    text_field: str = "text"
    """Field holding the text in jsonl/json/hub data."""
    multiple_choice: str = "auto"
    """Multiple-choice set scored at every point that evaluates this task (acc, acc_norm): a local .jsonl of
    {"context", "choices", "answer"} rows, 'embedded' (built-in tasks), 'auto' (the embedded set when the task is
    built-in and evaluated on its embedded data, else none) or empty (none)."""

    def validate(self, key: str) -> None:
        require(self.name, f"{key}.name", "name the task")
        path_name(self.name, f"{key}.name")
        if self.multiple_choice == "embedded" and self.name not in EMBEDDED_TASKS:
            raise ConfigError(f"{key}.multiple_choice: task {self.name!r} has no embedded multiple-choice set "
                              f"(built-in tasks: {', '.join(EMBEDDED_TASKS)}); give a .jsonl file or ''")
        if self.multiple_choice not in ("", "auto", "embedded"):
            path = Path(self.multiple_choice).expanduser()
            if path.suffix != ".jsonl" or not path.is_file():
                raise ConfigError(f"{key}.multiple_choice: {self.multiple_choice!r} is not an existing .jsonl file; "
                                  "give one with {\"context\", \"choices\", \"answer\"} rows, 'embedded', 'auto' or ''")
        for split in ("train", "eval"):
            source = getattr(self, split)
            if split == "train" and not source:
                continue
            if source == "embedded" and self.name not in EMBEDDED_TASKS:
                raise ConfigError(f"{key}.{split}: task {self.name!r} has no embedded data "
                                  f"(built-in tasks: {', '.join(EMBEDDED_TASKS)}); give a file path")
            check_source(source, f"{key}.{split}")


@dataclass
class LmEvalConfig:
    tasks: list[str] = field(default_factory=list)
    """lm-evaluation-harness task names run at every line, grid, base and refinement point (not at points only
    the squaring/compositional curves use, unless sweep.derived_sets is 'all'); empty: none. Needs the `lm-eval`
    extra."""
    include_path: str = ""
    """Directory of local task YAML files (with local data files they run offline). Every file under it is part of
    the fingerprint (an edited task makes stored points stale): keep a task's data files beside its YAML."""
    limit: int = 0
    """Documents per task (0: all)."""
    num_fewshot: int = -1
    """Few-shot examples (-1: each task's own default)."""

    def validate(self, key: str) -> None:
        if not self.tasks:
            return
        if not all(isinstance(t, str) and t for t in self.tasks):
            raise ConfigError(f"{key}.tasks: give a list of lm-eval task names, got {self.tasks!r}")
        if self.include_path and not Path(self.include_path).expanduser().is_dir():
            raise ConfigError(f"{key}.include_path: {self.include_path!r} is not a directory of task YAML files")
        if self.limit < 0:
            raise ConfigError(f"{key}.limit: must be >= 0 (0 means all), got {self.limit}")
        if self.num_fewshot < -1:
            raise ConfigError(f"{key}.num_fewshot: must be >= 0, or -1 for each task's default, got {self.num_fewshot}")


@dataclass
class EvalConfig:
    general: str = "embedded"
    """General evaluation texts with categories: 'embedded', a local file, or 'hf:DATASET[:CONFIG]:SPLIT'."""
    text_field: str = "text"
    """Field holding the text."""
    category_field: str = "category"
    """Field holding the category (missing: every text is category 'all')."""
    max_length: int = 128
    """Tokens per text after truncation (each text is tokenized on its own)."""
    batch_size: int = 16
    """Texts per forward pass (texts are sorted by length, padding is masked out of the loss)."""
    max_texts: int = 0
    """Use only the first N texts of each eval set, and items of each multiple-choice set (0: all)."""
    logit_chunk: int = 512
    """Positions whose logits are formed at once, from the final hidden states through the model's
    output head (0: the whole batch's [batch, seq, vocab] logits, as the model's forward returns them)."""
    lm_eval: LmEvalConfig = field(default_factory=LmEvalConfig)
    """lm-evaluation-harness tasks run on the resident model at every point; metrics per point."""

    def validate(self, key: str) -> None:
        check_source(self.general, f"{key}.general")
        self.lm_eval.validate(f"{key}.lm_eval")
        positive(self.max_length, f"{key}.max_length")
        positive(self.batch_size, f"{key}.batch_size")
        non_negative(self.max_texts, f"{key}.max_texts", "0 means all")
        non_negative(self.logit_chunk, f"{key}.logit_chunk", "0 means full logits")


@dataclass
class FinetuneConfig:
    epochs: int = 3
    """Maximum epochs (early stopping may end sooner)."""
    lr: float = 1e-3
    """Peak learning rate (AdamW), reached after warmup, then cosine decay to 10%."""
    batch_size: int = 16
    """Texts per optimizer micro-step (per rank)."""
    grad_accum: int = 1
    """Micro-steps per optimizer step."""
    warmup_ratio: float = 0.1
    """Fraction of the planned optimizer steps spent warming up."""
    weight_decay: float = 0.0
    """AdamW weight decay."""
    max_grad_norm: float = 1.0
    """Gradient clipping norm (0: off)."""
    patience: int = 2
    """Epochs without a validation improvement of at least `min_delta` before stopping."""
    min_delta: float = 0.0
    """Smallest validation-loss decrease that counts as an improvement."""
    val_fraction: float = 0.1
    """Share of the training texts held out for per-epoch validation."""
    max_length: int = 128
    """Tokens per training text after truncation."""
    max_steps: int = 0
    """Stop after this many optimizer steps (0: no limit)."""
    threads: int = 0
    """Torch CPU threads while fine-tuning in this process (0: torch's default; e.g. 1 on a
    shared machine). torchrun ranks use OMP_NUM_THREADS."""
    checkpoint_every: int = 0
    """Write a resumable checkpoint (model, optimizer, schedule, data position, RNG, best-so-far, history) to
    OUT/finetune/<task>/checkpoint/ every this many optimizer steps; a restarted run resumes from it (0: off)."""
    backend: str = "ddp"
    """'ddp' (one process, or DDP ranks under torchrun) or 'deepspeed' (ZeRO via accelerate, under torchrun:
    launch/finetune.sh); the global batch is batch_size x ranks x grad_accum either way."""
    deepspeed_config: str = ""
    """DeepSpeed JSON for backend 'deepspeed' (e.g. configs/deepspeed/zero3.json); its "auto" batch, accumulation,
    clipping and bf16 values are filled from these settings."""
    mixed_precision: str = "auto"
    """'auto' (bf16 on GPUs that support it, float32 on the CPU), 'bf16' or 'no'; weights stay float32."""

    def validate(self, key: str) -> None:
        for name in ("epochs", "batch_size", "grad_accum", "max_length"):
            positive(getattr(self, name), f"{key}.{name}")
        non_negative(self.checkpoint_every, f"{key}.checkpoint_every", "0 means off")
        choice(self.backend, ("ddp", "deepspeed"), f"{key}.backend")
        choice(self.mixed_precision, ("auto", "bf16", "no"), f"{key}.mixed_precision")
        if self.backend == "deepspeed":
            require(self.deepspeed_config, f"{key}.deepspeed_config",
                     "give a DeepSpeed JSON, e.g. configs/deepspeed/zero2.json")
            read_deepspeed_json(Path(self.deepspeed_config).expanduser(), f"{key}.deepspeed_config")
        positive(self.lr, f"{key}.lr")
        if not 0.0 < self.val_fraction < 1.0:
            raise ConfigError(f"{key}.val_fraction: must be between 0 and 1 (exclusive), got {self.val_fraction}")
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ConfigError(f"{key}.warmup_ratio: must be in [0, 1), got {self.warmup_ratio}")
        for name in ("weight_decay", "max_grad_norm", "min_delta", "max_steps", "patience", "threads"):
            non_negative(getattr(self, name), f"{key}.{name}")




@dataclass
class ExperimentConfig:
    name: str = "default"
    """Experiment name (used in reports)."""
    out_dir: str = "runs/default"
    """Output directory; every result, plot and report goes here."""
    seed: int = 0
    """Seed for data splits, pre-training, fine-tuning and anything random."""
    model: ModelConfig = field(default_factory=ModelConfig)
    """The base model."""
    embedded: EmbeddedConfig = field(default_factory=EmbeddedConfig)
    """The embedded default model (used when model.name_or_path is 'embedded')."""
    tasks: list[TaskConfig] = field(default_factory=lambda: [TaskConfig(name=t) for t in EMBEDDED_TASKS])
    """Tasks to fine-tune on and whose eval sets give task losses at every point."""
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    """Fine-tuning hyper-parameters (shared by all tasks)."""
    eval: EvalConfig = field(default_factory=EvalConfig)
    """Evaluation data and batching."""
    sweep: SweepConfig = field(default_factory=SweepConfig)
    """What to sweep."""
    slurm: SlurmConfig = field(default_factory=SlurmConfig)
    """Slurm settings for sweep.launcher = slurm (submitit array jobs)."""
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    """Experiment trackers that also receive the curves and figures (rank 0 only; a failing tracker warns once and never fails a run)."""

    def validate(self) -> "ExperimentConfig":
        require(self.out_dir, "out_dir", "give an output directory")
        path_name(self.name, "name")
        self.model.validate("model")
        self.embedded.validate("embedded")
        names = [t.name for t in self.tasks]
        for i, task in enumerate(self.tasks):
            task.validate(f"tasks.{i}")
        if len(set(names)) != len(names):
            raise ConfigError(f"tasks: task names must be unique, got {names}")
        self.finetune.validate("finetune")
        self.eval.validate("eval")
        self.sweep.validate("sweep")
        self.slurm.validate("slurm")
        self.tracking.validate("tracking")
        n, ranks = self.sweep.devices_per_worker, self.slurm.ranks_per_task
        if self.sweep.launcher == "slurm" and n > 1 and self.slurm.gpus_per_task < n * ranks:
            raise ConfigError(f"slurm.gpus_per_task: {self.slurm.gpus_per_task} GPU(s) for {ranks} rank(s) of "
                              f"sweep.devices_per_worker={n} each; ask for {n * ranks}")
        vectors = set(names) | set(self.sweep.task_vectors)
        for name in self.sweep.derived_directions:      # their ops and sources: vectors.ops.ops_registry.check_config
            if name in names:
                raise ConfigError(f"sweep.derived_directions.{name}: {name!r} is also a task name; choose another name")
        merged = merge_direction_names(self.sweep.merge_sweeps)
        for name, key in merged.items():
            if name in vectors or name in self.sweep.derived_directions:
                raise ConfigError(f"{key}: its direction {name!r} is also a task, task vector or derived direction; "
                                  "give the merge sweep another name")
        for i, m in enumerate(self.sweep.merge_sweeps):
            for source in m.of:
                if source not in vectors:
                    raise ConfigError(f"sweep.merge_sweeps.{i}.of: unknown task vector {source!r}; use a task name "
                                      f"({', '.join(names) or 'none configured'}) or a key of sweep.task_vectors")
        if len(merged) != sum(m.density.num for m in self.sweep.merge_sweeps):
            raise ConfigError("sweep.merge_sweeps: two merge sweeps have the same name; set `name` on one of them")
        known = vectors | set(self.sweep.derived_directions)
        wanted = [("sweep.directions", d) for d in self.sweep.directions]
        wanted += [(f"sweep.grids.{i}.directions", d) for i, g in enumerate(self.sweep.grids) for d in g.directions]
        for key, direction in wanted:
            if direction not in known:
                raise ConfigError(f"{key}: unknown direction {direction!r}; use a task name "
                                  f"({', '.join(names) or 'none configured'}) or add it to sweep.task_vectors")
        self._check_search(names)
        if not self.sweep.directions and not self.sweep.grids and not self.sweep.merge_sweeps:
            raise ConfigError("sweep: nothing to sweep; set sweep.directions, sweep.grids or sweep.merge_sweeps")
        return self

    def _check_search(self, tasks: list[str]) -> None:
        """The searched directions are swept (their line or grid is the comparison), and every
        task an objective term names is configured (an accuracy term: with multiple-choice items)."""
        search, swept = self.sweep.search, self.direction_names()
        for d in search.directions:
            if d not in swept:
                raise ConfigError(f"sweep.search.directions: {d!r} is not swept; add it to sweep.directions (its "
                                  "line is what the search is compared with) or to a grid")
        for term in search.objective:
            kind, _, task = term.partition(":")
            if task and task not in tasks:
                raise ConfigError(f"sweep.search.objective: {term!r} names no configured task "
                                  f"({', '.join(tasks) or 'none configured'})")
            if kind == "accuracy" and not self.task(task).multiple_choice:
                raise ConfigError(f"sweep.search.objective: {term!r} needs multiple-choice items; set "
                                  f"tasks.{tasks.index(task)}.multiple_choice or use task:{task} (its loss)")

    def direction_names(self) -> list[str]:
        """All directions any sweep uses, in first-use order."""
        names = list(self.sweep.directions)
        for grid in self.sweep.grids:
            names += [d for d in grid.directions if d not in names]
        names += [d for d in merge_direction_names(self.sweep.merge_sweeps) if d not in names]
        return names

    def task(self, name: str) -> TaskConfig | None:
        return next((t for t in self.tasks if t.name == name), None)
