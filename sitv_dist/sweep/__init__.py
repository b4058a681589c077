"""The sweep, in the order a point travels: `plan` (unique coefficient points and their
shards), `fingerprint` (what a loss depends on), `apply` (base + Σ cᵢTᵢ written in place),
`evaluation` (per-text NLL, one pass per eval set), `scores` (what is recorded at a point:
the loss, multiple-choice accuracy, lm-eval tasks, in a registry), `worker` (a shard's loop,
one atomic file per point), `reduce` (point files -> results per sweep), `refine` (more
points where a crossing or minimum is bracketed)."""
