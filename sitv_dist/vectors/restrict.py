"""Restrictions: a task vector kept only on the parameters whose names match.

``{restrict: T, include: REGEX, exclude: REGEX, group: [NAME, ...]}`` keeps T's tensor where
the name matches ``include`` (``re.search``), every named group, and not ``exclude``; every
other tensor is zero (the direction keeps all of T's names and shapes, so it is loaded and
applied like any task vector). Two restrictions of one T (say attention and MLP) make a grid
α_attn × α_mlp.

Ready-made groups follow the Hugging Face naming of Llama, Gemma (1–3, including Gemma-3's
``language_model.`` prefix) and Qwen (2, 2.5, 3) decoders:

- ``attention``: ``…self_attn.{q,k,v,o}_proj`` (and Gemma-3/Qwen-3 ``q_norm``/``k_norm``);
- ``mlp``: ``…mlp.{gate,up,down}_proj``;
- ``embeddings``: ``embed_tokens`` and an untied ``lm_head``;
- ``norms``: the RMSNorm weights (``input_layernorm``, ``post_attention_layernorm``, Gemma's
  pre/post-feedforward norms, the final ``norm``);
- ``layers:A-B``: every parameter of decoder layers A to B (inclusive), e.g. ``layers:0-3``.

Groups in one restriction are intersected (``[attention, "layers:0-3"]``: attention of the
first four layers), as are ``include`` and ``exclude`` with them.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Mapping, Sequence

if TYPE_CHECKING:
    import torch

# Ready-made restriction groups for the Hugging Face naming of Llama, Gemma and Qwen decoders
# (the module docstring documents them); plus "layers:A-B".
GROUPS = {
    "attention": r"(^|\.)self_attn\.",
    "mlp": r"(^|\.)mlp\.",
    "embeddings": r"(^|\.)(embed_tokens|lm_head)\.",
    "norms": r"(^|\.)(input_layernorm|post_attention_layernorm|pre_feedforward_layernorm|"
             r"post_feedforward_layernorm|norm)\.weight$",
}
_LAYERS = re.compile(r"^layers:(\d+)-(\d+)$")


def group_pattern(group: str) -> str:
    """The regex of a ready-made group; ValueError naming the choices for an unknown one."""
    if group in GROUPS:
        return GROUPS[group]
    m = _LAYERS.match(group)
    if m:
        lo, hi = int(m.group(1)), int(m.group(2))
        if lo > hi:
            raise ValueError(f"group {group!r}: the first layer is after the last")
        return r"(^|\.)layers\.(" + "|".join(str(i) for i in range(lo, hi + 1)) + r")\."
    raise ValueError(f"unknown group {group!r}; one of {', '.join(GROUPS)} or 'layers:A-B' (e.g. layers:0-3)")


def matcher(include: str = "", exclude: str = "", groups: Sequence[str] = ()):
    """name -> kept? for a restriction (patterns compiled once)."""
    wanted = [re.compile(p) for p in ([include] if include else []) + [group_pattern(g) for g in groups]]
    unwanted = re.compile(exclude) if exclude else None
    return lambda name: all(p.search(name) for p in wanted) and not (unwanted and unwanted.search(name))


def restrict(vector: Mapping[str, torch.Tensor], include: str = "", exclude: str = "",
             groups: Sequence[str] = ()) -> dict[str, torch.Tensor]:
    """T on the matching tensors, zero elsewhere; ValueError when nothing matches."""
    import torch
    keep = matcher(include, exclude, groups)
    kept = [n for n in vector if keep(n)]
    if not kept:
        raise ValueError(f"the restriction (include={include!r}, exclude={exclude!r}, group={list(groups)}) "
                         f"matches none of the {len(vector)} tensors (e.g. {sorted(vector)[:3]})")
    return {n: (t.float().clone() if n in kept else torch.zeros_like(t, dtype=torch.float32))
            for n, t in vector.items()}
