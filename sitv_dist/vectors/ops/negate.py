"""`negate`: −T, the task vector pointing the other way (exact)."""
from __future__ import annotations

from .direction_op import DirectionOp


def negate(vector):
    """−T (exact)."""
    return {n: -t.float() for n, t in vector.items()}


class Negate(DirectionOp):
    name = "negate"
    doc = "−T of this task vector"

    def describe(self, spec):
        return f"-{spec['negate']}"

    def build(self, vectors, spec, names):
        return negate(vectors[0])


OP = Negate()
