"""The tracking section: where training curves, L(c) as it is evaluated and the report's
figures are also logged (TensorBoard, Weights & Biases). Empty: nowhere (the default)."""
from __future__ import annotations

from dataclasses import dataclass

from .checks import ConfigError


@dataclass
class TrackingConfig:
    tensorboard: str = ""
    """TensorBoard log directory (empty: off): every fine-tune's train and validation loss per step, each line's L(c) as it is evaluated, and the report's figures."""
    wandb: str = ""
    """Weights & Biases project (empty: off; needs the `wandb` extra; WANDB_MODE=offline writes runs locally): the same curves and figures."""

    def validate(self, key: str) -> None:
        for name in ("tensorboard", "wandb"):
            value = getattr(self, name)
            if value != value.strip():
                raise ConfigError(f"{key}.{name}: {value!r} has leading or trailing spaces; remove them")

    def enabled(self) -> dict[str, str]:
        """Tracker name -> its setting, for the trackers that are on."""
        return {name: value for name, value in (("tensorboard", self.tensorboard), ("wandb", self.wandb)) if value}
