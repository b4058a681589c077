"""Derived-direction specs (`sweep.derived_directions` entries): their form, checked before
any file is touched, the task vectors each is made from, and a one-line description.
`sitv_dist.vectors.derived` builds the tensors."""
from __future__ import annotations

from .checks import ConfigError

NORMALIZATIONS = ("global", "layer", "filter")
ONE_D = ("zero", "tensor")
OPERATIONS = ("random", "negate", "sum", "difference")
_RANDOM_KEYS = {"random", "normalize", "seed", "one_d"}


def names(spec: dict, op: str, key: str) -> list[str]:
    value = spec[op]
    if op in ("random", "negate"):
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{key}.{op}: give one task-vector name, got {value!r}")
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{key}.{op}: give a list of task-vector names, got {value!r}")
    if op == "difference" and len(value) != 2:
        raise ConfigError(f"{key}.difference: give exactly two names [a, b] (for a − b), got {value}")
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
    allowed = _RANDOM_KEYS if op == "random" else {op}
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise ConfigError(f"{key}: unknown key(s) {unknown} for a {op!r} direction (allowed: {sorted(allowed)})")
    names(spec, op, key)
    if op == "random":
        if spec.get("normalize", "global") not in NORMALIZATIONS:
            raise ConfigError(f"{key}.normalize: one of {', '.join(NORMALIZATIONS)}, got {spec.get('normalize')!r}")
        if spec.get("one_d") is not None and spec["one_d"] not in ONE_D:
            raise ConfigError(f"{key}.one_d: one of {', '.join(ONE_D)}, got {spec['one_d']!r}")
        seed = spec.get("seed", 0)
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise ConfigError(f"{key}.seed: an integer, got {seed!r}")
    return op


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
    return f"{spec['difference'][0]} - {spec['difference'][1]}"
