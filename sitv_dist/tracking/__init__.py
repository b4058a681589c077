"""Experiment trackers (config section `tracking`): the fine-tunes' train and validation
losses per step, each line's L(c) as its points are evaluated, and the report's figures,
also sent to TensorBoard or Weights & Biases. One module per tracker, each registered by
name in `tracking_registry` (a new tracker: a module with a `@register("name")` factory).
Only rank 0 logs; a tracker that fails warns once and is dropped: it never fails a run."""
