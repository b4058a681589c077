"""Write `base + Σ cᵢTᵢ` into the model's parameters in place.

Every point is computed from resident copies of the base and the task vectors, never by
stepping from the previous point (no drift, order-independent bits) and never by
reloading the model. When the model is in lower precision than `apply_dtype`, the sum is
formed in a scratch buffer at `apply_dtype` and rounded once into the parameter.

The base copy is kept in the model's own dtype (it holds the model's values, so nothing is
lost) and task vectors in whatever dtype they were loaded in; both are upcast exactly inside
the add, which gives the same bits as upcasting them first and costs no extra memory.

A direction is either dense (parameter name -> tensor) or a LoRA adapter
(`vectors.lora.LoraDirection`, whose update scale·B·A is added with one `addmm` and never
stored densely). Only parameters some direction moves are copied and rewritten; the others
keep the model's values. Dense terms are added first, LoRA terms after, each in the order of
the coefficients. With `resident="host"` the base and the dense vectors stay in host memory
and each tensor is streamed to its parameter's device just before its add (the same adds on
the same values: the same bits). Each copy lives on its parameter's own device, so a model
placed over several devices works unchanged.
"""
from __future__ import annotations

import torch

from ..models.loading import parameters
from ..vectors.lora import LoraDirection

SCRATCH_ELEMENTS = 1 << 25      # a low-precision parameter is formed in row blocks of at most this many


def block_rows(shape: torch.Size) -> int:
    """Rows of a parameter formed at once in the `apply_dtype` scratch (a Gemma-3 embedding is
    1e9 elements: 4 GB of fp32 scratch in one piece, 128 MiB in blocks; elementwise adds give
    the same bits either way)."""
    row = max(1, shape[1:].numel()) if len(shape) > 1 else 1
    return max(1, SCRATCH_ELEMENTS // row) if len(shape) > 1 else max(1, shape[0] if shape else 1)


def scratch_elements(shape: torch.Size) -> int:
    return min(shape.numel(), block_rows(shape) * (shape[1:].numel() if len(shape) > 1 else 1))


class PointWriter:
    def __init__(self, model: torch.nn.Module, vectors: dict[str, dict[str, torch.Tensor] | LoraDirection],
                 apply_dtype: torch.dtype = torch.float32, resident: str = "device"):
        if resident not in ("device", "host"):
            raise ValueError(f"resident must be 'device' or 'host', got {resident!r}")
        self.vectors = vectors
        self.dtype = apply_dtype
        self.host = resident == "host"
        touched = set()
        for vector in vectors.values():
            touched.update(vector.names() if isinstance(vector, LoraDirection) else vector)
        self.params = {n: p for n, p in parameters(model).items() if n in touched}
        pin = self.host and torch.cuda.is_available()
        self.base = {n: self._resident(p.detach(), pin) for n, p in self.params.items()}
        self.scratch: dict[torch.device, torch.Tensor] = {}
        for p in self.params.values():
            size = scratch_elements(p.shape)
            if p.dtype != apply_dtype and self.scratch.get(p.device, torch.empty(0)).numel() < size:
                self.scratch[p.device] = torch.empty(size, dtype=apply_dtype, device=p.device)

    def _resident(self, tensor: torch.Tensor, pin: bool) -> torch.Tensor:
        if not self.host:
            return tensor.clone()
        copy = torch.empty(tensor.shape, dtype=tensor.dtype, device="cpu", pin_memory=pin)
        return copy.copy_(tensor)

    @staticmethod
    def _fetch(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
        return tensor if tensor.device == device else tensor.to(device, non_blocking=True)

    @torch.no_grad()
    def apply(self, coefficients: dict[str, float]) -> None:
        """Set every moved parameter to base + Σ c·T (zero coefficients skipped; order as given)."""
        missing = [d for d, c in coefficients.items() if c != 0.0 and d not in self.vectors]
        if missing:
            raise KeyError(f"task vector(s) {missing} were not loaded by this worker")
        active = [(self.vectors[d], c) for d, c in coefficients.items() if c != 0.0]
        dense = [(v, c) for v, c in active if not isinstance(v, LoraDirection)]
        low_rank = [(v, c) for v, c in active if isinstance(v, LoraDirection)]
        for name, p in self.params.items():
            terms = [(v[name], c) for v, c in dense if name in v]
            factors = [(d.factors[name], c) for d, c in low_rank if name in d.factors]
            if p.dtype == self.dtype:
                self._write(p.data, self.base[name], terms, factors, None)
                continue
            step = block_rows(p.shape)
            for start in range(0, p.shape[0] if p.dim() else 1, step):
                rows = slice(start, start + step) if p.dim() else None
                view = p.data[rows] if rows else p.data
                target = self.scratch[p.device][:view.numel()].view(view.shape)
                self._write(target, self.base[name], terms, factors, rows)
                view.copy_(target)

    def _write(self, target: torch.Tensor, base: torch.Tensor, terms: list, factors: list, rows: slice | None) -> None:
        """target = base + Σ c·T (+ Σ c·scale·B·A) over `rows` of the parameter (None: all)."""
        pick = (lambda t: t[rows]) if rows else (lambda t: t)      # noqa: E731
        device = target.device
        base = self._fetch(pick(base), device)
        if terms and base.dtype == target.dtype:
            (first, c0), rest = terms[0], terms[1:]
            torch.add(base, self._fetch(pick(first), device), alpha=c0, out=target)
        else:       # nothing to add, or a low-precision base: upcast it into the target
            target.copy_(base)
            rest = terms
        for vector, c in rest:
            target.add_(self._fetch(pick(vector), device), alpha=c)
        for factor, c in factors:
            factor.add_to(target, c, rows)
