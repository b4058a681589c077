"""The seeded search/held-out split and the losses and intervals on each half."""
import numpy as np

from sitv_dist.results.search_intervals import half_interval
from sitv_dist.sweep.search.halves import half_loss, split


def test_split_is_seeded_disjoint_and_complete():
    s, h = split(11, 3)
    assert len(s) == 5 and len(h) == 6 and sorted(np.concatenate([s, h]).tolist()) == list(range(11))
    assert np.array_equal(split(11, 3)[0], s) and not np.array_equal(split(11, 4)[0], s)


def test_half_loss_is_token_weighted_and_interval_contains_it():
    nll = [2.0, 6.0, 3.0, 8.0, None]
    tokens = [1, 3, 1, 2, 1]
    assert half_loss(nll, tokens, np.array([0, 1])) == 8.0 / 4
    assert np.isnan(half_loss(nll, tokens, np.array([1, 4])))
    idx = np.array([0, 1, 2, 3])
    lo, hi = half_interval(nll, tokens, idx, replicates=400, seed=1)
    assert lo <= half_loss(nll, tokens, idx) == 19.0 / 7 <= hi and lo < hi
