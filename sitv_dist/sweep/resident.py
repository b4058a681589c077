"""What a worker keeps resident for a whole shard, built in one place: the model (placed on its
device or devices), its tokenizer, every eval set tokenized once, and — for a sweep — the base
copy and task vectors inside a `PointWriter`. The sweep worker and the derivatives stage both
start from here, so they tokenize and batch the same texts the same way."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ..config import ExperimentConfig
from ..models.loading import DTYPE, load_model, load_tokenizer, resolve_device
from ..models.location import require_base
from ..models.placement import load_placed, worker_devices
from ..texts import eval_texts
from ..vectors import directions
from .apply import PointWriter
from .evaluation import EvalSet, build_eval_set
from .search import space


def build_eval_sets(cfg: ExperimentConfig, names, tokenizer, device: torch.device,
                    rows: int | None = None) -> dict[str, EvalSet]:
    """The named eval sets, tokenized and batched (ids checked against `rows` embeddings)."""
    texts = eval_texts(cfg)
    return {name: build_eval_set(name, texts[name], tokenizer, cfg.eval.max_length, cfg.eval.batch_size, device,
                                 rows) for name in names}


def eval_sets_info(sets: dict[str, EvalSet]) -> dict:
    """OUT/eval_sets.json: per-text tokens and categories (what reduce and the bootstrap read)."""
    return {name: {"texts": len(s.categories), "tokens": s.tokens.tolist(), "categories": s.categories}
            for name, s in sets.items()}


@dataclass
class Resident:
    model: torch.nn.Module
    tokenizer: object
    device: torch.device                 # where the batches go (the input embedding's device)
    sets: dict[str, EvalSet]
    writer: PointWriter | None = None    # None: the model is evaluated as loaded (derivatives)
    vectors: dict = field(default_factory=dict)

    @property
    def vocab(self) -> int:
        """Output vocabulary (the uniform-prediction check compares a loss with its log)."""
        head = self.model.get_output_embeddings()
        return head.out_features if head is not None else self.model.get_input_embeddings().num_embeddings


def load_resident(cfg: ExperimentConfig, eval_sets, device: torch.device | None = None,
                  vectors=None, dtype: str | None = None, parts: list[str] = ()) -> Resident:
    """Load the base and tokenize `eval_sets`. With `vectors` (direction name → task-vector file),
    the base copy and those vectors go resident in a PointWriter (the sweep), with `parts` (the
    search's `T@layer0`, … of those vectors) as views of them; `dtype` overrides model.dtype on
    one device (the derivatives take the float32 network)."""
    location = require_base(cfg)
    device = device or resolve_device(cfg.model.device)
    if dtype is not None:
        model = load_model(location, cfg.model, device, dtype=dtype)
    else:
        devices = worker_devices(device, cfg.sweep.devices_per_worker)
        if devices[0].type == "cuda":
            torch.cuda.set_device(devices[0])        # a torchrun rank's current GPU: its own first one
        model = load_placed(location, cfg.model, devices)
    device = model.get_input_embeddings().weight.device
    tokenizer = load_tokenizer(location)
    sets = build_eval_sets(cfg, eval_sets, tokenizer, device, model.get_input_embeddings().num_embeddings)
    resident = Resident(model, tokenizer, device, sets)
    if vectors is not None:
        home = torch.device("cpu") if cfg.sweep.resident == "host" else None      # None: each parameter's device
        resident.vectors = {d: directions.load(path, model, f"sweep.task_vectors.{d}", home,
                                               DTYPE[cfg.sweep.vector_dtype]) for d, path in vectors.items()}
        resident.vectors.update(space.part_views(resident.vectors, list(parts), cfg.sweep.search.split))
        resident.writer = PointWriter(model, resident.vectors, DTYPE[cfg.sweep.apply_dtype], cfg.sweep.resident)
    return resident
