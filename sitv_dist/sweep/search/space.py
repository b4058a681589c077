"""The search space: one coordinate per searched direction (`split: none`) or per part of each
(`layers`, `groups`: `T@layer0`, … from `vectors.ops.layer_split`), and how a proposal becomes a
point of the plan.

A point's id depends only on its non-zero (direction, coefficient) pairs, so a proposal is
written canonically: the parts of one direction that all have the same coefficient c are the
point c·T itself (the same bits: the parts partition T's parameters). A uniform proposal is
then the line's own point, evaluated once for both.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from ...config import ExperimentConfig
from ...vectors import lora, taskvector
from ...vectors.ops import layer_split


def parameter_names(path: Path, key: str) -> list[str]:
    """The parameters a direction file moves, from its header (an adapter: its factors' names)."""
    if lora.is_adapter(path):
        return lora.read(path, key).names()
    return list(taskvector.file_shapes(path, key))


def coordinates(cfg: ExperimentConfig, paths: dict[str, Path]) -> list[str]:
    """The searched coefficients' direction names, in order."""
    search = cfg.sweep.search
    if search.split == "none":
        return list(search.directions)
    out = []
    for d in search.directions:
        out += layer_split.part_names(d, parameter_names(paths[d], f"sweep.task_vectors.{d}"), search.split)
    return out


def part_digests(parts: list[str], digests: dict[str, str], paths: dict[str, Path], split: str) -> dict[str, str]:
    """Fingerprint inputs of the part directions: the source's content digest and the names of
    the parameters the part holds (what its tensors are, whichever split named it)."""
    out, members = {}, {}
    for name in parts:
        source, part = layer_split.split_name(name)
        if source not in members:
            members[source] = parameter_names(paths[source], f"sweep.task_vectors.{source}")
        held = sorted(n for n in members[source] if layer_split.part_of(n, split) == part)
        out[name] = f"{digests[source]}|" + hashlib.sha256("\n".join(held).encode()).hexdigest()[:24]
    return out


def point_vector(directions: list[str], coords: list[str], x) -> list[float]:
    """The plan vector (over `directions`) of a proposal `x` (over `coords`), canonical: the parts
    of one direction sharing a coefficient are that direction at that coefficient."""
    values = dict(zip(coords, (float(v) for v in x)))
    by_source: dict[str, list[str]] = {}
    for name in coords:
        split = layer_split.split_name(name)
        if split:
            by_source.setdefault(split[0], []).append(name)
    for source, parts in by_source.items():
        first = values[parts[0]]
        if all(values[p] == first for p in parts):
            for p in parts:
                values[p] = 0.0
            values[source] = values.get(source, 0.0) + first
    return [values.get(d, 0.0) + 0.0 for d in directions]


def part_views(vectors: dict, parts: list[str], split: str) -> dict:
    """Part direction name -> a view of its source's resident tensors (the same tensor objects:
    no copy) for each of `parts`, whose sources are in `vectors`."""
    out = {}
    for name in parts:
        source, part = layer_split.split_name(name)
        whole = vectors[source]
        names = [n for n in (whole.names() if isinstance(whole, lora.LoraDirection) else whole)
                 if layer_split.part_of(n, split) == part]
        if isinstance(whole, lora.LoraDirection):
            out[name] = lora.LoraDirection({n: whole.factors[n] for n in names}, whole.path)
        else:
            out[name] = {n: whole[n] for n in names}
    return out
