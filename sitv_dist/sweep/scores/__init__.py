"""What the sweep records at a point, one module per score: `loss` (per eval set), `native_mc`
(multiple-choice accuracy; its scoring in `mc_scoring`), `lm_eval_tasks` (lm-evaluation-harness
tasks). Each implements the protocol of `base.Score`; `registry` lists them, and the worker,
the fingerprint and reduce go through it. How to add one: docs/extending.md."""
