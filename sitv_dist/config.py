"""Experiment configuration: dataclasses, one YAML format, `--set` overrides, early validation.

Every field has a docstring (the string literal under it); `sitv config-reference` prints
them. Validation happens here, before any model is loaded, so a typo costs a second, not a
fine-tune.
"""
from __future__ import annotations

import dataclasses
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

KNOWN_TASKS = ("sentiment_positive", "sentiment_negative", "qa_factual", "instruction_following")
DTYPES = ("float32", "bfloat16", "float16")


class ConfigError(ValueError):
    """A config problem, phrased as 'key: what is wrong; how to fix it'."""


@dataclass
class ModelConfig:
    name_or_path: str = "embedded"
    """'embedded' (the project's tiny Llama, built and cached on first use), a hub id, or a local directory."""
    gguf_file: str = ""
    """GGUF file inside `name_or_path` to load (needs the `gguf` package); empty for safetensors/bin checkpoints."""
    dtype: str = "float32"
    """Parameter dtype while evaluating: float32, bfloat16 or float16."""
    device: str = "auto"
    """'auto' (cuda:LOCAL_RANK when a GPU is visible, else cpu), 'cpu', or 'cuda:N'."""

    def validate(self, key: str) -> None:
        _require(self.name_or_path, f"{key}.name_or_path", "give 'embedded', a hub id or a local directory")
        _choice(self.dtype, DTYPES, f"{key}.dtype")
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
            _positive(getattr(self, name), f"{key}.{name}")
        if self.hidden_size % self.num_heads:
            raise ConfigError(f"{key}.hidden_size: {self.hidden_size} is not divisible by num_heads={self.num_heads}")
        _positive(self.pretrain_lr, f"{key}.pretrain_lr")


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

    def validate(self, key: str) -> None:
        _require(self.name, f"{key}.name", "name the task")
        for split in ("train", "eval"):
            source = getattr(self, split)
            if split == "train" and not source:
                continue
            if source == "embedded" and self.name not in KNOWN_TASKS:
                raise ConfigError(f"{key}.{split}: task {self.name!r} has no embedded data "
                                  f"(built-in tasks: {', '.join(KNOWN_TASKS)}); give a file path")
            _check_source(source, f"{key}.{split}")


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
    """Use only the first N texts of each eval set (0: all)."""

    def validate(self, key: str) -> None:
        _check_source(self.general, f"{key}.general")
        _positive(self.max_length, f"{key}.max_length")
        _positive(self.batch_size, f"{key}.batch_size")
        if self.max_texts < 0:
            raise ConfigError(f"{key}.max_texts: must be >= 0 (0 means all), got {self.max_texts}")


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
            _positive(getattr(self, name), f"{key}.{name}")
        if self.checkpoint_every < 0:
            raise ConfigError(f"{key}.checkpoint_every: must be >= 0 (0 means off), got {self.checkpoint_every}")
        _choice(self.backend, ("ddp", "deepspeed"), f"{key}.backend")
        _choice(self.mixed_precision, ("auto", "bf16", "no"), f"{key}.mixed_precision")
        if self.backend == "deepspeed":
            _require(self.deepspeed_config, f"{key}.deepspeed_config",
                     "give a DeepSpeed JSON, e.g. configs/deepspeed/zero2.json")
            from .finetune_backends import read_deepspeed_json
            read_deepspeed_json(Path(self.deepspeed_config).expanduser(), f"{key}.deepspeed_config")
        _positive(self.lr, f"{key}.lr")
        if not 0.0 < self.val_fraction < 1.0:
            raise ConfigError(f"{key}.val_fraction: must be between 0 and 1 (exclusive), got {self.val_fraction}")
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ConfigError(f"{key}.warmup_ratio: must be in [0, 1), got {self.warmup_ratio}")
        for name in ("weight_decay", "max_grad_norm", "min_delta", "max_steps", "patience", "threads"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{key}.{name}: must be >= 0, got {getattr(self, name)}")


@dataclass
class RangeConfig:
    start: float = -0.5
    """First coefficient."""
    stop: float = 1.5
    """Last coefficient (included)."""
    num: int = 21
    """Number of evenly spaced coefficients. Choose it so that 0 is on the grid (step = (stop-start)/(num-1))."""

    def validate(self, key: str) -> None:
        if self.num < 2:
            raise ConfigError(f"{key}.num: a range needs at least 2 points, got {self.num}")
        if not all(abs(x) <= 1e30 for x in (self.start, self.stop)):
            raise ConfigError(f"{key}: coefficients must be finite numbers within ±1e30, got {self.start}..{self.stop}")
        if not self.start < self.stop:
            raise ConfigError(f"{key}: empty or inverted range start={self.start} stop={self.stop}; "
                              "start must be below stop")


@dataclass
class GridConfig:
    directions: list[str] = field(default_factory=list)
    """Two or more direction names (task names or keys of sweep.task_vectors)."""
    range: RangeConfig = field(default_factory=lambda: RangeConfig(-1.0, 1.5, 11))
    """The coefficient range used on every axis."""
    name: str = ""
    """Sweep name in the outputs (default: grid_<dir1>__<dir2>)."""

    def validate(self, key: str) -> None:
        if len(self.directions) < 2:
            raise ConfigError(f"{key}.directions: a grid needs at least two directions, got {self.directions}")
        if len(set(self.directions)) != len(self.directions):
            raise ConfigError(f"{key}.directions: repeated direction in {self.directions}")
        self.range.validate(f"{key}.range")


@dataclass
class DerivedDirectionConfig:
    negate: str = ""
    """−T of this task vector (a task name or a key of sweep.task_vectors)."""
    sum: list[str] = field(default_factory=list)
    """T1 + T2 + … of these task vectors."""
    difference: list[str] = field(default_factory=list)
    """T1 − T2 of these two task vectors."""
    random: str = ""
    """A seeded Gaussian direction with the norms of this task vector (see `normalize`): a control."""
    normalize: str = "global"
    """Random directions: 'global' (exactly ‖T‖), 'layer' (each tensor's norm) or 'filter' (each output
    row's norm, as in Li et al. 2018)."""
    one_d: str = ""
    """Random 'layer'/'filter' directions: 1-D tensors (norms, biases) 'zero' or 'tensor' (scaled to T's
    tensor norm); empty: 'zero' for 'filter' (Li et al.), 'tensor' for 'layer'."""
    seed: int = 0
    """Random directions: the seed."""

    def spec(self) -> dict:
        """The compact spec of sitv_dist.directions.make_direction (only what is set)."""
        out: dict[str, Any] = {}
        for name in ("negate", "sum", "difference"):
            if getattr(self, name):
                out[name] = getattr(self, name)
        if self.random:
            out.update(random=self.random, normalize=self.normalize, seed=self.seed)
            if self.one_d:
                out["one_d"] = self.one_d
        return out

    def validate(self, key: str) -> None:
        from .directions import validate_spec
        if not self.random and (self.normalize != "global" or self.one_d or self.seed):
            raise ConfigError(f"{key}: normalize, one_d and seed apply to random directions only")
        validate_spec(self.spec(), key)


@dataclass
class SweepConfig:
    directions: list[str] = field(default_factory=lambda: list(KNOWN_TASKS))
    """Line sweeps: one along each of these directions (task names or keys of `task_vectors`)."""
    alpha: RangeConfig = field(default_factory=RangeConfig)
    """The α grid of every line sweep."""
    squaring: bool = True
    """Also evaluate L(2α) for every α (points on the same line, deduplicated)."""
    compositional: bool = True
    """Also evaluate L(α + α²), i.e. base + αT + α²T (points on the same line)."""
    derived_sets: str = "general"
    """Eval sets at points used only by the squaring/compositional curves: 'general' or 'all'."""
    grids: list[GridConfig] = field(default_factory=lambda: [
        GridConfig(directions=["sentiment_positive", "sentiment_negative"])])
    """Grid sweeps over two or more directions."""
    task_vectors: dict[str, str] = field(default_factory=dict)
    """Direction name -> task-vector safetensors file. Directions not listed here are the
    task vectors that `sitv run` fine-tunes (OUT/task_vectors/<task>.safetensors)."""
    derived_directions: dict[str, DerivedDirectionConfig] = field(default_factory=dict)
    """Directions made from task vectors before the sweep, by name, e.g. {neg_qa: {negate: qa_factual},
    rand_qa: {random: qa_factual, normalize: filter, seed: 1}, pos_minus_neg: {difference:
    [sentiment_positive, sentiment_negative]}}. Each is written to OUT/task_vectors/<name>.safetensors
    (its metadata says how it was made) and can be used in sweep.directions and grids like any task vector."""
    num_shards: int = 1
    """Shards the planned points are split into (one per worker)."""
    apply_dtype: str = "float32"
    """Precision in which base + Σ cᵢTᵢ is formed (then rounded once into the model's dtype)."""
    vector_dtype: str = "float32"
    """Storage precision of the resident task vectors: bfloat16 or float16 halve their memory
    (upcast exactly while adding) but round T itself; see docs/performance.md for the cost."""
    refine_rounds: int = 3
    """Refinement rounds after the sweep: points added inside each sign-change bracket of
    L(c) − L(0) and around each interior minimum (general and task loss) of every line."""
    refine_tol: float = 1e-3
    """Refinement stops when a bracket is narrower than this (in units of the coefficient)."""
    launcher: str = "local"
    """Who runs the shards: 'local' (this process, or `workers` processes) or 'slurm' (a
    submitit array job). Under torchrun every rank is a worker, whatever this says."""
    workers: int = 1
    """Local launcher: worker processes, each with its own model copy."""
    threads_per_worker: int = 0
    """Torch CPU threads per worker process (0: torch's default; torchrun sets 1)."""

    def validate(self, key: str) -> None:
        self.alpha.validate(f"{key}.alpha")
        _choice(self.launcher, ("local", "slurm"), f"{key}.launcher")
        _positive(self.workers, f"{key}.workers")
        _positive(self.refine_tol, f"{key}.refine_tol")
        if self.refine_rounds < 0:
            raise ConfigError(f"{key}.refine_rounds: must be >= 0, got {self.refine_rounds}")
        if self.threads_per_worker < 0:
            raise ConfigError(f"{key}.threads_per_worker: must be >= 0, got {self.threads_per_worker}")
        _choice(self.derived_sets, ("general", "all"), f"{key}.derived_sets")
        _choice(self.apply_dtype, DTYPES, f"{key}.apply_dtype")
        _choice(self.vector_dtype, DTYPES, f"{key}.vector_dtype")
        _positive(self.num_shards, f"{key}.num_shards")
        if len(set(self.directions)) != len(self.directions):
            raise ConfigError(f"{key}.directions: repeated direction in {self.directions}")
        for i, grid in enumerate(self.grids):
            grid.validate(f"{key}.grids.{i}")
        for name, path in self.task_vectors.items():
            if not Path(path).expanduser().is_file():
                raise ConfigError(f"{key}.task_vectors.{name}: file {path!r} does not exist")
        for name, derived in self.derived_directions.items():
            derived.validate(f"{key}.derived_directions.{name}")
            if name in self.task_vectors:
                raise ConfigError(f"{key}.derived_directions.{name}: {name!r} is also a key of {key}.task_vectors; "
                                  "choose another name")


@dataclass
class SlurmConfig:
    partition: str = ""
    """Partition (empty: the cluster's default)."""
    account: str = ""
    """Account to charge (empty: none)."""
    qos: str = ""
    """Quality of service (empty: none)."""
    time_min: int = 60
    """Time limit of one array task in minutes; before it runs out the task is checkpointed and requeued."""
    tasks: int = 0
    """Array tasks (0: one per shard). Each takes many points, so start-up (~5 s) is amortised."""
    array_parallelism: int = 0
    """At most this many array tasks run at once (the %K of --array; 0: no limit)."""
    cpus_per_task: int = 1
    """CPUs per rank; also the torch thread count of the worker."""
    gpus_per_task: int = 0
    """GPUs per array task."""
    ranks_per_task: int = 1
    """Worker processes per array task (one per GPU when gpus_per_task > 1)."""
    mem_gb: float = 0.0
    """Memory per array task in GB (0: do not ask)."""
    max_requeues: int = 3
    """How often a preempted or timed-out task is requeued before it gives up."""
    extra_sbatch: dict[str, str] = field(default_factory=dict)
    """More sbatch options, e.g. {constraint: a100, exclusive: ""}."""
    setup: list[str] = field(default_factory=list)
    """Shell lines run before each task, e.g. 'module load cuda' or 'source venv/bin/activate'."""
    poll_s: float = 5.0
    """Seconds between status polls while waiting (--wait)."""

    def validate(self, key: str) -> None:
        for name in ("time_min", "cpus_per_task", "ranks_per_task", "poll_s"):
            _positive(getattr(self, name), f"{key}.{name}")
        for name in ("tasks", "array_parallelism", "gpus_per_task", "mem_gb", "max_requeues"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{key}.{name}: must be >= 0, got {getattr(self, name)}")


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
    tasks: list[TaskConfig] = field(default_factory=lambda: [TaskConfig(name=t) for t in KNOWN_TASKS])
    """Tasks to fine-tune on and whose eval sets give task losses at every point."""
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    """Fine-tuning hyper-parameters (shared by all tasks)."""
    eval: EvalConfig = field(default_factory=EvalConfig)
    """Evaluation data and batching."""
    sweep: SweepConfig = field(default_factory=SweepConfig)
    """What to sweep."""
    slurm: SlurmConfig = field(default_factory=SlurmConfig)
    """Slurm settings for sweep.launcher = slurm (submitit array jobs)."""

    def validate(self) -> "ExperimentConfig":
        _require(self.out_dir, "out_dir", "give an output directory")
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
        from .directions import sources
        vectors = set(names) | set(self.sweep.task_vectors)
        for name, derived in self.sweep.derived_directions.items():
            key = f"sweep.derived_directions.{name}"
            if name in names:
                raise ConfigError(f"{key}: {name!r} is also a task name; choose another name")
            for source in sources(derived.spec(), key):
                if source not in vectors:
                    raise ConfigError(f"{key}: unknown task vector {source!r}; use a task name "
                                      f"({', '.join(names) or 'none configured'}) or a key of sweep.task_vectors")
        known = vectors | set(self.sweep.derived_directions)
        wanted = [("sweep.directions", d) for d in self.sweep.directions]
        wanted += [(f"sweep.grids.{i}.directions", d) for i, g in enumerate(self.sweep.grids) for d in g.directions]
        for key, direction in wanted:
            if direction not in known:
                raise ConfigError(f"{key}: unknown direction {direction!r}; use a task name "
                                  f"({', '.join(names) or 'none configured'}) or add it to sweep.task_vectors")
        if not self.sweep.directions and not self.sweep.grids:
            raise ConfigError("sweep: nothing to sweep; set sweep.directions or sweep.grids")
        return self

    def direction_names(self) -> list[str]:
        """All directions any sweep uses, in first-use order."""
        names = list(self.sweep.directions)
        for grid in self.sweep.grids:
            names += [d for d in grid.directions if d not in names]
        return names

    def task(self, name: str) -> TaskConfig | None:
        return next((t for t in self.tasks if t.name == name), None)


# ---------------------------------------------------------------- loading and overrides

def load_config(path: str | os.PathLike | None = None, overrides: list[str] = ()) -> ExperimentConfig:
    """Defaults <- YAML file <- `key.path=value` overrides, then validated."""
    data: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file {str(p)!r} does not exist")
        try:
            data = yaml.safe_load(p.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {p}: not valid YAML: {exc}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"config file {p}: the top level must be a mapping of keys")
    for item in overrides:
        _apply_override(data, item)
    return from_dict(ExperimentConfig, data, "").validate()


def _apply_override(data: dict, item: str) -> None:
    key, sep, raw = item.partition("=")
    if not sep or not key:
        raise ConfigError(f"--set {item!r}: expected KEY.PATH=VALUE, e.g. sweep.alpha.num=50")
    value = yaml.safe_load(raw) if raw.strip() else ""
    parts = key.split(".")
    node: Any = data
    for i, part in enumerate(parts[:-1]):
        if isinstance(node, list):
            node = node[_list_index(node, part, ".".join(parts[:i + 1]))]
            continue
        if part not in node:
            node[part] = _default_subtree(parts[:i + 1])
        node = node[part]
    last = parts[-1]
    if isinstance(node, list):
        node[_list_index(node, last, key)] = value
    else:
        node[last] = value


def _default_subtree(parts: list[str]) -> Any:
    """The default value at a dotted path, as plain data, so overrides can index into lists."""
    node: Any = to_dict(ExperimentConfig())
    for part in parts:
        if isinstance(node, list):
            node = node[_list_index(node, part, ".".join(parts))]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return {}
    return node


def _list_index(node: list, part: str, key: str) -> int:
    if not part.isdigit() or int(part) >= len(node):
        raise ConfigError(f"--set {key}: {part!r} is not an index of a list of {len(node)} items")
    return int(part)


def from_dict(cls: type, data: Any, key: str) -> Any:
    """Build dataclass `cls` from plain data, naming the key of any unknown field or wrong type."""
    if not isinstance(data, dict):
        raise ConfigError(f"{key or 'config'}: expected a mapping, got {type(data).__name__} {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - fields)
    if unknown:
        prefix = f"{key}." if key else ""
        raise ConfigError(f"{prefix}{unknown[0]}: unknown key; valid keys here: {', '.join(sorted(fields))}")
    kwargs = {name: _convert(hints[name], value, f"{key}.{name}" if key else name) for name, value in data.items()}
    return cls(**kwargs)


def _convert(tp: Any, value: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, key)
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        (item,) = typing.get_args(tp)
        return [_convert(item, v, f"{key}.{i}") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        _, vt = typing.get_args(tp)
        return {str(k): _convert(vt, v, f"{key}.{k}") for k, v in value.items()}
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return None if value is None else _convert(args[0], value, key)
    if tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if tp is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if tp in (str, bool) and isinstance(value, tp):
        return value
    if tp is str and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise ConfigError(f"{key}: expected {tp.__name__}, got {type(value).__name__} {value!r}")


def to_dict(cfg: Any) -> Any:
    return dataclasses.asdict(cfg)


def save_config(cfg: ExperimentConfig, path: Path) -> None:
    from .io import atomic_write_text
    atomic_write_text(path, yaml.safe_dump(to_dict(cfg), sort_keys=False))


def reference() -> str:
    """Markdown reference of every key with its default and docstring (for the README)."""
    lines: list[str] = []
    _reference(ExperimentConfig, "", lines)
    return "\n".join(lines)


def _reference(cls: type, prefix: str, lines: list[str]) -> None:
    docs = _field_docs(cls)
    hints = typing.get_type_hints(cls)
    defaults = cls() if cls is not GridConfig else GridConfig(directions=["a", "b"])
    for f in dataclasses.fields(cls):
        key = f"{prefix}{f.name}"
        value = getattr(defaults, f.name)
        is_dict = typing.get_origin(hints[f.name]) is dict
        item = typing.get_args(hints[f.name])[-1] if is_dict else None     # dict[str, SomeConfig]: document SomeConfig
        if dataclasses.is_dataclass(item):
            lines.append(f"- `{key}` (default `{value!r}`): {docs.get(f.name, '')} Each entry:")
            _reference(item, key + ".NAME.", lines)
        elif dataclasses.is_dataclass(value):
            lines.append(f"- `{key}`: {docs.get(f.name, '')}")
            _reference(type(value), key + ".", lines)
        elif isinstance(value, list) and value and dataclasses.is_dataclass(value[0]):
            lines.append(f"- `{key}`: {docs.get(f.name, '')} Each item:")
            _reference(type(value[0]), key + ".N.", lines)
        else:
            lines.append(f"- `{key}` (default `{value!r}`): {docs.get(f.name, '')}")


def _field_docs(cls: type) -> dict[str, str]:
    """Field docstrings: the string literal right after each field in the class body."""
    import ast
    import inspect
    tree = ast.parse(inspect.getsource(cls))
    body = tree.body[0].body
    docs = {}
    for node, nxt in zip(body, body[1:]):
        if isinstance(node, ast.AnnAssign) and isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant):
            docs[node.target.id] = " ".join(str(nxt.value.value).split())
    return docs


# ---------------------------------------------------------------- small validators

def _require(value: str, key: str, fix: str) -> None:
    if not value:
        raise ConfigError(f"{key}: must not be empty; {fix}")


def _positive(value: float, key: str) -> None:
    if not value > 0:
        raise ConfigError(f"{key}: must be > 0, got {value}")


def _choice(value: str, options: tuple[str, ...], key: str) -> None:
    if value not in options:
        raise ConfigError(f"{key}: {value!r} is not one of {', '.join(options)}")


def _check_source(source: str, key: str) -> None:
    """Local files must exist now; hub datasets are checked when loaded."""
    if source == "embedded" or source.startswith("hf:"):
        if source.startswith("hf:") and len(source.split(":")) < 3:
            raise ConfigError(f"{key}: {source!r}: write hub data as hf:DATASET[:CONFIG]:SPLIT")
        return
    path = Path(source).expanduser()
    if path.suffix not in (".jsonl", ".json", ".txt"):
        raise ConfigError(f"{key}: {source!r}: use a .jsonl, .json or .txt file, 'embedded', or hf:DATASET:SPLIT")
    if not path.is_file():
        raise ConfigError(f"{key}: file {source!r} does not exist")
