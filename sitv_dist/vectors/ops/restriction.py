"""`restrict`: a task vector kept only on the parameters whose names match (the arithmetic and
the ready-made groups are `sitv_dist.vectors.restrict`)."""
from __future__ import annotations

import re

from ...config.checks import ConfigError
from ..restrict import group_pattern, restrict
from .direction_op import DirectionOp, Key


def groups_of(spec) -> list[str]:
    """A restriction's groups as a list (one name may be given as a string)."""
    groups = spec.get("group") or []
    return [groups] if isinstance(groups, str) else groups


class Restriction(DirectionOp):
    name = "restrict"
    doc = "this task vector kept only on parameters whose names match `include`, every `group` and not `exclude`"
    label = "restrictions ({restrict: NAME})"
    keys = {"include": Key("", "regular expression (re.search) a kept parameter name must match"),
            "exclude": Key("", "regular expression a kept parameter name must not match"),
            "group": Key([], "ready-made groups a kept parameter must be in (all of them): attention, mlp, "
                             "embeddings, norms, layers:A-B (Llama/Gemma/Qwen naming)")}

    def check(self, spec, sources, key):
        groups = groups_of(spec)
        if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
            raise ConfigError(f"{key}.group: a group name or a list of them, got {spec.get('group')!r}")
        for g in groups:
            try:
                group_pattern(g)
            except ValueError as exc:
                raise ConfigError(f"{key}.group: {exc}") from None
        for field in ("include", "exclude"):
            value = spec.get(field, "")
            if not isinstance(value, str):
                raise ConfigError(f"{key}.{field}: a regular expression (string), got {value!r}")
            try:
                re.compile(value)
            except re.error as exc:
                raise ConfigError(f"{key}.{field}: {value!r} is not a valid regular expression ({exc})") from None
        if not (spec.get("include") or spec.get("exclude") or groups):
            raise ConfigError(f"{key}: a restriction needs include, exclude or group (e.g. group: [attention])")

    def spec(self, spec):
        return {"restrict": spec["restrict"], **{k: spec[k] for k in ("include", "exclude", "group") if spec.get(k)}}

    def describe(self, spec):
        parts = [f"group={'+'.join(groups_of(spec))}"] if spec.get("group") else []
        parts += [f"{f}={spec[f]!r}" for f in ("include", "exclude") if spec.get(f)]
        return f"{spec['restrict']} restricted to {'; '.join(parts)}"

    def build(self, vectors, spec, names):
        return restrict(vectors[0], spec.get("include", ""), spec.get("exclude", ""), groups_of(spec))


OP = Restriction()
