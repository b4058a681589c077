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
from .range import RangeConfig

@dataclass
class MergeSweepConfig:
    op: str = "ties"
    """A direction op with a density axis: one marked † in the direction-op reference below (e.g. ties, dare_ties,
    magnitude_prune with one task vector, breadcrumbs)."""
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

    def direction_names(self) -> list[str]:
        """One direction name per density, in density order (the specs are the op's:
        `sitv_dist.vectors.ops.ops_registry.merge_sweep_specs`)."""
        return [f"{self.sweep_name()}_d{d:g}" for d in self.densities()]

    def validate(self, key: str) -> None:
        """The axes and sources' form; the op and its parameters are checked by the op registry
        (`sitv_dist.vectors.ops.ops_registry.check_merge_sweep`)."""
        if not self.of:
            raise ConfigError(f"{key}.of: give the task vectors to merge, e.g. [sentiment_positive, sentiment_negative]")
        self.alpha.validate(f"{key}.alpha")
        self.alpha.require_zero(f"{key}.alpha")
        self.density.validate(f"{key}.density")
        if not 0.0 < self.density.start:
            raise ConfigError(f"{key}.density.start: above 0 (the fraction of entries kept), got {self.density.start}")
        if not self.density.stop <= 1.0:
            raise ConfigError(f"{key}.density.stop: at most 1 (the fraction of entries kept), got {self.density.stop}")
        names = list(dict.fromkeys(self.direction_names()))
        if len(names) != self.density.num:
            raise ConfigError(f"{key}.density: {self.density.num} densities give only {len(names)} distinct names "
                              f"({names}); use fewer or coarser densities")


def merge_direction_names(merge_sweeps: list[MergeSweepConfig]) -> dict[str, str]:
    """Every merge sweep's direction names -> config key, in sweep and density order."""
    return {name: f"sweep.merge_sweeps.{i}" for i, m in enumerate(merge_sweeps) for name in m.direction_names()}
