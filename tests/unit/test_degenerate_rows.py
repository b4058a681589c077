"""No degenerate row in the report: a tie at the base is no change, a concave or unresolved
quadratic's −2g/h is marked, a barrier without a point between both ends is n/a, a category
minimum at α = 0 is not interior, and the replicates' share is said in words."""
from __future__ import annotations

from sitv_dist.results.accuracy import _best
from sitv_dist.results.analysis.barrier import barrier
from sitv_dist.results.report.other_sections import _return_cell, derivatives_section


def test_best_accuracy_tying_the_base_is_no_change():
    alpha = [-0.5, 0.0, 0.5]
    tie = _best(alpha, [0.25, 0.25, 0.20], "acc", base=0.25)
    assert tie == {"x": None, "y": 0.25, "no_change": True}
    better = _best(alpha, [0.25, 0.25, 0.31], "acc", base=0.25)
    assert better == {"x": 0.5, "y": 0.31, "no_change": False}
    # lower is better for a perplexity: a tie at the base there is no change too
    assert _best(alpha, [9.0, 9.0, 9.5], "word_perplexity", base=9.0)["no_change"] is True


def test_concave_unresolved_return_is_marked():
    concave = {"slope": -0.5, "curvature": -0.0252, "slope_interval": [-0.9, 0.1],
               "curvature_interval": [-0.06, 0.01], "predicted_min": None, "predicted_return": -39.7}
    assert _return_cell(concave) == "-39.7 (concave, not resolved)"
    convex = {"slope": -0.2, "curvature": 0.4, "slope_interval": [-0.3, -0.1],
              "curvature_interval": [0.3, 0.5], "predicted_min": 0.5, "predicted_return": 1.0}
    assert _return_cell(convex) == "1"
    assert _return_cell(dict(convex, predicted_return=None)) == "n/a"
    an = {"sweeps": {"line_x": {"kind": "line", "derivatives": {"general": concave}}}}
    row = next(line for line in derivatives_section(an) if line.startswith("| general"))
    assert "-39.7 (concave, not resolved)" in row


def test_barrier_without_a_point_between_the_ends_is_na():
    assert barrier([0.0, 1.0], [3.0, 2.5])["value"] is None       # both ends only: 0 by construction
    assert barrier([0.0, 0.5], [3.0, 2.5])["value"] is None       # no α = 1
    b = barrier([0.0, 0.5, 1.0], [3.0, 3.0, 2.0])
    assert b["value"] == 0.5 and b["alpha"] == 0.5 and b["loss_0"] == 3.0 and b["loss_1"] == 2.0


def test_category_minimum_at_the_base_is_not_interior():
    from sitv_dist.results.analysis.landscape import analyse
    from test_report import CATS, line_results
    res = line_results()
    for p in res["points"]:                                   # "coding" rises away from α = 0 on both sides
        c = p["coefficients"][0]
        p["general"]["categories"][CATS[0]]["loss"] = 2.0 + c * c
    cats = analyse(res)["categories"]
    assert cats[CATS[0]]["min"]["x"] == 0.0 and cats[CATS[0]]["min"]["interior"] is False
    assert cats[CATS[1]]["min"]["x"] == 0.6 and cats[CATS[1]]["min"]["interior"] is True


def test_replicates_share_is_said_in_words():
    from sitv_dist.results.report.line_sections import line_sections
    f = {"samples": 5, "refined": 0, "level": 0.95, "crossings": [], "minima": [], "statement": "",
         "global_min": {"x": 0.5, "loss": 2.9, "depth": -0.1, "interior": True, "interval": [0.25, 0.75],
                        "at_same_c": 0.03}}
    an = {"sweeps": {"line_x": {"kind": "line", "direction": "x", "base_loss": 3.0, "findings": f,
                                "curves": {"alpha": [0.0], "task": None}}}}
    text = "\n".join(line_sections(an))
    assert ("in the bootstrap replicates the lowest point lies in c = 0.2500 .. 0.7500 (3% of the replicates "
            "have their lowest point at the same c as this run).") in text
