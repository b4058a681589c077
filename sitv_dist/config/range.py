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
