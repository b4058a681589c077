"""The stages of an experiment, each resumable, in pipeline order: `prepare` (cheap checks
before anything loads, the tasks to fine-tune, derived directions), `finetune` (one process,
or every rank of a torchrun/DeepSpeed launch), `sweep` (plan, then evaluate the missing
points with the launcher chosen once, refinement rounds), `run` (reduce, report, and the
whole pipeline). The Python API (sitv_dist.api, which the CLI calls) calls them; nothing below imports them."""
