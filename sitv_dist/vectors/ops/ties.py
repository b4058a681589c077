"""`ties`: TIES merging (Yadav et al. 2023) of task vectors, peft's arithmetic."""
from __future__ import annotations

from .peft_merge import PeftMerge


class Ties(PeftMerge):
    name = "ties"
    doc = ("TIES merge of these task vectors (peft.utils.merge_utils.ties, majority sign 'total'), tensor by tensor: "
           "keep each tensor's `density` largest entries, elect signs, disjoint mean")
    label = "merges (ties)"


OP = Ties()
