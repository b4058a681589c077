"""The configuration reference: every key with its default and docstring, generated from the
dataclasses (the README's reference section is this text)."""
from __future__ import annotations

import ast
import dataclasses
import inspect
import typing

from .experiment import ExperimentConfig
from .sweep_section import GridConfig


def reference() -> str:
    """Markdown reference of every key with its default and docstring (for the README)."""
    lines: list[str] = []
    _reference(ExperimentConfig, "", lines)
    return "\n".join(lines)


def _reference(cls: type, prefix: str, lines: list[str]) -> None:
    docs = _field_docs(cls)
    hints = typing.get_type_hints(cls)
    defaults = cls() if cls is not GridConfig else GridConfig(directions=["a", "b"])
    for f in dataclasses.fields(cls):
        key = f"{prefix}{f.name}"
        value = getattr(defaults, f.name)
        is_dict = typing.get_origin(hints[f.name]) is dict
        item = typing.get_args(hints[f.name])[-1] if is_dict else None     # dict[str, SomeConfig]: document SomeConfig
        if dataclasses.is_dataclass(item):
            lines.append(f"- `{key}` (default `{value!r}`): {docs.get(f.name, '')} Each entry:")
            _reference(item, key + ".NAME.", lines)
        elif dataclasses.is_dataclass(value):
            lines.append(f"- `{key}`: {docs.get(f.name, '')}")
            _reference(type(value), key + ".", lines)
        elif isinstance(value, list) and value and dataclasses.is_dataclass(value[0]):
            lines.append(f"- `{key}`: {docs.get(f.name, '')} Each item:")
            _reference(type(value[0]), key + ".N.", lines)
        elif typing.get_origin(hints[f.name]) is list and dataclasses.is_dataclass(typing.get_args(hints[f.name])[0]):
            lines.append(f"- `{key}` (default `{value!r}`): {docs.get(f.name, '')} Each item:")   # an empty list
            _reference(typing.get_args(hints[f.name])[0], key + ".N.", lines)
        else:
            lines.append(f"- `{key}` (default `{value!r}`): {docs.get(f.name, '')}")


def _field_docs(cls: type) -> dict[str, str]:
    """Field docstrings: the string literal right after each field in the class body."""
    tree = ast.parse(inspect.getsource(cls))
    body = tree.body[0].body
    docs = {}
    for node, nxt in zip(body, body[1:]):
        if isinstance(node, ast.AnnAssign) and isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant):
            docs[node.target.id] = " ".join(str(nxt.value.value).split())
    return docs
