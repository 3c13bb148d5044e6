"""Recipe settings of each task (torch-free, so ``slimkit validate`` stays fast).

Example:
    >>> from slimkit.config import validate_config
    >>> validate_config(RegressionTaskConfig, {"name": "regression", "loss": "huber"}).loss
    'huber'
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from slimkit.config import Config


class TaskConfig(Config):
    """Common fields of every task: the registered ``name``."""

    name: str = "classification"


class ClassificationTaskConfig(TaskConfig):
    """Cross-entropy (optional label smoothing); metrics top-1 (headline), top-5 and loss."""

    name: Literal["classification"] = "classification"
    label_smoothing: float = Field(0.0, ge=0, lt=1)


class RegressionTaskConfig(TaskConfig):
    """A scalar or vector target per image; metrics MAE (headline), RMSE, Spearman and loss."""

    name: Literal["regression"] = "regression"
    loss: Literal["mse", "huber", "l1"] = "mse"
    huber_delta: float = Field(1.0, gt=0)


class DetectionTaskConfig(TaskConfig):
    """Boxes from a torchvision detector; COCO box mAP (headline ``map``) with pycocotools."""

    name: Literal["detection"] = "detection"
    train_map: bool = Field(
        True, description="also compute map/map50 on the training images at the end (overfit check)"
    )


class SegmentationTaskConfig(TaskConfig):
    """Per-pixel cross-entropy with an ignore index; mIoU (headline), pixel accuracy."""

    name: Literal["segmentation"] = "segmentation"
    ignore_index: int = 255
