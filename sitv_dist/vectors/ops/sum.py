"""`sum`: T1 + T2 + … (task addition), in float32, summed in the given order."""
from __future__ import annotations

from .direction_op import DirectionOp, check_same


def add(vectors, labels=None):
    """T1 + T2 + … in float32, summed in the given order."""
    if len(vectors) < 2:
        raise ValueError(f"a sum needs at least two task vectors, got {len(vectors)}")
    check_same(vectors, labels or [f"vector {i}" for i in range(len(vectors))])
    out = {n: t.float().clone() for n, t in vectors[0].items()}
    for v in vectors[1:]:
        for n in out:
            out[n] += v[n].float()
    return out


class Sum(DirectionOp):
    name = "sum"
    doc = "T1 + T2 + … of these task vectors"
    sources = "several"

    def describe(self, spec):
        return " + ".join(spec["sum"])

    def build(self, vectors, spec, names):
        return add(vectors, names)


OP = Sum()
