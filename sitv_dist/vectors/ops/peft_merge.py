"""What the three peft merges (TIES, DARE linear, DARE TIES) share: a weighted merge of task
vectors with the same names and shapes at a density, built by `sitv_dist.vectors.merge`
(peft.utils.merge_utils itself); each op module sets only its name, docstring and seed."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from .direction_op import DENSITY, SEED, WEIGHTS, DirectionOp, check_density, check_seed, check_weights


class PeftMerge(DirectionOp):
    sources = "some"
    needs_peft = True
    density_axis = True
    seeded = False
    """DARE's random drop takes a seed; TIES is deterministic."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.keys = {"weights": WEIGHTS, "density": DENSITY} | ({"seed": SEED} if cls.seeded else {})

    def check(self, spec: Mapping[str, Any], sources: Sequence[str], key: str) -> None:
        check_density(spec["density"], key)
        check_weights(spec["weights"], len(sources), self.name, key)
        if self.seeded:
            check_seed(spec["seed"], key)

    def spec(self, spec: Mapping[str, Any]) -> dict:
        out = {self.name: spec[self.name], "density": spec["density"],
               "weights": spec["weights"] or [1.0] * len(spec[self.name])}
        return out | ({"seed": spec["seed"]} if self.seeded else {})

    def merge_spec(self, of: list[str], weights: list[float], density: float, seed: int) -> dict:
        out = {self.name: of, "weights": weights or [1.0] * len(of), "density": density}
        return out | ({"seed": seed} if self.seeded else {})

    def describe(self, spec: Mapping[str, Any]) -> str:
        weights = spec.get("weights") or [1.0] * len(spec[self.name])
        terms = ", ".join(f"{w:g}*{n}" for w, n in zip(weights, spec[self.name]))
        seed = f"; seed={spec.get('seed', 0)}" if self.seeded else ""
        return f"{self.name}({terms}; density={spec.get('density', 1.0):g}{seed})"

    def build(self, vectors, spec, names):
        from .. import merge
        return merge.merge(self.name, vectors, spec.get("weights") or [1.0] * len(vectors), spec.get("density", 1.0),
                           spec.get("seed", 0))
