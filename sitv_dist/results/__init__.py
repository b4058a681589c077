"""From results to findings: `analysis` (minima, crossings, additivity), `refined` (every
point on a line), `uncertainty` (bootstrap statistics) and `bootstrap_run` (reading a run's
per-text data), `plots`/`grid_plots`, `report` (analysis.json, report.md) and `compare`
(several experiments side by side)."""
