"""Shared fixtures: a toy Llama (tied embeddings) with a locally trained tokenizer, a
perturbed 'fine-tuned' copy, and small eval files — all built in seconds, offline.

Tests under tests/integration/ start real launchers (torchrun, DeepSpeed, Slurm) or whole
runs; they are marked `integration`, so `python -m pytest -m "not integration"` is the fast
inner loop and `python -m pytest tests` runs everything."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
import yaml

torch.set_num_threads(1)   # bitwise comparisons across processes assume one thread count

SENTENCES = [
    "The river runs north through the old town and meets the sea near the harbour.",
    "def add(a, b): return a + b  # adds two numbers",
    "Water boils at one hundred degrees Celsius at sea level.",
    "I loved this film, the acting was wonderful and the music was great.",
    "This hotel was terrible, the room was dirty and the staff were rude.",
    "Question: What is the capital of France? Answer: Paris.",
    "Instruction: List three fruits. Response: apple, banana, cherry.",
    "SELECT name FROM users WHERE age > 30 ORDER BY name;",
    "A week has seven days and a year has twelve months.",
    "The committee met on Monday to review the budget for the new season.",
]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


INTEGRATION = Path(__file__).resolve().parent / "integration"


def pytest_collection_modifyitems(config, items):
    for item in items:
        if INTEGRATION in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory):
    """The embedded base is built into a per-session cache, never the user's."""
    os.environ["SITV_CACHE"] = str(tmp_path_factory.mktemp("sitv-cache"))
    os.environ.setdefault("TQDM_DISABLE", "1")


@pytest.fixture(scope="session")
def toy(tmp_path_factory) -> dict:
    from transformers import LlamaConfig, LlamaForCausalLM

    from sitv_dist.embedded.tokenizer import train_tokenizer
    root = tmp_path_factory.mktemp("toy")
    tok = train_tokenizer(300, SENTENCES * 3)
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=128,
                      tie_word_embeddings=True, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
    base = LlamaForCausalLM(cfg)
    base.save_pretrained(root / "base")
    tok.save_pretrained(root / "base")
    torch.manual_seed(1)
    with torch.no_grad():
        for p in base.parameters():
            p.add_(0.05 * torch.randn_like(p))
    base.save_pretrained(root / "ft")
    tok.save_pretrained(root / "ft")
    torch.manual_seed(2)
    with torch.no_grad():
        for p in base.parameters():
            p.add_(0.05 * torch.randn_like(p))
    base.save_pretrained(root / "ft2")
    cats = ["wikitext", "coding", "common_knowledge", "mixed_domain", "mixed_domain",
            "common_knowledge", "mixed_domain", "coding", "common_knowledge", "wikitext"]
    general = write_jsonl(root / "general.jsonl", [{"text": s, "category": c} for s, c in zip(SENTENCES, cats)])
    task = write_jsonl(root / "task.jsonl", [{"text": s} for s in SENTENCES[3:7]])
    return {"root": root, "base": root / "base", "ft": root / "ft", "ft2": root / "ft2", "general": general,
            "task": task}


def make_config(toy, tmp_path, out, grid_num=0, **sweep):
    """A sweep config over the toy checkpoints: direction 'mytask' (ft − base) with a task
    eval set, and with grid_num > 0 a grid_num × grid_num grid over 'mytask' and 'other'."""
    from sitv_dist.cli import main
    vectors = {"mytask": tmp_path / "T.safetensors", "other": tmp_path / "T2.safetensors"}
    for name, ft in (("mytask", toy["ft"]), ("other", toy["ft2"])):
        if not vectors[name].exists():
            assert main(["taskvector", "--base", str(toy["base"]), "--finetuned", str(ft),
                         "--out", str(vectors[name])]) == 0
    grids = [{"directions": ["mytask", "other"], "range": {"start": -2.0, "stop": 2.0, "num": grid_num}}] if grid_num else []
    cfg = {"out_dir": str(out), "model": {"name_or_path": str(toy["base"])},
           "tasks": [{"name": "mytask", "train": "", "eval": str(toy["task"])}],
           "eval": {"general": str(toy["general"]), "max_length": 64, "batch_size": 4},
           "sweep": {"directions": ["mytask"], "task_vectors": {k: str(v) for k, v in vectors.items()},
                     "alpha": {"start": -1.0, "stop": 1.0, "num": 9}, "grids": grids, **sweep}}
    path = tmp_path / f"{out.name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def records(out):
    return {p.stem: json.loads(p.read_text()) for p in (out / "points").glob("p*.json")}


@pytest.fixture(scope="session")
def slurm_cluster():
    """A real single-node Slurm, started by the project's script (and stopped after the
    tests if this session started it). Needs root and Debian's Slurm packages; CI runs as
    root and installs them. Where it cannot start, the test fails and says how to start it."""
    import subprocess
    root = Path(__file__).resolve().parents[1]
    script = root / "slurm" / "local-cluster.sh"
    running = subprocess.run(["bash", str(script), "status"], capture_output=True).returncode == 0
    out = subprocess.run(["bash", str(script), "start"], capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        how = ("CI must start it in .ci/run" if os.environ.get("CI") else
               f'start it by hand (as root): eval "$(bash {script} start)", or deselect with -m "not integration"')
        pytest.fail(f"no Slurm cluster: slurm/local-cluster.sh start failed; {how}\n{out.stderr[-3000:]}",
                    pytrace=False)
    for line in out.stdout.splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        os.environ[key] = value.replace('"$PATH"', os.environ["PATH"]).strip('"')
    yield
    if not running:
        subprocess.run(["bash", str(script), "stop"], capture_output=True, timeout=120)


def synthetic_inputs(cfg, tag: str) -> dict:
    """Plan inputs (sitv_dist.sweep.fingerprint) for plans built without files: every
    direction and eval set of `cfg` gets a digest derived from `tag`."""
    from sitv_dist.sweep.plan import eval_set_names
    return {"model": {"files": {"model.safetensors": tag}}, "settings": {},
            "directions": {d: f"{tag}:{d}" for d in cfg.direction_names()},
            "sets": {s: f"{tag}:{s}" for s in eval_set_names(cfg)}}
