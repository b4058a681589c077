"""tracking.wandb: PROJECT; one wandb run per process that logs (WANDB_MODE=offline keeps it
on disk, under OUT/wandb when an OUT is known, else wandb's own directory)."""
from __future__ import annotations

import os
from pathlib import Path

from .tracking_registry import register


class WandbTracker:
    def __init__(self, project: str, run_name: str, out_root: Path | None = None):
        import wandb
        self.wandb = wandb
        folder = None
        if out_root is not None:
            folder = Path(out_root) / "wandb"
            folder.mkdir(parents=True, exist_ok=True)
            for variable in ("WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR"):   # not the home directory
                os.environ.setdefault(variable, str(folder / variable.lower()[6:]))
        self.run = wandb.init(project=project, name=run_name, group=run_name, dir=folder and str(folder),
                              reinit="create_new")

    def scalar(self, tag: str, value: float, step: int) -> None:
        # wandb's own step must grow; the project's step (a fine-tune step, 1000·c) is a field
        self.run.log({tag: value, f"{tag}/step": step})

    def image(self, tag: str, png: Path, step: int) -> None:
        self.run.log({tag: self.wandb.Image(str(png))})

    def close(self) -> None:
        self.run.finish()


register("wandb")(WandbTracker)
