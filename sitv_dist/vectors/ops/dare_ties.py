"""`dare_ties`: DARE's random drop, then TIES' sign election and disjoint merge."""
from __future__ import annotations

from .peft_merge import PeftMerge


class DareTies(PeftMerge):
    name = "dare_ties"
    doc = "DARE drop, then TIES sign election and disjoint merge of these task vectors (seeded by `seed`)"
    label = "DARE merges"
    seeded = True


OP = DareTies()
