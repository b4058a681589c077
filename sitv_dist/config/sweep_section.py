"""The sweep and Slurm sections of the configuration: ranges, grids, derived directions, the
sweep itself (directions, squaring, shards, precision, refinement, launcher) and Slurm."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .checks import DTYPES, EMBEDDED_TASKS, ConfigError, choice, non_negative, path_name, positive
from .merge_sweep import MergeSweepConfig
from .range import RangeConfig
from .search import SearchConfig


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
        if self.name:
            path_name(self.name, f"{key}.name")
        self.range.validate(f"{key}.range")
        self.range.require_zero(f"{key}.range")


@dataclass
class SweepConfig:
    directions: list[str] = field(default_factory=lambda: list(EMBEDDED_TASKS))
    """Line sweeps: one along each of these directions (task names or keys of `task_vectors`)."""
    alpha: RangeConfig = field(default_factory=lambda: RangeConfig(-0.5, 1.5, 9))
    """The α grid of every line sweep (the default's step 0.25 puts 2α and 4 of the 9 α + α² on
    planned points; refinement then resolves the minimum and the crossing)."""
    squaring: bool = True
    """Also evaluate L(2α) for every α (points on the same line, deduplicated)."""
    compositional: bool = True
    """Also evaluate L(α + α²), i.e. base + αT + α²T (points on the same line)."""
    derived_sets: str = "general"
    """Eval sets at points used only by the squaring/compositional curves: 'general' or 'all'."""
    grids: list[GridConfig] = field(default_factory=lambda: [
        GridConfig(directions=["sentiment_positive", "sentiment_negative"], range=RangeConfig(-0.5, 1.5, 9))])
    """Grid sweeps over two or more directions."""
    merge_sweeps: list[MergeSweepConfig] = field(default_factory=list)
    """Sweeps with a density axis, e.g. [{op: ties, of: [sentiment_positive, sentiment_negative], density:
    {start: 0.1, stop: 1.0, num: 10}, alpha: {start: 0, stop: 1.5, num: 16}}]: for every density the merged
    direction (written as OUT/task_vectors/<name>_d<density>.safetensors) is swept along alpha, giving
    L(alpha, density). Each density's direction stays resident in a worker like any task vector."""
    task_vectors: dict[str, str] = field(default_factory=dict)
    """Direction name -> task-vector safetensors file, or a PEFT LoRA adapter directory
    (adapter_config.json + adapter_model.safetensors: T = scaling·B·A, never densified). Directions
    not listed here are the task vectors that `sitv run` fine-tunes (OUT/task_vectors/<task>.safetensors)."""
    derived_directions: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Directions made from task vectors before the sweep, by name, e.g. {neg_qa: {negate: qa_factual},
    rand_qa: {random: qa_factual, normalize: filter, seed: 1}, pos_minus_neg: {difference:
    [sentiment_positive, sentiment_negative]}}. Each is written to OUT/task_vectors/<name>.safetensors
    (its metadata says how it was made) and can be used in sweep.directions and grids like any task vector.
    Each entry has one op key and that op's keys: the direction-op reference below lists them."""
    search: SearchConfig = field(default_factory=SearchConfig)
    """A coefficient search over the point store (`sitv search`, and part of `sitv run` when its
    directions are set): batches of CMA-ES proposals, each a planned point the workers evaluate."""
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
    derivatives: bool = True
    """`sitv run` computes the exact slope and curvature at α = 0 after the sweep (`sitv derivatives`);
    false skips that phase (the report then has no slope-and-curvature section)."""
    refine_sets: str = "general"
    """Eval sets at refinement points: 'general' (the line's findings are of the general loss; the task
    curves stay on the α grid) or 'all' (also each task set, with a task loss's minimum refined too)."""
    refine_tol: float = 1e-3
    """Refinement stops when a bracket is narrower than this (in units of the coefficient)."""
    launcher: str = "local"
    """Who runs the shards: 'local' (this process, or `workers` processes) or 'slurm' (a
    submitit array job). Under torchrun every rank is a worker, whatever this says."""
    workers: int = 1
    """Local launcher: worker processes, each with its own model copy."""
    threads_per_worker: int = 0
    """Torch CPU threads per worker process (0: torch's default; torchrun sets 1)."""
    max_points: int = 5000
    """Refuse a plan of more unique points than this unless confirmed (`--confirm-large`): a typo in
    a `num` must not start a day-long sweep (or exhaust memory while planning a grid)."""
    devices_per_worker: int = 1
    """Devices one worker's model is placed over (accelerate's device map under per-device memory
    limits); the base copy and vectors of each parameter live on its device. Worker k takes GPUs
    k·N … k·N+N−1: start GPUs/N workers (torchrun --nproc_per_node=GPUs/N, slurm.gpus_per_task=N·ranks)."""
    resident: str = "device"
    """Where the base copy and dense task vectors live: 'device' (beside each parameter) or 'host'
    (CPU memory; each tensor is streamed to its parameter's device for its add: the same bits, for
    models whose copies do not fit on the device)."""
    device_memory_gib: float = 0.0
    """Memory of one device for the check `sitv sweep` runs before loading (see `sitv plan`); 0: the
    GPU's own total, or the machine's memory on the CPU."""

    def validate(self, key: str) -> None:
        self.alpha.validate(f"{key}.alpha")
        self.alpha.require_zero(f"{key}.alpha")
        choice(self.launcher, ("local", "slurm"), f"{key}.launcher")
        positive(self.workers, f"{key}.workers")
        positive(self.refine_tol, f"{key}.refine_tol")
        non_negative(self.refine_rounds, f"{key}.refine_rounds")
        non_negative(self.threads_per_worker, f"{key}.threads_per_worker", "0 means torch's default")
        positive(self.max_points, f"{key}.max_points")
        choice(self.derived_sets, ("general", "all"), f"{key}.derived_sets")
        choice(self.refine_sets, ("general", "all"), f"{key}.refine_sets")
        positive(self.devices_per_worker, f"{key}.devices_per_worker")
        choice(self.resident, ("device", "host"), f"{key}.resident")
        non_negative(self.device_memory_gib, f"{key}.device_memory_gib", "0: the device's own")
        choice(self.apply_dtype, DTYPES, f"{key}.apply_dtype")
        choice(self.vector_dtype, DTYPES, f"{key}.vector_dtype")
        positive(self.num_shards, f"{key}.num_shards")
        if len(set(self.directions)) != len(self.directions):
            raise ConfigError(f"{key}.directions: repeated direction in {self.directions}")
        for i, grid in enumerate(self.grids):
            grid.validate(f"{key}.grids.{i}")
        for name, path in self.task_vectors.items():
            path_name(name, f"{key}.task_vectors.{name}")
            p = Path(path).expanduser()
            if not (p.is_file() or (p / "adapter_config.json").is_file()):
                raise ConfigError(f"{key}.task_vectors.{name}: {path!r} is neither a task-vector file nor a "
                                  "PEFT adapter directory (with adapter_config.json)")
        for i, merge in enumerate(self.merge_sweeps):
            merge.validate(f"{key}.merge_sweeps.{i}")
        self.search.validate(f"{key}.search")
        for name, derived in self.derived_directions.items():
            path_name(name, f"{key}.derived_directions.{name}")
            if not isinstance(derived, dict):
                raise ConfigError(f"{key}.derived_directions.{name}: a derived direction is a mapping such as "
                                  f"{{negate: NAME}}, got {derived!r}")
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
            positive(getattr(self, name), f"{key}.{name}")
        for name in ("tasks", "array_parallelism", "gpus_per_task", "mem_gb", "max_requeues"):
            non_negative(getattr(self, name), f"{key}.{name}")
