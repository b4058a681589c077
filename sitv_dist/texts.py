"""Text sets from the embedded data, local jsonl/json/txt files, or hub datasets; the eval sets
of an experiment by their plan names."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .config import ConfigError, ExperimentConfig
from .embedded.corpus import data_file


@dataclass(frozen=True)
class Text:
    text: str
    category: str = "all"


def load_texts(source: str, *, key: str, embedded_name: str, split: str,
               text_field: str = "text", category_field: str | None = None, limit: int = 0) -> list[Text]:
    """Load one text set; `key` names the config field in errors (e.g. 'tasks.0.eval')."""
    if source == "embedded":
        rows = _read_local(data_file(embedded_name, split), key)
    elif source.startswith("hf:"):
        rows = _read_hub(source, key)
    else:
        rows = _read_local(Path(source).expanduser(), key)
    texts = []
    for i, row in enumerate(rows):
        if isinstance(row, str):
            row = {text_field: row}
        if not isinstance(row, dict):
            raise ConfigError(f"{key}: row {i} of {source!r} is {type(row).__name__} {str(row)[:40]!r}, not a "
                              f'string or an object like {{"{text_field}": "..."}}; fix that row')
        if text_field not in row:
            raise ConfigError(f"{key}: row {i} of {source!r} has no field {text_field!r} "
                              f"(fields: {', '.join(row)}); set the text_field")
        category = str(row.get(category_field, "all")) if category_field else "all"
        texts.append(Text(str(row[text_field]), category))
    texts = [t for t in texts if t.text.strip()]
    if limit:
        texts = texts[:limit]
    if not texts:
        raise ConfigError(f"{key}: {source!r} holds no texts; give a file with at least one non-empty text")
    return texts


def _read_local(path: Path, key: str) -> list:
    if not path.is_file():
        raise ConfigError(f"{key}: file {str(path)!r} does not exist")
    try:
        raw = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{key}: {path} is not UTF-8 text (byte {exc.start}: {exc.reason}); "
                          "convert it, e.g. iconv -f latin1 -t utf-8") from None
    if path.suffix == ".txt":
        return [line for line in raw.splitlines() if line.strip()]
    try:
        if path.suffix == ".json":
            data = json.loads(raw) if raw.strip() else []
            if isinstance(data, dict) and isinstance(data.get("data", []), list):
                return data.get("data", [])
            if not isinstance(data, list):
                raise ConfigError(f'{key}: {path} must hold a JSON list of rows (or {{"data": [...]}}), '
                                  f"not {type(data).__name__}")
            return data
        return [json.loads(line) for line in raw.splitlines() if line.strip()]
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{key}: {path} is not valid JSON/JSONL: {exc}") from None


def _read_hub(source: str, key: str) -> list:
    import datasets
    parts = source[3:].split(":")
    name, config, split = (parts[0], None, parts[1]) if len(parts) == 2 else (parts[0], parts[1], parts[2])
    try:
        return list(datasets.load_dataset(name, config, split=split))
    except Exception as exc:  # the hub or the dataset is unreachable
        raise ConfigError(f"{key}: could not load hub dataset {source!r}: {exc}") from None


def eval_texts(cfg: ExperimentConfig) -> dict[str, list[Text]]:
    """Every eval set by its plan name: 'general' and 'task:<name>'."""
    e = cfg.eval
    sets = {"general": load_texts(e.general, key="eval.general", embedded_name="general", split="eval",
                                  text_field=e.text_field, category_field=e.category_field, limit=e.max_texts)}
    for i, t in enumerate(cfg.tasks):
        sets[f"task:{t.name}"] = load_texts(t.eval, key=f"tasks.{i}.eval", embedded_name=t.name, split="eval",
                                            text_field=t.text_field, limit=e.max_texts)
    return sets
