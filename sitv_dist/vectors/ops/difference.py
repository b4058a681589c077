"""`difference`: T1 − T2 of two task vectors, in float32."""
from __future__ import annotations

from .direction_op import DirectionOp, check_same


def subtract(a, b, labels=("first", "second")):
    """T1 − T2 in float32."""
    check_same([a, b], labels)
    return {n: a[n].float() - b[n].float() for n in a}


class Difference(DirectionOp):
    name = "difference"
    doc = "T1 − T2 of these two task vectors"
    sources = "two"

    def describe(self, spec):
        return f"{spec['difference'][0]} - {spec['difference'][1]}"

    def build(self, vectors, spec, names):
        return subtract(vectors[0], vectors[1], names)


OP = Difference()
