"""The scores registry (sitv_dist.sweep.scores): what enters the fingerprint stays what it was
before the registry (so no existing point goes stale), reduce and the report go through the
registry, and the sweep layer never imports the results layer."""
import ast
import importlib.metadata
from pathlib import Path

import sitv_dist
from sitv_dist.config import load_config
from sitv_dist.results.report_sections import score_sections, section_function
from sitv_dist.sweep.scores.score import Score
from sitv_dist.sweep.scores.scores_registry import SCORES, reduce_point, reduce_set, score_settings


def test_registry_lists_the_scores_in_their_fixed_order():
    assert list(SCORES) == ["loss", "mc", "lm_eval"]       # the order of keys in fingerprints and results
    assert all(issubclass(cls, Score) and cls.name == name for name, cls in SCORES.items())


def test_score_settings_are_byte_for_byte_what_they_were(tmp_path):
    """Values recorded before the registry existed: a changed key, value or order would make
    every existing run's points stale."""
    (tmp_path / "t.yaml").write_text("task: t\n")
    cfg = load_config(None, ["eval.lm_eval.tasks=[t]", f"eval.lm_eval.include_path={tmp_path}", "eval.max_texts=5"])
    assert list(score_settings(cfg).items()) == [
        ("mc:sentiment_positive", "23e086f1b84aa424"), ("mc:sentiment_negative", "d1e7dd1392a837de"),
        ("mc:qa_factual", "80945b86d879112c"), ("mc:instruction_following", "16c141c6e7386bf5"),
        ("lm_eval", {"tasks": ["t"], "include_path": str(tmp_path), "limit": 0, "num_fewshot": -1, "seed": 0,
                     "version": importlib.metadata.version("lm-eval"), "include_files": "2df74302b5c467aa"})]
    none = load_config(None, [f"tasks.{i}.multiple_choice=" for i in range(len(cfg.tasks))])
    assert score_settings(none) == {}


def test_reduce_keeps_each_scores_summary():
    entry = {"loss": 2.0, "nll_sum": 8.0, "tokens": 4, "per_text_nll": [1.0], "categories": {"c": {"loss": 2.0}},
             "mc": {"acc": 0.5, "acc_norm": 1.0, "items": 2, "correct": [0, 1], "loglikelihoods": [[-1.0, -2.0]]}}
    assert list(reduce_set(entry).items()) == [("loss", 2.0), ("nll_sum", 8.0), ("tokens", 4),
                                               ("categories", {"c": {"loss": 2.0}}),
                                               ("mc", {"acc": 0.5, "acc_norm": 1.0, "items": 2})]
    assert reduce_set({"loss": 9.9, "nll_sum": 1.0, "tokens": 1, "degenerate": True}) == \
        {"loss": None, "nll_sum": 1.0, "tokens": 1, "degenerate": True}
    assert reduce_point({"lm_eval": {"t": {"acc": 1.0}}}, {"id": "p"}) == {"id": "p", "lm_eval": {"t": {"acc": 1.0}}}
    assert reduce_point({}, {"id": "p"}) == {"id": "p"}


def test_every_named_report_section_resolves():
    for cls in SCORES.values():
        if cls.report_section:
            assert callable(section_function(cls.report_section)), cls.report_section
    assert score_sections({}) == []          # nothing to report: no section at all


def test_scores_never_import_results():
    """`results` is the layer above `sweep`: a score's report section is named, not imported.
    (Only the scores package: sweep/refine.py still imports results.analysis.find_crossings.)"""
    root = Path(sitv_dist.__file__).parent
    for path in (root / "sweep" / "scores").rglob("*.py"):
        package = ["sitv_dist", *path.relative_to(root).parent.parts]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = package[:len(package) - node.level + 1] if node.level else []
                names = [".".join(base + ([node.module] if node.module else []))]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            assert not any(n == "sitv_dist.results" or n.startswith("sitv_dist.results.") for n in names), \
                f"{path}: imports {names}"
