"""Per-layer and per-group directions of one task vector, as views: `T@layer0`, `T@head`, …

A coefficient search over per-layer (or per-group) coefficients needs one direction per part
(the part names of the two splits never coincide: `embed` is a layer split's input embedding,
`embeddings` the group of the input and output embeddings)
of T. Writing each part as its own file and loading it would hold L copies of T; instead each
part is a mapping from the part's parameter names to the *same tensor objects* as T, so the
resident memory is one copy of T whatever the number of parts. The parts partition T's
parameters (each parameter is in exactly one part), so a point with every part at coefficient
c adds c·T[name] once per parameter through the same `PointWriter`: the uniform point's bits.
"""
from __future__ import annotations

import re
from typing import Mapping

from ..restrict import GROUPS

SEPARATOR = "@"
_LAYER = re.compile(r"(^|\.)layers\.(\d+)\.")
_INPUT_EMBEDDING = re.compile(r"(^|\.)(embed_tokens|wte|embed_in)\.")


def _layers_part(name: str) -> str:
    m = _LAYER.search(name)
    if m:
        return f"layer{int(m.group(2))}"
    return "embed" if _INPUT_EMBEDDING.search(name) else "head"     # lm_head, the final norm


def _groups_part(name: str) -> str:
    for group in ("attention", "mlp", "embeddings", "norms"):
        if re.search(GROUPS[group], name):
            return group
    return "other"


SPLITS = {"layers": _layers_part, "groups": _groups_part}
"""How a task vector is split: one part per transformer block plus the input embedding (`embed`)
and the head (`head`: lm_head, the final norm) (`layers`), or the ready-made groups of `restrict` (`groups`; a parameter in several groups
goes to the first of attention, mlp, embeddings, norms; the rest to `other`)."""


def part_of(name: str, split: str) -> str:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; one of {', '.join(SPLITS)}")
    return SPLITS[split](name)


def part_names(source: str, parameter_names, split: str) -> list[str]:
    """The direction names of the parts of `source` (e.g. 'qa@layer0'), in first-seen order."""
    return list(dict.fromkeys(f"{source}{SEPARATOR}{part_of(n, split)}" for n in parameter_names))


def split_name(direction: str) -> tuple[str, str] | None:
    """('qa', 'layer0') for 'qa@layer0'; None for a whole direction."""
    source, sep, part = direction.rpartition(SEPARATOR)
    return (source, part) if sep and source else None


def views(vector: Mapping, source: str, split: str) -> dict[str, dict]:
    """Direction name -> {parameter name: the same tensor object as in `vector`} for every part."""
    out: dict[str, dict] = {}
    for name, tensor in vector.items():
        out.setdefault(f"{source}{SEPARATOR}{part_of(name, split)}", {})[name] = tensor
    return out
