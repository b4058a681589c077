"""Derived directions: built from task-vector files by a direction op, stored as task vectors.

:func:`make_direction` builds any spec (a `sweep.derived_directions` entry, or one density of
a merge sweep) through its op in :mod:`.ops` (random controls, −T, sums and differences, the
peft merges, magnitude pruning, restrictions, breadcrumbs), in float32, and
:func:`write_direction` stores the result as an ordinary task-vector file
(``taskvector.save``) whose metadata says how it was made (``derived``: the spec as JSON;
``sources``: the files and their content hashes). The spec's form is checked by the same ops
at config time (``ops.ops_registry.check_config``), before any file is touched.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Mapping, Union

from ..config.checks import ConfigError
from . import taskvector
from .ops.direction_op import check_same
from .ops.ops_registry import check

if TYPE_CHECKING:
    import torch


Source = Union[str, Path, Mapping[str, "torch.Tensor"]]


def load_tensors(source: Source) -> dict[str, torch.Tensor]:
    """A task vector as float32 tensors, from a safetensors file or a mapping."""
    if isinstance(source, Mapping):
        return {k: v.float() for k, v in source.items()}
    from safetensors.torch import load_file
    return {k: v.float() for k, v in load_file(str(source)).items()}


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
    """Build a direction from a spec (``sitv config-reference`` lists every op and its keys);
    task-vector names are turned into files by ``resolve``."""
    op = check(spec, key)
    names = op.names(spec[op.name], key)
    paths = {}
    for n in names:
        p = Path(resolve(n))
        if not p.is_file():
            raise ConfigError(f"{key}.{op.name}: task vector {n!r} resolves to {p}, which does not exist")
        paths[n] = p
    metas = {n: taskvector.read_metadata(p) for n, p in paths.items()}
    sources = {n: {"path": str(p), "content_hash": metas[n].get("content_hash", "")} for n, p in paths.items()}
    vectors = [load_tensors(paths[n]) for n in names]
    try:
        if len(vectors) > 1:
            check_same(vectors, names)
        tensors = op.build(vectors, spec, names)
    except ValueError as exc:
        raise ConfigError(f"{key}: {exc}") from None
    bases = {metas[n].get("base", "") for n in names}
    base_id = metas[names[0]].get("base", "") if len(bases) == 1 else "mixed: " + ", ".join(sorted(bases))
    return Direction(tensors, dict(spec), op.describe(spec), base_id, sources)


def write_direction(path: Path, spec: dict, resolve: Callable[[str], Path], key: str = "derived direction",
                    force: bool = False) -> dict:
    """Build and save a direction as a task-vector file; returns its metadata.

    Resumable: an existing file made from the same spec and the same source contents is kept.
    """
    path = Path(path)
    op = check(spec, key)
    names = op.names(spec[op.name], key)
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
