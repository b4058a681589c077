"""Every bad input of scripts/bad_inputs.py ends in one clear error line before any model
loads, and docs/reliability.md is the table that script writes now."""
from doc_pages import check_page, load_script


def test_bad_inputs_table_is_current_and_every_case_is_one_early_error(capsys):
    module = load_script("bad_inputs")
    assert len(module.CASES) >= 40
    numbers = check_page(module, "reliability.md", capsys)
    assert numbers == {"cases": len(module.CASES), "misbehaving": 0}
