"""Model-merging operators as directions: TIES, DARE (linear and TIES) and magnitude pruning.

The arithmetic is ``peft.utils.merge_utils`` itself (``ties``, ``dare_linear``, ``dare_ties``
with ``majority_sign_method="total"``, and ``prune(..., "magnitude")``), applied tensor by
tensor in sorted-name order, in float32, so a written direction is bitwise what peft gives for
the same task vectors. What this module adds is only what peft leaves to its caller:

- **Seeding DARE.** peft draws DARE's Bernoulli masks from torch's global generator. Each
  tensor is drawn inside ``torch.random.fork_rng`` seeded with :func:`tensor_seed` (the spec's
  seed and the tensor's name), so the masks depend on neither the order in which tensors are
  visited nor anything else the process drew, and the global generator is left untouched.
- **Quiet density 1.** peft warns and returns the tensor unchanged for density ≥ 1; that is the
  intended no-pruning case here (density 1 of TIES is sign election + disjoint mean), so the
  warning is silenced.

Semantics worth knowing (peft's, kept): the majority sign is elected on the *unweighted*
(pruned) task vectors and the weights are applied afterwards, and TIES' disjoint merge divides
by the number of vectors that agree with the elected sign, so density 1 of TIES with weights
[1, 1] is a mean over agreeing entries, not a sum. peft's reported sign bug for a single
adapter with weight −1 (peft #3004) lives in LoRA ``add_weighted_adapter`` (weights folded into
both LoRA factors); on dense tensors a single vector with weight −1 gives exactly −prune(T),
which the tests check, so no workaround is needed here.
"""
from __future__ import annotations

import warnings
import zlib
from typing import Mapping, Sequence

import torch

MERGE_OPERATIONS = ("ties", "dare_linear", "dare_ties")
RANDOM_OPERATIONS = ("dare_linear", "dare_ties")


def tensor_seed(seed: int, name: str) -> int:
    """The torch seed of one tensor's DARE masks: a function of (seed, name) only."""
    return (int(seed) * 0x9E3779B1 + zlib.crc32(name.encode())) % (2 ** 63)


def _peft(op: str):
    from peft.utils import merge_utils
    return getattr(merge_utils, op)


def merge_tensors(op: str, tensors: Sequence[torch.Tensor], weights: torch.Tensor, density: float,
                  seed: int | None = None, name: str = "") -> torch.Tensor:
    """One tensor of a merge: peft's ``op`` on the stacked task tensors (seeded for DARE)."""
    fn = _peft(op)
    args = (list(tensors), weights, float(density))
    kwargs = {"majority_sign_method": "total"} if op in ("ties", "dare_ties") else {}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The density .* no pruning will be performed")
        if op in RANDOM_OPERATIONS:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(tensor_seed(seed or 0, name))
                return fn(*args, **kwargs)
        return fn(*args, **kwargs)


def merge(op: str, vectors: Sequence[Mapping[str, torch.Tensor]], weights: Sequence[float], density: float,
          seed: int = 0) -> dict[str, torch.Tensor]:
    """A merged direction of task vectors with the same names and shapes (checked by the caller)."""
    if op not in MERGE_OPERATIONS:
        raise ValueError(f"unknown merge operation {op!r}; one of {MERGE_OPERATIONS}")
    if len(weights) != len(vectors):
        raise ValueError(f"{len(weights)} weights for {len(vectors)} task vectors")
    w = torch.tensor([float(x) for x in weights], dtype=torch.float32)
    return {name: merge_tensors(op, [v[name].float() for v in vectors], w, density, seed, name)
            for name in sorted(vectors[0])}


def magnitude_prune(vector: Mapping[str, torch.Tensor], density: float) -> dict[str, torch.Tensor]:
    """Each tensor keeps its ``density`` fraction of largest-magnitude entries (peft's ``prune``)."""
    from peft.utils.merge_utils import prune
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The density .* no pruning will be performed")
        return {name: prune(vector[name].float(), float(density), method="magnitude") for name in sorted(vector)}
