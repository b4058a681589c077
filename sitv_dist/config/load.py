"""Loading a config: defaults <- YAML file <- `--set KEY=VALUE` overrides, converted to the
dataclasses with the key of any unknown field or wrong type named, then validated; and the
YAML text of a resolved config (what OUT/config.resolved.yaml holds)."""
from __future__ import annotations

import copy
import dataclasses
import math
import os
import types
import typing
from pathlib import Path
from typing import Any

import yaml

from .checks import ConfigError
from .experiment import ExperimentConfig


def load_config(path: str | os.PathLike | None = None, overrides: list[str] = (),
                values: dict[str, Any] | None = None) -> ExperimentConfig:
    """Defaults <- YAML file <- `key.path=value` overrides <- dotted-key `values` (the Python
    API's keyword overrides), then validated."""
    data: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file {str(p)!r} does not exist")
        size = p.stat().st_size
        if size > MAX_CONFIG_BYTES:      # refuse by size before reading: a config is a few KiB
            raise ConfigError(f"config file {p}: {size:,} bytes, above the {MAX_CONFIG_BYTES:,} a config may have; "
                              "is this the right file?")
        try:
            data = yaml.load(p.read_text(), Loader=_UniqueKeyLoader) or {}
        except UnicodeDecodeError:
            raise ConfigError(f"config file {p}: not UTF-8 text; save it as UTF-8") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {p}: not valid YAML: {_yaml_problem(exc)}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"config file {p}: the top level must be a mapping of keys")
    for item in overrides:
        _apply_override(data, item)
    return config_from_data(data, values)


def config_from_data(data: dict, values: dict[str, Any] | None = None) -> ExperimentConfig:
    """Plain config data (a YAML file's mapping) with dotted-key `values` set, validated: the
    Python API's `Experiment.from_dict` (`data` is not changed)."""
    if not isinstance(data, dict):
        raise ConfigError(f"config: expected a mapping of keys, got {type(data).__name__}")
    data = copy.deepcopy(data)
    for key, value in (values or {}).items():
        set_key(data, key, value)
    return from_dict(ExperimentConfig, data, "").validate()


MAX_CONFIG_BYTES = 1 << 20          # 1 MiB
MAX_CONFIG_NODES = 100_000          # nodes after expanding aliases ("billion laughs" has 10**9)


def _expanded_nodes(node, memo: dict) -> int:
    """How many nodes `node` stands for once every alias is expanded (shared nodes counted once
    per use, each computed once), so an alias bomb is measured without being expanded."""
    key = id(node)
    if key not in memo:
        memo[key] = 1           # a recursive alias counts once rather than looping
        children = node.value if isinstance(node.value, list) else []
        total = 1
        for child in children:
            for part in (child if isinstance(child, tuple) else (child,)):
                total += _expanded_nodes(part, memo)
        memo[key] = total
    return memo[key]


class _UniqueKeyLoader(yaml.SafeLoader):
    """yaml.safe_load, except that a key given twice in one mapping is an error: PyYAML keeps
    the last one silently, which can replace a whole section without a word; and a document
    whose aliases expand to more than MAX_CONFIG_NODES nodes is refused before it is built."""

    def construct_document(self, node):
        if _expanded_nodes(node, {}) > MAX_CONFIG_NODES:
            raise yaml.constructor.ConstructorError(
                None, None, f"its aliases expand to more than {MAX_CONFIG_NODES:,} values (an alias bomb?); "
                "write the values out", node.start_mark)
        return super().construct_document(node)

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} appears twice in one mapping; keep one", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """PyYAML's multi-line message as one line: the problem and where it is."""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    mark = getattr(exc, "problem_mark", None)
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}" if mark else problem


def _apply_override(data: dict, item: str) -> None:
    key, sep, raw = item.partition("=")
    if not sep or not key or "" in key.split("."):
        raise ConfigError(f"--set {item!r}: expected KEY.PATH=VALUE, e.g. sweep.alpha.num=41")
    try:
        value = yaml.load(raw, Loader=_UniqueKeyLoader) if raw.strip() else ""
    except yaml.YAMLError as exc:
        raise ConfigError(f"--set {key}: the value {raw!r} is not valid YAML ({_yaml_problem(exc)}); quote strings, "
                          "e.g. --set name='a: b'") from None
    set_key(data, key, value)


def set_key(data: dict, key: str, value: Any) -> None:
    """Set the dotted `key` (list items by index) of plain config data to `value`."""
    if not key or "" in key.split("."):
        raise ConfigError(f"--set {key!r}: expected KEY.PATH=VALUE, e.g. sweep.alpha.num=50")
    parts = key.split(".")
    node: Any = data
    for i, part in enumerate(parts[:-1]):
        if isinstance(node, list):
            node = node[_list_index(node, part, ".".join(parts[:i + 1]))]
            continue
        if not isinstance(node, dict):
            raise ConfigError(f"--set {key}: {'.'.join(parts[:i])} is a single value ({node!r}), not a section "
                              "with keys; set it directly")
        if part not in node:
            node[part] = _default_subtree(parts[:i + 1])
        node = node[part]
    if not isinstance(node, (dict, list)):
        raise ConfigError(f"--set {key}: {'.'.join(parts[:-1])} is a single value ({node!r}), not a section "
                          "with keys; set it directly")
    last = parts[-1]
    if isinstance(node, list):
        node[_list_index(node, last, key)] = value
    else:
        node[last] = value


def _default_subtree(parts: list[str]) -> Any:
    """The default value at a dotted path, as plain data, so overrides can index into lists."""
    node: Any = to_dict(ExperimentConfig())
    for part in parts:
        if isinstance(node, list):
            node = node[_list_index(node, part, ".".join(parts))]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return {}
    return node


def _list_index(node: list, part: str, key: str) -> int:
    if not part.isdigit() or int(part) >= len(node):
        raise ConfigError(f"--set {key}: {part!r} is not an index of a list of {len(node)} items")
    return int(part)


def from_dict(cls: type, data: Any, key: str) -> Any:
    """Build dataclass `cls` from plain data, naming the key of any unknown field or wrong type."""
    if not isinstance(data, dict):
        raise ConfigError(f"{key or 'config'}: expected a mapping, got {type(data).__name__} {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - fields)
    if unknown:
        prefix = f"{key}." if key else ""
        raise ConfigError(f"{prefix}{unknown[0]}: unknown key; valid keys here: {', '.join(sorted(fields))}")
    kwargs = {name: _convert(hints[name], value, f"{key}.{name}" if key else name) for name, value in data.items()}
    return cls(**kwargs)


def _convert(tp: Any, value: Any, key: str) -> Any:
    if tp is Any:                    # opaque to this layer (derived directions: checked by their ops)
        return value
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, key)
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        (item,) = typing.get_args(tp)
        return [_convert(item, v, f"{key}.{i}") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        _, vt = typing.get_args(tp)
        return {str(k): _convert(vt, v, f"{key}.{k}") for k, v in value.items()}
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return None if value is None else _convert(args[0], value, key)
    if tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value):     # no setting means anything at NaN or infinity
            raise ConfigError(f"{key}: must be a finite number, got {value}")
        return float(value)
    if tp is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if tp in (str, bool) and isinstance(value, tp):
        return value
    if tp is str and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise ConfigError(f"{key}: expected {tp.__name__}, got {type(value).__name__} {value!r}")


def to_dict(cfg: Any) -> Any:
    return dataclasses.asdict(cfg)

def dump(cfg: ExperimentConfig) -> str:
    """The YAML text of a config (every setting, in field order)."""
    return yaml.safe_dump(to_dict(cfg), sort_keys=False)


def read_resolved(path: str | os.PathLike) -> ExperimentConfig:
    """A run's OUT/config.resolved.yaml as dataclasses, for reading results: converted and
    type-checked but not validated (its files may live on another machine by now)."""
    data = yaml.safe_load(Path(path).read_text()) or {}
    return from_dict(ExperimentConfig, data, "")
