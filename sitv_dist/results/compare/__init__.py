"""Several experiments side by side (`sitv compare`): `comparison` reads each run, recomputes
its analysis and bootstrap and writes `compare.json`, `compare.md` and the figures; `rows`
builds one table row per sweep (cross-checked against the run's own analysis) and `render`
prints them in one format."""
