"""Merge sweeps (`sweep.merge_sweeps` entries): a merge parameter, the density, as a sweep axis.

One merge sweep ``{op: ties, of: [t1, t2], weights, density: {start, stop, num}, alpha: {...}}``
is, for every density d on its axis, the merged direction ``op(of; weights; density=d)``
(written like any derived direction, as ``<name>_d<d>``) swept along ``alpha``: together the
lines give L(α, density). The lines are ordinary line sweeps (results, crossings, bootstrap,
refinement), marked with the merge sweep they belong to so the report can put them together.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .checks import ConfigError
from .specs import MERGES, validate_spec
from .range import RangeConfig

OPS = MERGES + ("magnitude_prune",)


@dataclass
class MergeSweepConfig:
    op: str = "ties"
    """The merge: ties, dare_linear, dare_ties (peft.utils.merge_utils) or magnitude_prune (one task vector)."""
    of: list[str] = field(default_factory=list)
    """The task vectors merged (task names or keys of sweep.task_vectors); one for magnitude_prune."""
    weights: list[float] = field(default_factory=list)
    """One weight per task vector of `of` (empty: all 1); not for magnitude_prune."""
    density: RangeConfig = field(default_factory=lambda: RangeConfig(0.1, 1.0, 10))
    """The density axis: fractions of entries kept per tensor, within (0, 1] (default 0.1 to 1.0, 10 values)."""
    alpha: RangeConfig = field(default_factory=lambda: RangeConfig(-0.5, 1.5, 21))
    """The α grid of every density's line (default -0.5 to 1.5, 21 values)."""
    seed: int = 0
    """DARE: the seed of the random drop (the same at every density)."""
    name: str = ""
    """Sweep name in the outputs (default: merge_<op>_<of1>__<of2>...)."""

    def sweep_name(self) -> str:
        return self.name or f"merge_{self.op}_" + "__".join(self.of)

    def densities(self) -> list[float]:
        """The density axis, rounded as coefficients are (10 decimals)."""
        return [round(float(x), 10) + 0.0 for x in np.linspace(self.density.start, self.density.stop, self.density.num)]

    def spec(self, density: float) -> dict:
        """The derived-direction spec of one density."""
        if self.op == "magnitude_prune":
            return {"magnitude_prune": self.of[0] if self.of else "", "density": density}
        out = {self.op: list(self.of), "weights": list(self.weights) or [1.0] * len(self.of), "density": density}
        if self.op != "ties":
            out["seed"] = self.seed
        return out

    def directions(self) -> dict[str, dict]:
        """Direction name -> spec, one per density, in density order."""
        return {f"{self.sweep_name()}_d{d:g}": self.spec(d) for d in self.densities()}

    def validate(self, key: str) -> None:
        if self.op not in OPS:
            raise ConfigError(f"{key}.op: one of {', '.join(OPS)}, got {self.op!r}")
        if not self.of:
            raise ConfigError(f"{key}.of: give the task vectors to merge, e.g. [sentiment_positive, sentiment_negative]")
        if self.op == "magnitude_prune" and (len(self.of) != 1 or self.weights):
            raise ConfigError(f"{key}: magnitude_prune takes one task vector in `of` and no weights, got of={self.of}")
        if self.seed and self.op not in ("dare_linear", "dare_ties"):
            raise ConfigError(f"{key}.seed: applies to dare_linear and dare_ties only")
        self.alpha.validate(f"{key}.alpha")
        self.density.validate(f"{key}.density")
        if not 0.0 < self.density.start:
            raise ConfigError(f"{key}.density.start: above 0 (the fraction of entries kept), got {self.density.start}")
        if not self.density.stop <= 1.0:
            raise ConfigError(f"{key}.density.stop: at most 1 (the fraction of entries kept), got {self.density.stop}")
        names = self.directions()
        if len(names) != self.density.num:
            raise ConfigError(f"{key}.density: {self.density.num} densities give only {len(names)} distinct names "
                              f"({list(names)}); use fewer or coarser densities")
        for spec in names.values():
            validate_spec(spec, key)


def merge_directions(merge_sweeps: list[MergeSweepConfig]) -> dict[str, tuple[dict, str]]:
    """Every merge sweep's directions: name -> (spec, config key), in sweep and density order."""
    out = {}
    for i, m in enumerate(merge_sweeps):
        for name, spec in m.directions().items():
            out[name] = (spec, f"sweep.merge_sweeps.{i}")
    return out
