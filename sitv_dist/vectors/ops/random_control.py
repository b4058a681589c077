"""`random`: a control direction (is what a task vector's line shows specific to it?):
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
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Sequence

from ...config.checks import ConfigError
from .direction_op import SEED, DirectionOp, Key, check_seed

if TYPE_CHECKING:
    import torch

NORMALIZATIONS = ("global", "layer", "filter")
ONE_D = ("zero", "tensor")


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


class RandomControl(DirectionOp):
    name = "random"
    doc = "a seeded Gaussian direction with the norms of this task vector (see `normalize`): a control"
    label = "random directions"
    keys = {"normalize": Key("global", "'global' (exactly ‖T‖), 'layer' (each tensor's norm) or 'filter' (each "
                                       "output row's norm, as in Li et al. 2018)"),
            "one_d": Key("", "'layer'/'filter': 1-D tensors (norms, biases) 'zero' or 'tensor' (scaled to T's tensor "
                             "norm); empty: 'zero' for 'filter' (Li et al.), 'tensor' for 'layer'"),
            "seed": SEED}

    def check(self, spec: Mapping[str, Any], sources: Sequence[str], key: str) -> None:
        check_seed(spec["seed"], key)
        if spec["normalize"] not in NORMALIZATIONS:
            raise ConfigError(f"{key}.normalize: one of {', '.join(NORMALIZATIONS)}, got {spec['normalize']!r}")
        if spec["one_d"] not in ("", None) and spec["one_d"] not in ONE_D:
            raise ConfigError(f"{key}.one_d: one of {', '.join(ONE_D)}, got {spec['one_d']!r}")

    def spec(self, spec: Mapping[str, Any]) -> dict:
        out = {"random": spec["random"], "normalize": spec["normalize"], "seed": spec["seed"]}
        return out | ({"one_d": spec["one_d"]} if spec["one_d"] else {})

    def describe(self, spec: Mapping[str, Any]) -> str:
        norm = spec.get("normalize", "global")
        one_d = spec.get("one_d") or ("zero" if norm == "filter" else "tensor")
        extra = f"; one_d={one_d}" if norm != "global" else ""
        return f"random({spec['random']}; {norm}{extra}; seed={spec.get('seed', 0)})"

    def build(self, vectors, spec, names):
        return random_direction(vectors[0], seed=spec.get("seed", 0), normalize=spec.get("normalize", "global"),
                                one_d=spec.get("one_d"))


OP = RandomControl()
