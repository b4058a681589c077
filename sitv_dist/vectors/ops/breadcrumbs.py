"""`breadcrumbs`: Model Breadcrumbs (Davari & Belilovsky, 2024, "Model Breadcrumbs: Scaling
Multi-Task Model Merging with Sparse Masks").

Per tensor of each task vector, rank the entries by magnitude; drop the largest `gamma`
fraction (outliers) and every entry below the next `density` fraction (the small noise), so an
entry is kept when its magnitude rank r (0 = largest, ties broken by position) lies in
[⌊gamma·n⌋, ⌊gamma·n⌋ + ⌈density·n⌉) of the tensor's n entries (the band stops at the
smallest entry, so gamma + density > 1, e.g. density 1 on a merge sweep's axis, keeps every
entry below the top gamma); the direction is the weighted
sum of the masked task vectors. gamma = 0 is magnitude pruning followed by the weighted sum.
Written by hand because peft has no breadcrumbs (its prune keeps the top-k only): one sort per
tensor, in float32, deterministic.
"""
from __future__ import annotations

import math

from ...config.checks import ConfigError
from .direction_op import DENSITY, WEIGHTS, DirectionOp, Key, check_density, check_same, check_weights, is_number


def breadcrumb_mask(t, gamma: float, density: float):
    """Boolean mask of the entries of `t` a breadcrumb keeps (see the module docstring)."""
    import torch
    n = t.numel()
    lo = math.floor(gamma * n)
    hi = min(n, lo + math.ceil(density * n))
    order = torch.argsort(t.detach().float().abs().flatten(), descending=True, stable=True)
    keep = torch.zeros(n, dtype=torch.bool)
    keep[order[lo:hi]] = True
    return keep.reshape(t.shape)


def breadcrumbs(vectors, weights, density: float, gamma: float):
    """Σ wᵢ · (Tᵢ masked by its breadcrumb mask), tensor by tensor in sorted-name order, float32."""
    out = {}
    for name in sorted(vectors[0]):
        total = None
        for w, v in zip(weights, vectors):
            t = v[name].float()
            term = float(w) * (t * breadcrumb_mask(t, gamma, density))
            total = term if total is None else total + term
        out[name] = total
    return out


class Breadcrumbs(DirectionOp):
    name = "breadcrumbs"
    doc = ("Model Breadcrumbs of these task vectors: per tensor drop the largest-magnitude `gamma` fraction, keep "
           "the next `density` fraction, then the weighted sum")
    label = "breadcrumbs"
    sources = "some"
    density_axis = True
    keys = {"weights": WEIGHTS, "density": DENSITY,
            "gamma": Key(0.01, "the largest-magnitude fraction dropped per tensor, in [0, 1)")}

    def check(self, spec, sources, key):
        check_density(spec["density"], key)
        check_weights(spec["weights"], len(sources), self.name, key)
        gamma = spec["gamma"]
        if not is_number(gamma) or not 0.0 <= gamma < 1.0:
            raise ConfigError(f"{key}.gamma: the largest-magnitude fraction dropped, in [0, 1), got {gamma!r}")

    def spec(self, spec):
        return {"breadcrumbs": spec["breadcrumbs"], "density": spec["density"], "gamma": spec["gamma"],
                "weights": spec["weights"] or [1.0] * len(spec["breadcrumbs"])}

    def merge_spec(self, of, weights, density, seed):
        return {"breadcrumbs": of, "weights": weights or [1.0] * len(of), "density": density}

    def describe(self, spec):
        weights = spec.get("weights") or [1.0] * len(spec["breadcrumbs"])
        terms = ", ".join(f"{w:g}*{n}" for w, n in zip(weights, spec["breadcrumbs"]))
        return f"breadcrumbs({terms}; density={spec.get('density', 1.0):g}; gamma={spec.get('gamma', 0.01):g})"

    def build(self, vectors, spec, names):
        check_same(vectors, names)
        return breadcrumbs(vectors, spec.get("weights") or [1.0] * len(vectors), spec.get("density", 1.0),
                           spec.get("gamma", 0.01))


OP = Breadcrumbs()
