"""Write `base + Σ cᵢTᵢ` into the model's parameters in place.

Every point is computed from resident copies of the base and the task vectors, never by
stepping from the previous point (no drift, order-independent bits) and never by
reloading the model. When the model is in lower precision than `apply_dtype`, the sum is
formed in a scratch buffer at `apply_dtype` and rounded once into the parameter.

The base copy is kept in the model's own dtype (it holds the model's values, so nothing is
lost) and task vectors in whatever dtype they were loaded in; both are upcast exactly inside
the add, which gives the same bits as upcasting them first and costs no extra memory.
"""
from __future__ import annotations

import torch

from ..models.loading import parameters


class PointWriter:
    def __init__(self, model: torch.nn.Module, vectors: dict[str, dict[str, torch.Tensor]],
                 apply_dtype: torch.dtype = torch.float32):
        self.params = parameters(model)
        self.vectors = vectors
        self.dtype = apply_dtype
        self.base = {n: p.detach().clone() for n, p in self.params.items()}
        needs_scratch = [p for p in self.params.values() if p.dtype != apply_dtype]
        size = max((p.numel() for p in needs_scratch), default=0)
        device = next(iter(self.params.values())).device
        self.scratch = torch.empty(size, dtype=apply_dtype, device=device) if size else None

    @torch.no_grad()
    def apply(self, coefficients: dict[str, float]) -> None:
        """Set every parameter to base + Σ c·T (zero coefficients skipped; order as given)."""
        missing = [d for d, c in coefficients.items() if c != 0.0 and d not in self.vectors]
        if missing:
            raise KeyError(f"task vector(s) {missing} were not loaded by this worker")
        active = [(self.vectors[d], c) for d, c in coefficients.items() if c != 0.0]
        for name, p in self.params.items():
            target = p.data if p.dtype == self.dtype else self.scratch[:p.numel()].view(p.shape)
            base = self.base[name]
            if active and base.dtype == target.dtype:
                (first, c0), rest = active[0], active[1:]
                torch.add(base, first[name], alpha=c0, out=target)
            else:       # nothing to add, or a low-precision base: upcast it into the target
                target.copy_(base)
                rest = active
            for vector, c in rest:
                target.add_(vector[name], alpha=c)
            if target is not p.data:
                p.data.copy_(target)
