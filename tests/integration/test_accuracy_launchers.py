"""Accuracy is just more per-point data: under torchrun (2 ranks, 4 shards) the native
multiple-choice results and the lm-eval metrics of every point are the same bits as in one
process, and a rerun evaluates nothing."""
import os
import subprocess
import sys
from pathlib import Path

import yaml
from conftest import make_config, records, write_jsonl
from test_lm_eval import ROWS

from sitv_dist.config import load_config
from sitv_dist.mc_items import lm_eval_task_yaml
from sitv_dist.stages import sweep as pipeline

ROOT = Path(__file__).resolve().parents[2]


def with_accuracy(path: Path, data: Path, tasks: Path) -> Path:
    cfg = yaml.safe_load(path.read_text())
    cfg["tasks"][0]["multiple_choice"] = str(data)
    cfg["eval"]["lm_eval"] = {"tasks": ["toy_choice"], "include_path": str(tasks)}
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_accuracy_under_torchrun_equals_one_process(toy, tmp_path):
    data = write_jsonl(tmp_path / "choice.jsonl", ROWS)
    tasks = tmp_path / "lm_tasks"
    tasks.mkdir()
    (tasks / "toy_choice.yaml").write_text(lm_eval_task_yaml("toy_choice", data))
    single, ranks = tmp_path / "single", tmp_path / "ranks"
    opts = {"squaring": False, "compositional": False, "refine_rounds": 0}
    pipeline.sweep(load_config(with_accuracy(make_config(toy, tmp_path, single, **opts), data, tasks)), single,
                   progress=False)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}", TQDM_DISABLE="1")
    cmd = ["bash", str(ROOT / "launch" / "sweep.sh"), str(with_accuracy(make_config(toy, tmp_path, ranks, **opts), data,
                                                                      tasks)), "2", "--set", "sweep.num_shards=4"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    a, b = records(single), records(ranks)
    assert set(a) == set(b) and len(a) == 9
    for pid in a:
        assert a[pid]["sets"]["task:mytask"]["mc"] == b[pid]["sets"]["task:mytask"]["mc"], pid
        assert a[pid]["lm_eval"] == b[pid]["lm_eval"] and "acc" in a[pid]["lm_eval"]["toy_choice"], pid
    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert rerun.returncode == 0 and "0 evaluated" in rerun.stdout, rerun.stdout[-2000:]
