"""The coefficient search (`sweep.search`): which coefficients, within which bounds, minimising
which objective, with how many points. Empty `directions`: no search."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .checks import ConfigError, choice, positive

SPLITS = ("none", "layers", "groups")
_TERM = re.compile(r"general|(task|accuracy):[A-Za-z0-9_][A-Za-z0-9_.-]*")


@dataclass
class SearchConfig:
    directions: list[str] = field(default_factory=list)
    """Directions whose coefficients are searched (each one swept by sweep.directions or a grid, so the
    search is compared with the best point of those sweeps). Empty: no search."""
    split: str = "none"
    """'none': one coefficient per direction; 'layers': one per transformer block of each direction
    (`T@layer0`, …), plus its input embedding (`T@embed`) and its head (`T@head`: lm_head and the
    final norm); 'groups': one per group (attention, mlp, embeddings, norms, other). The parts are
    views of the one resident T, not copies."""
    bounds: list[float] = field(default_factory=lambda: [-0.5, 1.5])
    """[low, high] of every searched coefficient."""
    objective: dict[str, float] = field(default_factory=lambda: {"general": 1.0})
    """What is minimised, as weights of terms the points hold: `general` (the general loss),
    `task:NAME` (a task's loss), `accuracy:NAME` (a task's multiple-choice accuracy, which enters
    with a minus sign: it is maximised), e.g. {general: 1.0, "task:qa_factual": 0.5}. Each term is
    measured on the search half of its texts (or items); the held-out half is only reported."""
    budget: int = 64
    """Points the search evaluates at most (whole batches)."""
    batch: int = 0
    """Proposals per batch, evaluated together by the workers (0: CMA-ES's default population for
    that many coefficients, rounded up to a multiple of sweep.workers). The result depends on the
    seed, bounds, batch and budget, never on the number of workers."""
    seed: int = 0
    """Seed of the optimiser and of the search/held-out split of the texts."""
    sampler: str = "cmaes"
    """The optimiser: 'cmaes' (CMA-ES of the `cmaes` package, with bounds)."""
    start: str = "sweeps"
    """Where CMA-ES starts: 'sweeps' (the best line/grid point of these directions on the search half, every
    part of a direction at its coefficient; the centre of the bounds when no such point is on disk yet) or
    'center'. The start is kept in OUT/search.json, so a rerun replays the same search."""
    sigma: float = 0.0
    """CMA-ES's initial step (0: a quarter of the bound range from the centre, an eighth from a sweep's best point)."""
    quantum: float = 1e-4
    """Proposed coefficients are rounded to multiples of this, so a replayed proposal is the same point."""

    def validate(self, key: str) -> None:
        choice(self.split, SPLITS, f"{key}.split")
        choice(self.sampler, ("cmaes",), f"{key}.sampler")
        choice(self.start, ("sweeps", "center"), f"{key}.start")
        if len(set(self.directions)) != len(self.directions):
            raise ConfigError(f"{key}.directions: repeated direction in {self.directions}")
        if not self.directions:
            return
        if len(self.bounds) != 2 or not self.bounds[0] < self.bounds[1]:
            raise ConfigError(f"{key}.bounds: give [low, high] with low < high, got {self.bounds}")
        positive(self.budget, f"{key}.budget")
        positive(self.quantum, f"{key}.quantum")
        if self.sigma < 0:
            raise ConfigError(f"{key}.sigma: must be >= 0 (0: chosen from the bounds), got {self.sigma}")
        if self.batch == 1 or self.batch < 0:
            raise ConfigError(f"{key}.batch: CMA-ES needs at least 2 proposals per batch (0: its default), "
                              f"got {self.batch}")
        if self.batch > self.budget:
            raise ConfigError(f"{key}.budget: {self.budget} point(s) are fewer than one batch of {self.batch}; "
                              f"raise {key}.budget to at least {self.batch} or lower {key}.batch")
        if not self.objective:
            raise ConfigError(f"{key}.objective: give at least one term, e.g. {{general: 1.0}}")
        for term, weight in self.objective.items():
            if not _TERM.fullmatch(term):
                raise ConfigError(f"{key}.objective: {term!r} is not a term; use general, task:NAME or accuracy:NAME")
            positive(weight, f"{key}.objective.{term}")

    def tasks(self) -> list[str]:
        """The task names the objective's terms refer to."""
        return [t.split(":", 1)[1] for t in self.objective if ":" in t]
