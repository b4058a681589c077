"""An evenly spaced range of coefficients (or of any swept parameter, such as a merge density):
the one building block of lines, grid axes and merge sweeps."""
from __future__ import annotations

from dataclasses import dataclass

from .checks import ConfigError


@dataclass
class RangeConfig:
    start: float = -0.5
    """First coefficient."""
    stop: float = 1.5
    """Last coefficient (included)."""
    num: int = 21
    """Number of evenly spaced coefficients. Choose it so that 0 is on the grid (step = (stop-start)/(num-1))."""

    def validate(self, key: str) -> None:
        if self.num < 2:
            raise ConfigError(f"{key}.num: a range needs at least 2 points, got {self.num}")
        if not all(abs(x) <= 1e30 for x in (self.start, self.stop)):
            raise ConfigError(f"{key}: coefficients must be finite numbers within ±1e30, got {self.start}..{self.stop}")
        if not self.start < self.stop:
            raise ConfigError(f"{key}: empty or inverted range start={self.start} stop={self.stop}; "
                              "start must be below stop")

    def has_zero(self, num: int | None = None) -> bool:
        """Is 0 one of the coefficients (to the 10 decimals that points are rounded to)?"""
        n = self.num if num is None else num
        step = (self.stop - self.start) / (n - 1)
        k = round(-self.start / step)
        return 0 <= k < n and round(self.start + k * step, 10) == 0.0

    def require_zero(self, key: str) -> None:
        """A line or grid axis must sample the base (c = 0): every finding is against L(0).
        Refused with the nearest num that puts 0 on the grid."""
        if self.has_zero():
            return
        if not self.start <= 0.0 <= self.stop:
            raise ConfigError(f"{key}: the range {self.start}..{self.stop} must include 0 (the base model)")
        near = [n for d in range(1, 4 * self.num + 100) for n in (self.num - d, self.num + d)
                if n >= 2 and self.has_zero(n)]
        fix = f"use {key}.num={near[0]}" if near else "choose start and stop with 0 a whole number of steps from start"
        raise ConfigError(f"{key}.num: {self.num} points from {self.start} to {self.stop} do not include 0 "
                          f"(step {(self.stop - self.start) / (self.num - 1):g}); {fix}")
