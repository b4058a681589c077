"""From results to findings, grouped by concern: `analysis` (what the reduced results show:
minima, crossings, additivity, barriers, merge sweeps), `uncertainty` (the bootstrap over eval
texts and the verdicts it supports), `plots` (every figure), `report` (`analysis.json` and
`report.md` of one run) and `compare` (several experiments side by side). At the top:
`accuracy` (accuracy curves, best α, bootstrap over items) with `accuracy_report`,
`report_sections` (the Markdown sections in their order), `markdown` (numbers and tables for
both documents) and `run_config` (a run's resolved config). Every file of a run is read
through `sitv_dist.outdir.OutDir`."""
