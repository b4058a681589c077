"""CMA-ES proposals (the `cmaes` package, not a hand-written optimiser), replayed from stored values.

The optimiser's state is never saved: it is rebuilt by replaying every generation from the
same seed, telling it the values already in the store (point files). Each generation is one
batch of `batch` proposals; coefficients are quantised (`quantum`) and then canonical, so a
replayed proposal is the same float and so the same point id. A generation with values
missing is the batch to evaluate next; nothing finished is asked again. The result depends on
the seed, the bounds, the batch and the budget, never on how many workers evaluated it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np


@dataclass
class SearchState:
    pending: list[tuple[float, ...]] = field(default_factory=list)   # the next batch to evaluate
    history: list[tuple[tuple[float, ...], float]] = field(default_factory=list)   # told, in order
    done: bool = False

    def best(self) -> tuple[tuple[float, ...], float] | None:
        finite = [h for h in self.history if np.isfinite(h[1])]
        return min(finite, key=lambda h: h[1]) if finite else None

    def best_so_far(self) -> list[float]:
        out, best = [], float("inf")
        for _, y in self.history:
            best = min(best, y) if np.isfinite(y) else best
            out.append(best)
        return out


def quantise(x: Sequence[float], quantum: float, bounds: np.ndarray) -> tuple[float, ...]:
    clipped = np.clip(np.round(np.asarray(x, dtype=float) / quantum) * quantum, bounds[:, 0], bounds[:, 1])
    return tuple(round(float(v), 10) + 0.0 for v in clipped)


def replay(bounds: Sequence[Sequence[float]], seed: int, batch: int, budget: int,
           value: Callable[[tuple[float, ...]], float | None], quantum: float = 1e-4,
           sigma: float | None = None, mean: Sequence[float] | None = None) -> SearchState:
    """Replay the search against `value` (None: not evaluated yet) until the budget is spent
    or a generation has unevaluated proposals (returned as `pending`). CMA-ES starts at `mean`
    (default: the centre of the bounds) with step `sigma` (default: a quarter of the widest bound)."""
    from cmaes import CMA
    if batch < 2:
        raise ValueError(f"sweep.search.batch: CMA-ES needs at least 2 proposals per batch, got {batch}")
    b = np.asarray(bounds, dtype=float)
    mean = b.mean(axis=1) if mean is None else np.clip(np.asarray(mean, dtype=float), b[:, 0], b[:, 1])
    sigma = sigma or float((b[:, 1] - b[:, 0]).max() / 4)
    cma = CMA(mean=mean, sigma=sigma, bounds=b, seed=seed, population_size=batch)
    state = SearchState()
    while len(state.history) + batch <= budget:
        xs = [quantise(cma.ask(), quantum, b) for _ in range(batch)]
        ys = [value(x) for x in xs]
        if any(y is None for y in ys):
            state.pending = list(dict.fromkeys(x for x, y in zip(xs, ys) if y is None))
            return state
        state.history += list(zip(xs, ys))
        # a non-finite loss is told as the worst told value (CMA-ES needs a number)
        worst = max([y for _, y in state.history if np.isfinite(y)] or [0.0])
        cma.tell([(np.asarray(x), y if np.isfinite(y) else worst) for x, y in zip(xs, ys)])
    state.done = True
    return state
