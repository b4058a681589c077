"""A coefficient search over the point store: batches of proposals evaluated as planned points."""
