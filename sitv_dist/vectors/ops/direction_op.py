"""What a direction op is: the contract every module of `vectors/ops` fills in.

A derived direction (`sweep.derived_directions.NAME`, or one density of a merge sweep) is a
mapping with exactly one op key, whose value names the task vectors it reads, plus that op's
option keys. An op declares the option keys with their defaults and a docstring each (the
config reference and the unknown-key errors are made from them), how its sources are given,
its own checks, the normalised spec recorded in the direction's metadata, a one-line
description, and how it builds the tensors. The registry (`ops_registry.py`) holds one instance
of each; nothing else dispatches on op names (like mergekit's merge methods).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Mapping, Sequence

from ...config.checks import ConfigError

if TYPE_CHECKING:
    import torch

Tensors = dict[str, "torch.Tensor"]


@dataclass(frozen=True)
class Key:
    """One option key of an op: its default (an unset key reads as its default) and meaning."""
    default: Any
    doc: str


# Option keys shared by several ops, declared once so their defaults and meaning agree.
DENSITY = Key(1.0, "the fraction of entries kept per tensor, in (0, 1]")
WEIGHTS = Key([], "one weight per task vector (empty: all 1)")
SEED = Key(0, "the seed of the random draw (an integer)")

SOURCES = {"one": "one task-vector name", "two": "exactly two names [a, b]", "some": "a list of names (at least one)",
           "several": "a list of at least two names"}


class DirectionOp:
    """An op: subclasses set the class attributes and override `build` (and `check`, `spec`,
    `describe` where the defaults do not fit)."""
    name: ClassVar[str]
    """The op key, e.g. 'negate'."""
    doc: ClassVar[str]
    """What the direction is, in one sentence (the config reference prints it)."""
    sources: ClassVar[str] = "one"
    """How the op key's value names task vectors: one of SOURCES."""
    keys: ClassVar[Mapping[str, Key]] = {}
    """Option keys besides the op key."""
    label: ClassVar[str] = ""
    """How errors name the ops a key applies to, e.g. 'random directions'."""
    needs_peft: ClassVar[bool] = False
    """Built with peft.utils.merge_utils (checked at config time)."""
    density_axis: ClassVar[bool] = False
    """Usable in sweep.merge_sweeps: the direction has a `density` swept as an axis."""

    # ------------------------------------------------------------------ config time
    def names(self, value: Any, key: str) -> list[str]:
        """The task vectors the op key's value names; ConfigError naming the key otherwise."""
        if self.sources == "one":
            if not isinstance(value, str) or not value:
                raise ConfigError(f"{key}.{self.name}: give one task-vector name, got {value!r}")
            return [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise ConfigError(f"{key}.{self.name}: give a list of task-vector names, got {value!r}")
        if self.sources == "two" and len(value) != 2:
            raise ConfigError(f"{key}.{self.name}: give exactly two names [a, b] (for a − b), got {value}")
        if self.sources == "some" and not value:
            raise ConfigError(f"{key}.{self.name}: give at least one task-vector name, got {value}")
        if self.sources == "several" and len(value) < 2:
            raise ConfigError(f"{key}.{self.name}: give at least two names, got {value}")
        return list(value)

    def check(self, spec: Mapping[str, Any], sources: Sequence[str], key: str) -> None:
        """The op's own checks of its option values (defaults filled in); no files touched."""

    def spec(self, spec: Mapping[str, Any]) -> dict:
        """The normalised spec written into the direction's metadata (and the merge marker)."""
        return {self.name: spec[self.name], **{k: spec[k] for k in self.keys if k in spec}}

    def describe(self, spec: Mapping[str, Any]) -> str:
        """A one-line human description."""
        return f"{self.name}({', '.join(self.names(spec[self.name], 'spec'))})"

    def merge_spec(self, of: list[str], weights: list[float], density: float, seed: int) -> dict:
        """The spec of one density of a merge sweep (ops with `density_axis`)."""
        raise NotImplementedError(f"{self.name} has no density axis")

    # ------------------------------------------------------------------ build time
    def build(self, vectors: list[Tensors], spec: Mapping[str, Any], names: list[str]) -> Tensors:
        """The direction's float32 tensors from the source task vectors (same names and shapes,
        checked by the caller for ops with several sources); ValueError on bad content."""
        raise NotImplementedError


# ----------------------------------------------------------------------------- shared checks
def is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def check_density(density: Any, key: str) -> None:
    if not is_number(density) or not 0.0 < density <= 1.0:
        raise ConfigError(f"{key}.density: the fraction of entries kept, in (0, 1], got {density!r}")


def check_weights(weights: Any, n: int, op: str, key: str) -> None:
    if weights in (None, []):
        return
    if not isinstance(weights, list) or len(weights) != n or not all(is_number(w) for w in weights):
        raise ConfigError(f"{key}.weights: give one number per task vector of {op} ({n}), got {weights!r}")


def check_seed(seed: Any, key: str) -> None:
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ConfigError(f"{key}.seed: an integer, got {seed!r}")


def check_same(vectors: Sequence[Mapping[str, "torch.Tensor"]], labels: Sequence[str]) -> None:
    """Task vectors combined tensor by tensor must have the same names and shapes."""
    first = vectors[0]
    for v, label in zip(vectors[1:], labels[1:]):
        if set(v) != set(first):
            missing, extra = sorted(set(first) - set(v)), sorted(set(v) - set(first))
            raise ValueError(f"{label} and {labels[0]} have different tensors (missing {missing[:5]}, "
                             f"extra {extra[:5]})")
        for n in first:
            if tuple(v[n].shape) != tuple(first[n].shape):
                raise ValueError(f"{label}: tensor {n} has shape {tuple(v[n].shape)}, "
                                 f"{labels[0]} {tuple(first[n].shape)}")
