"""`magnitude_prune`: one task vector with only its largest-magnitude entries per tensor
(peft's `prune(..., "magnitude")`)."""
from __future__ import annotations

from .direction_op import DENSITY, DirectionOp, check_density


class MagnitudePrune(DirectionOp):
    name = "magnitude_prune"
    doc = "this task vector with only its `density` fraction of largest-magnitude entries per tensor"
    label = "magnitude_prune"
    keys = {"density": DENSITY}
    needs_peft = True
    density_axis = True

    def check(self, spec, sources, key):
        check_density(spec["density"], key)

    def spec(self, spec):
        return {"magnitude_prune": spec["magnitude_prune"], "density": spec["density"]}

    def merge_spec(self, of, weights, density, seed):
        return {"magnitude_prune": of[0] if of else "", "density": density}

    def describe(self, spec):
        return f"magnitude_prune({spec['magnitude_prune']}; density={spec.get('density', 1.0):g})"

    def build(self, vectors, spec, names):
        from .. import merge
        return merge.magnitude_prune(vectors[0], spec.get("density", 1.0))


OP = MagnitudePrune()
