"""The search space: uniform per-layer proposals are the line's own point; part views of a
LoRA adapter keep its factors (no copy)."""
import torch

from sitv_dist.sweep.plan import point_id
from sitv_dist.sweep.search.space import part_views, point_vector
from sitv_dist.vectors.lora import Factor, LoraDirection

DIRECTIONS = ["qa", "other", "qa@layer0", "qa@layer1", "qa@head"]
COORDS = ["qa@layer0", "qa@layer1", "qa@head"]


def test_a_uniform_proposal_is_the_line_point():
    vector = point_vector(DIRECTIONS, COORDS, [0.25, 0.25, 0.25])
    assert vector == [0.25, 0.0, 0.0, 0.0, 0.0]
    assert point_id(DIRECTIONS, vector) == point_id(["qa"], [0.25])      # the line's id, in any plan
    assert point_id(DIRECTIONS, point_vector(DIRECTIONS, COORDS, [0.0, 0.0, 0.0])) == point_id(["qa"], [0.0])


def test_a_non_uniform_proposal_moves_the_parts():
    vector = point_vector(DIRECTIONS, COORDS, [0.25, -0.5, 0.25])
    assert vector == [0.0, 0.0, 0.25, -0.5, 0.25]
    assert point_id(DIRECTIONS, vector) != point_id(["qa"], [0.25])
    # whole directions (split none) pass through unchanged
    assert point_vector(DIRECTIONS, ["qa", "other"], [0.5, -1.0]) == [0.5, -1.0, 0.0, 0.0, 0.0]


def test_lora_part_views_share_the_factors():
    def factor():
        return Factor(torch.randn(2, 4), torch.randn(4, 2), 0.5, False)
    names = ["model.layers.0.self_attn.q_proj.weight", "model.layers.1.self_attn.q_proj.weight", "lm_head.weight"]
    lora = LoraDirection({n: factor() for n in names}, "adapter")
    parts = part_views({"qa": lora}, ["qa@layer0", "qa@layer1", "qa@head"], "layers")
    assert parts["qa@layer0"].names() == [names[0]] and parts["qa@head"].names() == [names[2]]
    assert all(parts[p].factors[n] is lora.factors[n] for p in parts for n in parts[p].names())
