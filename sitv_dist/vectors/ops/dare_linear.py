"""`dare_linear`: DARE (Yu et al. 2024) random drop with rescaling, then the weighted sum."""
from __future__ import annotations

from .peft_merge import PeftMerge


class DareLinear(PeftMerge):
    name = "dare_linear"
    doc = "DARE merge of these task vectors (random drop with rescaling, then the weighted sum; seeded by `seed`)"
    label = "DARE merges"
    seeded = True


OP = DareLinear()
