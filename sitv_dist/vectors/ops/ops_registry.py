"""The direction ops by name, and everything that reads a spec through them: the check of its
form, the normalised spec of a config entry, its sources, its description, merge sweeps'
directions, the config check of a whole experiment and the reference of every op's keys.

A new op is one module of this package and one line in `_MODULES` below.
"""
from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING, Any, Mapping

from ...config.checks import ConfigError
from . import breadcrumbs, dare_linear, dare_ties, difference, layer_split, magnitude_prune, negate, random_control
from . import restriction
from . import sum as sum_op
from . import ties
from .direction_op import SOURCES, DirectionOp

if TYPE_CHECKING:
    from ...config import ExperimentConfig
    from ...config.merge_sweep import MergeSweepConfig

_MODULES = (random_control, negate, sum_op, difference, ties, dare_linear, dare_ties, magnitude_prune, restriction,
            breadcrumbs)
OPS: dict[str, DirectionOp] = {m.OP.name: m.OP for m in _MODULES}
DENSITY_OPS = tuple(name for name, op in OPS.items() if op.density_axis)
SPLITS = layer_split.SPLITS     # per-layer / per-group parts of one task vector, as views (not files)


def _owners(key: str) -> list[DirectionOp]:
    return [op for op in OPS.values() if key in op.keys]


def _foreign_key(op: DirectionOp, k: str, key: str) -> str:
    """'applies to …' for a key another op declares (the reader probably meant that op)."""
    owners = _owners(k)
    if len(owners) == 1:
        own = [name for name in owners[0].keys if len(_owners(name)) == 1]
        if len(own) > 1:
            listed = ", ".join(own[:-1]) + f" and {own[-1]}"
            return f"{key}: {listed} apply to {owners[0].label} only"
    labels = list(dict.fromkeys(o.label for o in owners))
    joined = labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + f" and {labels[-1]}"
    return f"{key}.{k}: applies to {joined} only"


def op_of(spec: Any, key: str = "derived direction") -> DirectionOp:
    """The op of a spec, its keys checked (no values yet)."""
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{key}: a derived direction is a mapping such as {{negate: NAME}}, got {spec!r}")
    ops = [name for name in OPS if name in spec]
    if len(ops) != 1:
        raise ConfigError(f"{key}: give exactly one of {', '.join(OPS)}, got keys {sorted(spec)}")
    op = OPS[ops[0]]
    unknown = sorted(set(spec) - set(op.keys) - {op.name})
    allowed = sorted({op.name, *op.keys})
    for k in unknown:
        if _owners(k):
            raise ConfigError(f"{_foreign_key(op, k, key)}; unknown key for a {op.name!r} direction (allowed: {allowed})")
    if unknown:
        raise ConfigError(f"{key}: unknown key(s) {unknown} for a {op.name!r} direction (allowed: {allowed})")
    return op


def check(spec: Any, key: str = "derived direction") -> DirectionOp:
    """Check a spec's form and values (no files touched); returns its op."""
    op = op_of(spec, key)
    names = op.names(spec[op.name], key)
    filled = {**{k: v.default for k, v in op.keys.items()}, **spec}
    if op.needs_peft and importlib.util.find_spec("peft") is None:
        raise ConfigError(f"{key}.{op.name}: merges use peft.utils.merge_utils, and peft is not installed; "
                          "pip install 'sitv-dist[peft]' (or pip install peft)")
    op.check(filled, names, key)
    return op


def normalize(entry: Any, key: str) -> dict:
    """The spec of a config entry (`sweep.derived_directions.NAME`): keys left at their default
    (or empty) count as unset, so a resolved config read back gives the same spec; checked."""
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{key}: a derived direction is a mapping such as {{negate: NAME}}, got {entry!r}")
    defaults = {k: v.default for op in OPS.values() for k, v in op.keys.items()}
    given = {k: v for k, v in entry.items()
             if not (k in OPS and v in ("", [])) and not (k in defaults and v == defaults[k])}
    op = check(given, key)
    return op.spec({**{k: v.default for k, v in op.keys.items()}, **given})


def sources(spec: Any, key: str = "derived direction") -> list[str]:
    """The task-vector names a spec is made from (e.g. to fine-tune them first)."""
    op = check(spec, key)
    return op.names(spec[op.name], key)


def describe(spec: Mapping[str, Any]) -> str:
    """A one-line human description, e.g. 'random(sentiment_positive; filter; one_d=zero; seed=1)'."""
    return check(spec).describe(spec)


# ----------------------------------------------------------------------------- merge sweeps
def check_merge_sweep(m: MergeSweepConfig, key: str) -> None:
    """The op of a merge sweep and its parameters (the config layer checked the axes)."""
    if m.op not in DENSITY_OPS:
        raise ConfigError(f"{key}.op: one of {', '.join(DENSITY_OPS)}, got {m.op!r}")
    op = OPS[m.op]
    if op.sources == "one" and (len(m.of) != 1 or m.weights):
        raise ConfigError(f"{key}: {m.op} takes one task vector in `of` and no weights, got of={m.of}")
    if m.seed and "seed" not in op.keys:
        seeded = [name for name in DENSITY_OPS if "seed" in OPS[name].keys]
        raise ConfigError(f"{key}.seed: applies to {' and '.join(seeded)} only")
    for spec in merge_sweep_specs(m).values():
        check(spec, key)


def merge_sweep_specs(m: MergeSweepConfig) -> dict[str, dict]:
    """Direction name -> spec, one per density of a merge sweep, in density order."""
    op = OPS[m.op]
    return {name: op.merge_spec(list(m.of), list(m.weights), d, m.seed)
            for name, d in zip(m.direction_names(), m.densities())}


def merge_directions(cfg: ExperimentConfig) -> dict[str, tuple[dict, str]]:
    """Every merge sweep's directions: name -> (spec, config key), in sweep and density order."""
    return {name: (spec, f"sweep.merge_sweeps.{i}")
            for i, m in enumerate(cfg.sweep.merge_sweeps) for name, spec in merge_sweep_specs(m).items()}


# ----------------------------------------------------------------------------- whole configs
def derived_specs(cfg: ExperimentConfig) -> dict[str, tuple[dict, str]]:
    """Every derived direction's normalised spec and config key, by name."""
    return {name: (normalize(entry, f"sweep.derived_directions.{name}"), f"sweep.derived_directions.{name}")
            for name, entry in cfg.sweep.derived_directions.items()}


def check_config(cfg: ExperimentConfig) -> None:
    """The op-specific part of a config's validation (the config layer checks the rest): every
    derived direction and merge sweep is a valid op whose sources are known task vectors."""
    tasks = [t.name for t in cfg.tasks]
    vectors = set(tasks) | set(cfg.sweep.task_vectors)
    for name, (spec, key) in derived_specs(cfg).items():
        for source in sources(spec, key):
            if source not in vectors:
                raise ConfigError(f"{key}: unknown task vector {source!r}; use a task name "
                                  f"({', '.join(tasks) or 'none configured'}) or a key of sweep.task_vectors")
    for i, m in enumerate(cfg.sweep.merge_sweeps):
        check_merge_sweep(m, f"sweep.merge_sweeps.{i}")


def reference() -> str:
    """Markdown reference of every op and its keys (the README's reference section ends with it)."""
    lines = ["Each `sweep.derived_directions.NAME` entry has exactly one op key (its value names the task "
             "vectors: task names or keys of `sweep.task_vectors`) and that op's keys; ops marked † can be a "
             "`sweep.merge_sweeps.N.op` (a density axis):"]
    for op in OPS.values():
        mark = " †" if op.density_axis else ""
        lines.append(f"- `{op.name}`{mark} ({SOURCES[op.sources]}): {op.doc}")
        lines += [f"  - `{k}` (default `{v.default!r}`): {v.doc}" for k, v in op.keys.items()]
    return "\n".join(lines)
