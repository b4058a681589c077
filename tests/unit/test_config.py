"""Bad input fails early with one clear error that names the key."""
import pytest

from sitv_dist.cli import main
from sitv_dist.config import ConfigError, load_config, reference


def write(tmp_path, text):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


def test_defaults_are_the_embedded_experiment():
    cfg = load_config()
    assert cfg.model.name_or_path == "embedded"
    assert cfg.direction_names() == ["sentiment_positive", "sentiment_negative", "qa_factual",
                                     "instruction_following"]
    assert cfg.sweep.alpha.num == 21 and cfg.sweep.alpha.start == -0.5


def test_set_overrides_nested_and_list_items(tmp_path):
    cfg = load_config(None, ["sweep.alpha.num=41", "sweep.grids.0.range.num=21", "finetune.lr=0.01",
                             "sweep.directions=[qa_factual]"])
    assert cfg.sweep.alpha.num == 41
    assert cfg.sweep.grids[0].range.num == 21
    assert cfg.finetune.lr == 0.01
    assert cfg.sweep.directions == ["qa_factual"]


@pytest.mark.parametrize("text, overrides, key", [
    ("sweep:\n  alpah: {num: 3}\n", [], "sweep.alpah: unknown key"),
    ("finetune:\n  epochs: three\n", [], "finetune.epochs: expected int"),
    ("", ["sweep.alpha.start=2", "sweep.alpha.stop=1"], "sweep.alpha: empty or inverted range"),
    ("", ["sweep.alpha.num=1"], "sweep.alpha.num"),
    ("tasks:\n  - {name: poetry}\n", [], "tasks.0.train: task 'poetry' has no embedded data"),
    ("eval:\n  general: /nonexistent/general.jsonl\n", [], "eval.general: file '/nonexistent/general.jsonl'"),
    ("", ["sweep.directions=[nope]"], "sweep.directions: unknown direction 'nope'"),
    ("", ["sweep.task_vectors={x: /no/such.safetensors}"], "sweep.task_vectors.x"),
    ("", ["model.dtype=float8"], "model.dtype"),
    ("", ["sweep.vector_dtype=int8"], "sweep.vector_dtype"),
    ("", ["finetune.threads=-1"], "finetune.threads: must be >= 0"),
    ("", ["sweep.grids.0.directions=[qa_factual]"], "sweep.grids.0.directions"),
    ("model:\n  name_or_path: ./no-such-model-dir/\n", [], "model.name_or_path"),
])
def test_errors_name_the_key(tmp_path, text, overrides, key):
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text), overrides)
    assert key in str(err.value)


def test_missing_config_file_and_bad_override():
    with pytest.raises(ConfigError, match="does not exist"):
        load_config("/no/such/config.yaml")
    with pytest.raises(ConfigError, match="KEY.PATH=VALUE"):
        load_config(None, ["sweep.alpha.num"])


def test_cli_reports_config_error_before_loading_anything(tmp_path, capsys):
    rc = main(["run", "--set", "sweep.alpha.num=0", "--set", f"out_dir={tmp_path / 'o'}"])
    assert rc == 2
    assert "sweep.alpha.num" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_reference_documents_every_key():
    text = reference()
    for key in ("`sweep.alpha.num`", "`finetune.patience`", "`eval.max_length`", "`sweep.grids.N.directions`"):
        assert key in text
