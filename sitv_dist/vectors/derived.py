"""Directions other than fine-tuned task vectors, and how task vectors relate to each other.

- **Random directions** (controls: is what a task vector's line shows specific to it?):
  a seeded Gaussian direction scaled to the task vector T it stands in for, in one of three
  ways (``normalize``):

  - ``"global"``: the whole direction has exactly ‖T‖ (every tensor, 1-D ones included);
  - ``"layer"``: each tensor has exactly the norm of T's tensor of the same name;
  - ``"filter"``: as in Li et al. (2018), "Visualizing the Loss Landscape of Neural Nets":
    every filter — an output row of a 2-D weight ``[out, in]`` (for higher-dimensional
    weights the slice ``[i, ...]``), so for an embedding one token's row — is scaled to the
    norm of the same filter of T.

  1-D tensors (norm weights, biases) have no filters. With ``one_d="zero"`` (the default for
  ``"filter"``, Li et al.'s choice for biases and batch-norm parameters) they are zero in the
  direction, so its global norm is that of T's ≥2-D tensors; with ``one_d="tensor"`` (the
  default for ``"layer"``) they are random and scaled to T's tensor norm, so every tensor
  and the whole direction have T's norms. ``"global"`` always includes them.
  The Gaussian is drawn tensor by tensor in sorted-name order from one ``torch.Generator``
  seeded with ``seed``, in float64, so a (seed, T) pair always gives the same direction.

- **Derived directions**: ``−T``, ``T1 + T2 + …`` and ``T1 − T2`` of task-vector files, in
  float32 (names and shapes must agree); merges (TIES, DARE, magnitude pruning: :mod:`.merge`)
  and restrictions of T to named parameters (:mod:`.restrict`).

:func:`make_direction` builds any of them from a spec (the config's
``sweep.derived_directions`` entries) and :func:`write_direction` stores the result as an
ordinary task-vector file (``taskvector.save``) whose metadata says how it was made
(``derived``: the spec as JSON; ``sources``: the files and their content hashes). The spec's
form is checked by ``sitv_dist.config.specs`` at config time.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Mapping, Sequence, Union

from ..config.checks import ConfigError
from ..config.specs import MERGES, NORMALIZATIONS, ONE_D, describe, groups_of, sources, validate_spec
from ..config.specs import names as spec_names
from . import merge, restrict, taskvector

if TYPE_CHECKING:
    import torch


Source = Union[str, Path, Mapping[str, "torch.Tensor"]]


# ----------------------------------------------------------------------------- random directions
def _filter_rows(t: torch.Tensor) -> torch.Tensor:
    """[filters × rest] view of a ≥2-D tensor (filter = slice along the output dimension 0)."""
    return t.reshape(t.shape[0], -1)


def random_direction(reference: Mapping[str, torch.Tensor], seed: int = 0, normalize: str = "global",
                     one_d: str | None = None) -> dict[str, torch.Tensor]:
    """A seeded Gaussian direction with the norms of ``reference`` (see the module docstring).

    Returns float32 tensors with the names and shapes of ``reference``. Norms are matched in
    float64; after the cast to float32 they agree to float32 rounding.
    """
    import torch
    if normalize not in NORMALIZATIONS:
        raise ValueError(f"normalize must be one of {NORMALIZATIONS}, got {normalize!r}")
    one_d = one_d or ("zero" if normalize == "filter" else "tensor")
    if one_d not in ONE_D:
        raise ValueError(f"one_d must be one of {ONE_D}, got {one_d!r}")
    gen = torch.Generator().manual_seed(int(seed))
    names = sorted(reference)
    raw = {n: torch.randn(tuple(reference[n].shape), generator=gen, dtype=torch.float64) for n in names}
    out: dict[str, torch.Tensor] = {}
    if normalize == "global":
        ref_sq = sum(float(reference[n].double().pow(2).sum()) for n in names)
        g_sq = sum(float(raw[n].pow(2).sum()) for n in names)
        scale = (ref_sq ** 0.5) / (g_sq ** 0.5) if g_sq > 0 else 0.0
        return {n: (raw[n] * scale).float() for n in names}
    for n in names:
        g, ref = raw[n], reference[n].double()
        if g.dim() <= 1 and one_d == "zero":
            out[n] = torch.zeros(tuple(g.shape), dtype=torch.float32)
        elif g.dim() <= 1 or normalize == "layer":
            gn = float(g.norm())
            out[n] = (g * (float(ref.norm()) / gn if gn > 0 else 0.0)).float()
        else:
            gr, rr = _filter_rows(g), _filter_rows(ref)
            gn = gr.norm(dim=1, keepdim=True)
            factor = torch.where(gn > 0, rr.norm(dim=1, keepdim=True) / gn, torch.zeros_like(gn))
            out[n] = (gr * factor).reshape(g.shape).float()
    return out


# ----------------------------------------------------------------------------- derived directions
def load_tensors(source: Source) -> dict[str, torch.Tensor]:
    """A task vector as float32 tensors, from a safetensors file or a mapping."""
    if isinstance(source, Mapping):
        return {k: v.float() for k, v in source.items()}
    from safetensors.torch import load_file
    return {k: v.float() for k, v in load_file(str(source)).items()}


def _check_same(vectors: Sequence[Mapping[str, torch.Tensor]], labels: Sequence[str]) -> None:
    first = vectors[0]
    for v, label in zip(vectors[1:], labels[1:]):
        if set(v) != set(first):
            missing, extra = sorted(set(first) - set(v)), sorted(set(v) - set(first))
            raise ValueError(f"{label} and {labels[0]} have different tensors (missing {missing[:5]}, "
                             f"extra {extra[:5]})")
        for n in first:
            if tuple(v[n].shape) != tuple(first[n].shape):
                raise ValueError(f"{label}: tensor {n} has shape {tuple(v[n].shape)}, "
                                 f"{labels[0]} {tuple(first[n].shape)}")


def negate(vector: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """−T (exact)."""
    return {n: -t.float() for n, t in vector.items()}


def add(vectors: Sequence[Mapping[str, torch.Tensor]], labels: Sequence[str] | None = None) -> dict[str, torch.Tensor]:
    """T1 + T2 + … in float32, summed in the given order."""
    if len(vectors) < 2:
        raise ValueError(f"a sum needs at least two task vectors, got {len(vectors)}")
    _check_same(vectors, labels or [f"vector {i}" for i in range(len(vectors))])
    out = {n: t.float().clone() for n, t in vectors[0].items()}
    for v in vectors[1:]:
        for n in out:
            out[n] += v[n].float()
    return out


def subtract(a: Mapping[str, torch.Tensor], b: Mapping[str, torch.Tensor],
             labels: Sequence[str] = ("first", "second")) -> dict[str, torch.Tensor]:
    """T1 − T2 in float32."""
    _check_same([a, b], labels)
    return {n: a[n].float() - b[n].float() for n in a}


@dataclass
class Direction:
    """A built direction: its tensors and what ``write_direction`` records about it."""
    tensors: dict[str, torch.Tensor]
    spec: dict
    description: str
    base_id: str
    sources: dict[str, dict] = field(default_factory=dict)

    def extra(self) -> dict[str, str]:
        return {"derived": json.dumps(self.spec, sort_keys=True), "sources": json.dumps(self.sources, sort_keys=True)}


def make_direction(spec: dict, resolve: Callable[[str], Path], key: str = "derived direction") -> Direction:
    """Build a direction from a spec; task-vector names are turned into files by ``resolve``.

    Specs: ``{"random": NAME, "normalize": "global"|"layer"|"filter", "seed": INT,
    "one_d": "zero"|"tensor"}`` (normalize defaults to "global", seed to 0, one_d as in the
    module docstring), ``{"negate": NAME}``, ``{"sum": [NAME, NAME, ...]}``,
    ``{"difference": [A, B]}`` (A − B); merges ``{"ties"|"dare_linear"|"dare_ties": [NAME, ...],
    "weights": [w, ...], "density": d, "seed": INT}`` and ``{"magnitude_prune": NAME, "density": d}``
    (:mod:`.merge`, peft's arithmetic); ``{"restrict": NAME, "include": REGEX, "exclude": REGEX,
    "group": [GROUP, ...]}`` (:mod:`.restrict`).
    """
    op = validate_spec(spec, key)
    names = spec_names(spec, op, key)
    paths = {}
    for n in names:
        p = Path(resolve(n))
        if not p.is_file():
            raise ConfigError(f"{key}.{op}: task vector {n!r} resolves to {p}, which does not exist")
        paths[n] = p
    metas = {n: taskvector.read_metadata(p) for n, p in paths.items()}
    sources = {n: {"path": str(p), "content_hash": metas[n].get("content_hash", "")} for n, p in paths.items()}
    vectors = [load_tensors(paths[n]) for n in names]
    try:
        if op == "random":
            tensors = random_direction(vectors[0], seed=spec.get("seed", 0), normalize=spec.get("normalize", "global"),
                                       one_d=spec.get("one_d"))
        elif op == "negate":
            tensors = negate(vectors[0])
        elif op == "sum":
            tensors = add(vectors, names)
        elif op == "difference":
            tensors = subtract(vectors[0], vectors[1], names)
        elif op in MERGES:
            _check_same(vectors, names)
            tensors = merge.merge(op, vectors, spec.get("weights") or [1.0] * len(vectors), spec.get("density", 1.0),
                                  spec.get("seed", 0))
        elif op == "magnitude_prune":
            tensors = merge.magnitude_prune(vectors[0], spec.get("density", 1.0))
        else:
            tensors = restrict.restrict(vectors[0], spec.get("include", ""), spec.get("exclude", ""),
                                        groups_of(spec))
    except ValueError as exc:
        raise ConfigError(f"{key}: {exc}") from None
    bases = {metas[n].get("base", "") for n in names}
    base_id = metas[names[0]].get("base", "") if len(bases) == 1 else "mixed: " + ", ".join(sorted(bases))
    return Direction(tensors, dict(spec), describe(spec), base_id, sources)


def write_direction(path: Path, spec: dict, resolve: Callable[[str], Path], key: str = "derived direction",
                    force: bool = False) -> dict:
    """Build and save a direction as a task-vector file; returns its metadata.

    Resumable: an existing file made from the same spec and the same source contents is kept.
    """
    path = Path(path)
    names = sources(spec, key)
    if path.is_file() and not force:
        meta = taskvector.read_metadata(path)
        if meta.get("derived") == json.dumps(spec, sort_keys=True):
            try:
                stored = {n: s.get("content_hash") for n, s in json.loads(meta.get("sources") or "{}").items()}
            except (json.JSONDecodeError, AttributeError):
                stored = None
            current = {n: taskvector.read_metadata(Path(resolve(n))).get("content_hash", "")
                       for n in names if Path(resolve(n)).is_file()}
            if stored and stored == current:
                return meta
    d = make_direction(spec, resolve, key)
    return taskvector.save(path, d.tensors, d.base_id, "derived: " + d.description, extra=d.extra())
