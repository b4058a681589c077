"""What a finished sweep's reduced results show, as plain JSON-ready dicts and with no I/O:
`landscape` (minima, crossings of L(0), squaring and compositional curves, grid additivity),
`barrier` (the loss barrier of a line between α = 0 and α = 1) and `merge_sweeps` (a merge
sweep put together from its lines). Crossing detection itself lives in
`sitv_dist.sweep.crossings`, which the sweep's refinement rounds share."""
