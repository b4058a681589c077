"""Multiple-choice sets: items `{"context": str, "choices": [str, ...], "answer": int}` from a
local jsonl file or the embedded sets, checked row by row before any model loads, and which
task has which set (`tasks.N.multiple_choice`)."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from .config import ConfigError, ExperimentConfig, TaskConfig
from .embedded.mc_data import mc_file


@dataclass(frozen=True)
class Item:
    context: str
    choices: tuple[str, ...]
    answer: int


def embedded_mc_file(task: str) -> Path:
    """The shipped multiple-choice set of a built-in task (written by sitv_dist.embedded.mc_data)."""
    return mc_file(task)


def mc_source(task: TaskConfig) -> Path | None:
    """The file a task's multiple-choice set comes from, or None when it has none ('auto': the
    embedded set for a built-in task evaluated on its embedded data)."""
    spec = task.multiple_choice_spec()
    if not spec:
        return None
    return embedded_mc_file(task.name) if spec == "embedded" else Path(spec).expanduser()


def load_items(path: Path, key: str) -> list[Item]:
    """Every item of a jsonl file; any malformed row is a ConfigError naming `key`, the row and the fix."""
    if not path.is_file():
        raise ConfigError(f"{key}: file {str(path)!r} does not exist")
    items = []
    for n, line in enumerate(path.read_text().splitlines()):
        if not line.strip():
            continue
        where = f"{key}: {path} row {n + 1}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{where} is not valid JSON: {exc}") from None
        if not isinstance(row, dict) or not {"context", "choices", "answer"} <= set(row):
            raise ConfigError(f"{where}: give an object with 'context', 'choices' and 'answer'")
        context, choices, answer = row["context"], row["choices"], row["answer"]
        if not isinstance(context, str) or not context.strip():
            raise ConfigError(f"{where}: 'context' must be a string with some text (not only spaces)")
        if (not isinstance(choices, list) or len(choices) < 2
                or not all(isinstance(c, str) and c for c in choices)):
            raise ConfigError(f"{where}: 'choices' must be a list of two or more non-empty strings")
        if not isinstance(answer, int) or isinstance(answer, bool) or not 0 <= answer < len(choices):
            raise ConfigError(f"{where}: 'answer' must be the index of the right choice (0..{len(choices) - 1})")
        items.append(Item(context, tuple(choices), answer))
    if not items:
        raise ConfigError(f"{key}: {path} holds no items; give at least one jsonl row")
    return items


def mc_sets(cfg: ExperimentConfig) -> dict[str, list[Item]]:
    """Each task's multiple-choice items by task name (tasks without a set are left out);
    eval.max_texts limits them like the eval texts."""
    sets = {}
    for i, task in enumerate(cfg.tasks):
        path = mc_source(task)
        if path is not None:
            items = load_items(path, f"tasks.{i}.multiple_choice")
            sets[task.name] = items[:cfg.eval.max_texts] if cfg.eval.max_texts else items
    return sets


def items_hash(items: list[Item]) -> str:
    """Content hash of a set (part of the fingerprint: a changed item makes old points stale)."""
    h = hashlib.sha256()
    for it in items:
        h.update(json.dumps([it.context, list(it.choices), it.answer]).encode())
    return h.hexdigest()[:16]


LM_EVAL_TASK = """task: {name}
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: multiple_choice
doc_to_text: context
doc_to_choice: choices
doc_to_target: answer
target_delimiter: ""
metric_list:
  - metric: acc
  - metric: acc_norm
"""


def lm_eval_task_yaml(name: str, data_file) -> str:
    """An lm-evaluation-harness task over a jsonl multiple-choice file of this format (local,
    offline): what the native scoring reproduces, with the choices' own leading spaces
    (`target_delimiter: ""`)."""
    return LM_EVAL_TASK.format(name=name, data=data_file)

