"""How much of what a sweep shows is eval-set sampling noise: `bootstrap` (the paired
bootstrap over eval texts on arrays: intervals of losses, crossings and minima),
`run_bootstrap` (reads a run's per-text data from its OUT directory and bootstraps its lines
and their loss barriers), `derivative_intervals` (intervals of the slope and curvature at
α = 0) and `verdicts` (whether a sign change is distinguishable from noise, in words)."""
