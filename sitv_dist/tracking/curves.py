"""What the stages log, under fixed tags: `finetune/<task>/train_loss` (per optimizer step)
and `finetune/<task>/val_loss` (at the step each validation ran), `sweep/<line>/<eval set>`
(L(c) of every evaluated point of a line, at step round(1000·c): a tracker's step is an
integer), and `report/<figure>` (each PNG of the report)."""
from __future__ import annotations

from pathlib import Path

from .tracking_registry import Tracking

STEPS_PER_UNIT = 1000       # the step of L(c) is round(1000·c)


def coefficient_step(c: float) -> int:
    return round(c * STEPS_PER_UNIT)


def log_history(tracking: Tracking, task: str, history: dict) -> None:
    """A fine-tune's history (OUT/finetune/<task>/history.json) as two curves."""
    for step in history.get("steps", []):
        tracking.scalar(f"finetune/{task}/train_loss", step["loss"], step["step"])
    for epoch in history.get("epochs", []):
        if epoch.get("val_loss") is not None:
            tracking.scalar(f"finetune/{task}/val_loss", epoch["val_loss"], epoch["step"])


def log_point(tracking: Tracking, lines: dict[str, float], losses: dict[str, float]) -> None:
    """One evaluated point: `lines` maps each line it lies on to its coefficient there,
    `losses` each eval set to its loss."""
    for line, c in lines.items():
        for eval_set, loss in losses.items():
            tracking.scalar(f"sweep/{line}/{eval_set}", loss, coefficient_step(c))


def log_figures(tracking: Tracking, out_root: Path, plots: dict[str, list[str]]) -> None:
    """The report's figures (analysis.json's `plots`: sweep -> paths relative to OUT)."""
    for paths in plots.values():
        for rel in paths:
            tracking.image(f"report/{Path(rel).stem}", Path(out_root) / rel)
