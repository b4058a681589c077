"""From results to findings: `analysis` (minima, crossings, additivity), `refined` (every
point on a line), `uncertainty` (bootstrap statistics) with `verdicts` (is a sign change
distinguishable from noise?) and `bootstrap_run` (reading a run's per-text data),
`plots`/`grid_plots` (saved by `figures`), `report` (the analysis file and the Markdown
report; sections in `report_sections`, `report_config`) and `compare` (several experiments
side by side; `compare_rows`, `compare_render`, `compare_plots`). `markdown` formats numbers
and tables for both documents; `run_config` reads a run's resolved config. Every file of a
run is read through `sitv_dist.outdir.OutDir`."""
