"""Cosine similarity of task vectors, streamed tensor by tensor from safetensors files (or
in-memory mappings) with float64 accumulation: :func:`gram_matrix`, :func:`cosine_matrix`,
:func:`cosine_similarity`."""
from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Sequence, Union

if TYPE_CHECKING:
    import numpy as np
    import torch

Source = Union[str, Path, Mapping[str, "torch.Tensor"]]


class _Reader:
    """Tensor-by-tensor access to a safetensors file or an in-memory mapping."""

    def __init__(self, source: Source, stack: ExitStack):
        if isinstance(source, Mapping):
            self._m, self._f = source, None
            self.shapes = {n: tuple(t.shape) for n, t in source.items()}
        else:
            from safetensors import safe_open
            self._m = None
            self._f = stack.enter_context(safe_open(str(source), framework="pt"))
            self.shapes = {n: tuple(self._f.get_slice(n).get_shape()) for n in self._f.keys()}

    def get(self, name: str) -> torch.Tensor:
        return self._m[name] if self._m is not None else self._f.get_tensor(name)


def signature(source: Source) -> tuple:
    """(name, shape) pairs of a task vector: two vectors are comparable when these agree."""
    with ExitStack() as stack:
        return tuple(sorted(_Reader(source, stack).shapes.items()))


def gram_matrix(sources: Sequence[Source]) -> np.ndarray:
    """Dot products ⟨Tᵢ, Tⱼ⟩ of all pairs, streamed one tensor name at a time, in float64."""
    import numpy as np
    import torch
    if not sources:
        return np.zeros((0, 0))
    with ExitStack() as stack:
        readers = [_Reader(s, stack) for s in sources]
        first = readers[0].shapes
        for i, r in enumerate(readers[1:], 1):
            if r.shapes != first:
                diff = sorted(set(first) ^ set(r.shapes)) or [n for n in first if first[n] != r.shapes[n]]
                raise ValueError(f"task vector {i} does not have the tensors/shapes of vector 0 (e.g. {diff[:3]})")
        g = torch.zeros((len(readers), len(readers)), dtype=torch.float64)
        for name in sorted(first):
            x = torch.stack([r.get(name).reshape(-1).double() for r in readers])
            g += x @ x.T
    return g.numpy()


def cosine_from_gram(g: np.ndarray) -> np.ndarray:
    """Cosine similarities from a Gram matrix; NaN where a vector has norm 0."""
    import numpy as np
    norms = np.sqrt(np.clip(np.diag(g), 0.0, None))
    with np.errstate(invalid="ignore", divide="ignore"):
        c = g / np.outer(norms, norms)
    c = np.where(np.outer(norms, norms) > 0, np.clip(c, -1.0, 1.0), np.nan)
    return c


def cosine_matrix(sources: Sequence[Source]) -> np.ndarray:
    """All pairwise cosine similarities of task vectors with the same tensors."""
    return cosine_from_gram(gram_matrix(sources))


def cosine_similarity(a: Source, b: Source) -> float:
    """cos(T1, T2) = ⟨T1, T2⟩ / (‖T1‖ ‖T2‖), float64, streamed; NaN if either norm is 0."""
    return float(cosine_matrix([a, b])[0, 1])
