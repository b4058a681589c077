"""tracking.tensorboard: DIR; each experiment logs into DIR/<name> (torch's SummaryWriter)."""
from __future__ import annotations

from pathlib import Path

from .tracking_registry import register


class TensorBoardTracker:
    def __init__(self, log_dir: str, run_name: str, out_root: Path | None = None):
        from torch.utils.tensorboard import SummaryWriter
        self.writer = SummaryWriter(log_dir=str(Path(log_dir).expanduser() / run_name))

    def scalar(self, tag: str, value: float, step: int) -> None:
        self.writer.add_scalar(tag, value, step)

    def image(self, tag: str, png: Path, step: int) -> None:
        import matplotlib.image
        pixels = matplotlib.image.imread(png)[..., :3]         # H×W×RGB(A) floats in [0, 1]
        self.writer.add_image(tag, pixels, step, dataformats="HWC")

    def close(self) -> None:
        self.writer.close()


register("tensorboard")(TensorBoardTracker)
