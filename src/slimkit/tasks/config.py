"""Recipe settings of each task (torch-free, so ``slimkit validate`` stays fast).

Example:
    >>> from slimkit.config import validate_config
    >>> validate_config(RegressionTaskConfig, {"name": "regression", "loss": "huber"}).loss
    'huber'
"""

from __future__ import annotations

from typing import Annotated, Literal

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


class EyeOpennessTaskConfig(TaskConfig):
    """Weakly supervised eye openness on ``eye_mix`` data (all loss choices reconstructed).

    The model has one output ``z``; the openness is ``sigmoid(z)``. Metrics: ``auc_<real>``
    (headline), ``acc_<real>``, ``mae_synthetic``, ``spearman_synthetic``, ``monotonicity``.
    """

    name: Literal["eye_openness"] = "eye_openness"
    real: str = Field("cew", description="suffix of the real-data metrics: auc_<real>, acc_<real>")
    synthetic_loss: Literal["huber", "l1"] = "huber"
    synthetic_weight: float = Field(1.0, ge=0)
    huber_beta: float = Field(0.05, gt=0)
    real_loss: Literal["hinge", "bce"] = Field(
        "hinge", description="hinge: weak margins + ranking; bce: an open/closed classifier"
    )
    hinge_weight: float = Field(1.0, ge=0)
    t_closed: float = Field(0.2, ge=0, le=1)
    t_open: float = Field(0.5, ge=0, le=1)
    rank_weight: float = Field(0.5, ge=0)
    rank_margin: float = Field(0.2, ge=0)
    align: Literal["coral", "mmd", "none"] = "coral"
    align_weight: float = Field(1.0, ge=0)
    feature_layer: str | None = Field(
        None, description="module whose input is the aligned feature (default: the last Linear)"
    )
    threshold: Annotated[float, Field(gt=0, lt=1)] | Literal["val"] = Field(
        0.35,
        description="openness above it counts as open for acc_<real>; 'val': the threshold with "
        "the best accuracy on the validation split's real eyes (needs data.val_fraction)",
    )
