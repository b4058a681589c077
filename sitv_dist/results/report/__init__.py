"""The run report of one output directory: `run_report` loads the run, builds `analysis.json`
and writes the plots and `report.md` (put together by `sitv_dist.results.report_sections`);
`line_sections` (the summary and one section per line), `other_sections` (configuration,
slope and curvature, barriers, merge sweeps) and `findings` (one set of findings per line,
with its intervals) are its parts."""
