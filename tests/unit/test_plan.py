"""The planner evaluates each unique point once and shards deterministically."""
import pytest

from sitv_dist.config import load_config
from sitv_dist.sweep.plan import coef, make_plan, point_id

from conftest import synthetic_inputs


def plan_for(*overrides):
    cfg = load_config(None, list(overrides))
    return make_plan(cfg, synthetic_inputs(cfg, "fp"))


def test_line_dedupe_squaring_and_compositional_share_points():
    plan = plan_for("sweep.directions=[qa_factual]", "sweep.grids=[]", "sweep.alpha.start=-1",
                    "sweep.alpha.stop=1", "sweep.alpha.num=21")
    alpha = [coef(-1 + 0.1 * k) for k in range(21)]
    expected = set(alpha) | {coef(2 * a) for a in alpha} | {coef(a + a * a) for a in alpha}
    got = {p.coefficients[0] for p in plan.points}
    assert got == expected
    assert plan.requested_evaluations == 3 * 21
    assert plan.unique_points == len(expected) < 63
    # 2α for |α| <= 0.5 lands on the line itself: those points need every set
    line_point = next(p for p in plan.points if p.coefficients == [0.4])
    assert line_point.sets == plan.eval_sets
    derived_only = next(p for p in plan.points if p.coefficients == [2.0])
    assert derived_only.sets == ["general"]


def test_grid_axes_coincide_with_line_points_and_base_is_one_point():
    plan = plan_for("sweep.directions=[sentiment_positive, sentiment_negative]", "sweep.squaring=false",
                    "sweep.compositional=false", "sweep.alpha.start=-1", "sweep.alpha.stop=1", "sweep.alpha.num=5",
                    "sweep.grids.0.range={start: -1, stop: 1, num: 5}")
    assert plan.directions[:2] == ["sentiment_positive", "sentiment_negative"]
    # 2 lines of 5 + a 5x5 grid; the grid's axes contain both lines entirely
    assert plan.requested_evaluations == 5 + 5 + 25
    assert plan.unique_points == 25
    zero = [p for p in plan.points if not any(p.coefficients)]
    assert len(zero) == 1 and len(zero[0].sweeps) == 3


def test_a_grid_without_zero_is_refused_with_the_nearest_num():
    from sitv_dist.config import ConfigError, load_config
    with pytest.raises(ConfigError, match=r"^sweep\.alpha\.num: 11 points from -0\.5 to 1\.5 do not include 0 "
                                          r"\(step 0\.2\); use sweep\.alpha\.num=9$"):
        load_config(None, ["sweep.alpha.num=11"])
    with pytest.raises(ConfigError, match=r"use sweep\.alpha\.num=49$"):
        load_config(None, ["sweep.alpha.num=50"])
    with pytest.raises(ConfigError, match=r"^sweep\.grids\.0\.range\.num: 10 points .* use sweep\.grids\.0\.range\.num=11$"):
        load_config(None, ["sweep.grids.0.range={start: -1.0, stop: 1.5, num: 10}"])
    with pytest.raises(ConfigError, match=r"^sweep\.alpha: the range 0\.5\.\.1\.5 must include 0"):
        load_config(None, ["sweep.alpha.start=0.5", "sweep.alpha.num=2"])
    assert load_config(None, ["sweep.alpha.num=9"]).sweep.alpha.num == 9


def test_sharding_is_deterministic_balanced_and_ids_survive_resharding():
    plan = plan_for("sweep.num_shards=4")
    again = plan_for("sweep.num_shards=4")
    assert plan == again
    sizes = [len(plan.shard_points(s)) for s in range(4)]
    assert max(sizes) - min(sizes) <= 1 and sum(sizes) == plan.unique_points
    other = plan.reshard(3)
    assert [p.id for p in other.points] == [p.id for p in plan.points]
    assert {p.shard for p in other.points} == {0, 1, 2}
    assert len({p.id for p in plan.points}) == plan.unique_points


def test_point_id_ignores_zero_coefficients_and_direction_order():
    assert point_id(["a", "b"], [0.5, 0.0]) == point_id(["a"], [0.5])
    assert point_id(["a", "b"], [0.5, 0.25]) == point_id(["b", "a"], [0.25, 0.5])
    assert point_id(["a"], [0.5]) != point_id(["b"], [0.5])
    assert coef(2 * 0.35) == coef(0.7) and str(coef(-0.0)) == "0.0"
