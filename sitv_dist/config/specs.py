"""Derived-direction specs (`sweep.derived_directions` entries): their form, checked before
any file is touched, the task vectors each is made from, and a one-line description.
`sitv_dist.vectors.derived` builds the tensors."""
from __future__ import annotations

import importlib.util
import re

from .checks import ConfigError

NORMALIZATIONS = ("global", "layer", "filter")
ONE_D = ("zero", "tensor")
OPERATIONS = ("random", "negate", "sum", "difference", "ties", "dare_linear", "dare_ties", "magnitude_prune",
              "restrict")
MERGES = ("ties", "dare_linear", "dare_ties")
# Ready-made restriction groups for the Hugging Face naming of Llama, Gemma and Qwen decoders
# (sitv_dist.vectors.restrict documents them); plus "layers:A-B".
GROUPS = {
    "attention": r"(^|\.)self_attn\.",
    "mlp": r"(^|\.)mlp\.",
    "embeddings": r"(^|\.)(embed_tokens|lm_head)\.",
    "norms": r"(^|\.)(input_layernorm|post_attention_layernorm|pre_feedforward_layernorm|"
             r"post_feedforward_layernorm|norm)\.weight$",
}
_LAYERS = re.compile(r"^layers:(\d+)-(\d+)$")
_RANDOM_KEYS = {"random", "normalize", "seed", "one_d"}
_ALLOWED = {"random": _RANDOM_KEYS, "ties": {"ties", "weights", "density"},
            "dare_linear": {"dare_linear", "weights", "density", "seed"},
            "dare_ties": {"dare_ties", "weights", "density", "seed"},
            "magnitude_prune": {"magnitude_prune", "density"},
            "restrict": {"restrict", "include", "exclude", "group"}}


def group_pattern(group: str) -> str:
    """The regex of a ready-made group; ValueError naming the choices for an unknown one."""
    if group in GROUPS:
        return GROUPS[group]
    m = _LAYERS.match(group)
    if m:
        lo, hi = int(m.group(1)), int(m.group(2))
        if lo > hi:
            raise ValueError(f"group {group!r}: the first layer is after the last")
        return r"(^|\.)layers\.(" + "|".join(str(i) for i in range(lo, hi + 1)) + r")\."
    raise ValueError(f"unknown group {group!r}; one of {', '.join(GROUPS)} or 'layers:A-B' (e.g. layers:0-3)")


def names(spec: dict, op: str, key: str) -> list[str]:
    value = spec[op]
    if op in ("random", "negate", "magnitude_prune", "restrict"):
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{key}.{op}: give one task-vector name, got {value!r}")
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{key}.{op}: give a list of task-vector names, got {value!r}")
    if op == "difference" and len(value) != 2:
        raise ConfigError(f"{key}.difference: give exactly two names [a, b] (for a − b), got {value}")
    if op in MERGES and not value:
        raise ConfigError(f"{key}.{op}: give at least one task-vector name, got {value}")
    if op == "sum" and len(value) < 2:
        raise ConfigError(f"{key}.sum: give at least two names, got {value}")
    return list(value)


def validate_spec(spec: dict, key: str = "derived direction") -> str:
    """Check a spec's form (no files touched); returns its operation."""
    if not isinstance(spec, dict):
        raise ConfigError(f"{key}: a derived direction is a mapping such as {{negate: NAME}}, got {spec!r}")
    ops = [op for op in OPERATIONS if op in spec]
    if len(ops) != 1:
        raise ConfigError(f"{key}: give exactly one of {', '.join(OPERATIONS)}, got keys {sorted(spec)}")
    op = ops[0]
    allowed = _ALLOWED.get(op, {op})
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise ConfigError(f"{key}: unknown key(s) {unknown} for a {op!r} direction (allowed: {sorted(allowed)})")
    n = len(names(spec, op, key))
    if op in MERGES or op == "magnitude_prune":
        _check_density(spec.get("density", 1.0), key)
        if importlib.util.find_spec("peft") is None:
            raise ConfigError(f"{key}.{op}: merges use peft.utils.merge_utils, and peft is not installed; "
                              "pip install 'sitv-dist[peft]' (or pip install peft)")
    if op in MERGES:
        _check_weights(spec.get("weights"), n, op, key)
    if op == "restrict":
        _check_restriction(spec, key)
    if op in ("random", "dare_linear", "dare_ties"):
        seed = spec.get("seed", 0)
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise ConfigError(f"{key}.seed: an integer, got {seed!r}")
    if op == "random":
        if spec.get("normalize", "global") not in NORMALIZATIONS:
            raise ConfigError(f"{key}.normalize: one of {', '.join(NORMALIZATIONS)}, got {spec.get('normalize')!r}")
        if spec.get("one_d") is not None and spec["one_d"] not in ONE_D:
            raise ConfigError(f"{key}.one_d: one of {', '.join(ONE_D)}, got {spec['one_d']!r}")
    return op


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _check_density(density, key: str) -> None:
    if not _number(density) or not 0.0 < density <= 1.0:
        raise ConfigError(f"{key}.density: the fraction of entries kept, in (0, 1], got {density!r}")


def _check_weights(weights, n: int, op: str, key: str) -> None:
    if weights is None:
        return
    if not isinstance(weights, list) or len(weights) != n or not all(_number(w) for w in weights):
        raise ConfigError(f"{key}.weights: give one number per task vector of {op} ({n}), got {weights!r}")


def groups_of(spec: dict) -> list[str]:
    """A restriction's groups as a list (one name may be given as a string)."""
    groups = spec.get("group") or []
    return [groups] if isinstance(groups, str) else groups


def _check_restriction(spec: dict, key: str) -> None:
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


def sources(spec: dict, key: str = "derived direction") -> list[str]:
    """The task-vector names a spec is made from (e.g. to fine-tune them first)."""
    return names(spec, validate_spec(spec, key), key)


def describe(spec: dict) -> str:
    """A one-line human description, e.g. 'random(sentiment_positive; filter; one_d=zero; seed=1)'."""
    op = validate_spec(spec)
    if op == "random":
        norm = spec.get("normalize", "global")
        one_d = spec.get("one_d") or ("zero" if norm == "filter" else "tensor")
        extra = f"; one_d={one_d}" if norm != "global" else ""
        return f"random({spec['random']}; {norm}{extra}; seed={spec.get('seed', 0)})"
    if op == "negate":
        return f"-{spec['negate']}"
    if op == "sum":
        return " + ".join(spec["sum"])
    if op == "difference":
        return f"{spec['difference'][0]} - {spec['difference'][1]}"
    if op == "restrict":
        parts = [f"group={'+'.join(groups_of(spec))}"] if spec.get("group") else []
        parts += [f"{f}={spec[f]!r}" for f in ("include", "exclude") if spec.get(f)]
        return f"{spec['restrict']} restricted to {'; '.join(parts)}"
    if op == "magnitude_prune":
        return f"magnitude_prune({spec['magnitude_prune']}; density={spec.get('density', 1.0):g})"
    weights = spec.get("weights") or [1.0] * len(spec[op])
    terms = ", ".join(f"{w:g}*{n}" for w, n in zip(weights, spec[op]))
    seed = f"; seed={spec.get('seed', 0)}" if op != "ties" else ""
    return f"{op}({terms}; density={spec.get('density', 1.0):g}{seed})"
