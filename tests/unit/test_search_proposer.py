"""The CMA-ES proposer: finds a known minimum, resumes by replay with nothing asked twice, and
does not depend on how a batch is evaluated."""
import numpy as np

from sitv_dist.sweep.search.proposer import replay

BOUNDS = [[-1.0, 1.5], [-1.0, 1.5]]


def f(x):
    return (x[0] - 0.4) ** 2 + 2 * (x[1] + 0.3) ** 2 + 0.5 * x[0] * x[1]


def run(store, batch=4, budget=32, stop_after=None):
    """Evaluate pending batches into `store` until done (or after `stop_after` batches)."""
    batches = 0
    while True:
        state = replay(BOUNDS, 7, batch, budget, store.get)
        if state.done or (stop_after is not None and batches == stop_after):
            return state
        for x in state.pending:
            assert x not in store          # nothing finished is proposed again
            store[x] = f(x)
        batches += 1


def test_oracle_quarter_of_grid_budget_within_grid_resolution():
    axis = np.linspace(-1.0, 1.5, 11)      # an 11x11 grid: 121 points, step 0.25
    grid = min(((a, b) for a in axis for b in axis), key=f)
    state = run({}, budget=121 // 4)
    (x, y) = state.best()
    assert len(state.history) <= 121 // 4
    assert max(abs(x[0] - grid[0]), abs(x[1] - grid[1])) <= 0.25   # tolerance: one grid step
    assert abs(y - f(grid)) < 0.01         # grid minimum -0.0475; the search finds -0.0418 in 28 points


def test_resume_replays_exactly():
    full = run({})
    store = {}
    run(store, stop_after=3)               # "killed" after three batches
    evaluated = len(store)
    resumed = run(store)
    assert resumed.history == full.history and resumed.best() == full.best()
    assert len(store) == len(full.history) and evaluated == 12


def test_order_of_evaluation_does_not_matter():
    a, b = {}, {}
    run(a)
    # evaluate each batch in reverse order (as two workers finishing in any order would)
    while not (s := replay(BOUNDS, 7, 4, 32, b.get)).done:
        for x in reversed(s.pending):
            b[x] = f(x)
    assert replay(BOUNDS, 7, 4, 32, a.get).history == s.history
