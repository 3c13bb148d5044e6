"""Semantic segmentation: per-pixel cross-entropy (ignore index 255); mIoU (headline), pixel accuracy.

Batches are ``(images, masks)``: images float ``(N, 3, H, W)``, masks int64 ``(N, H, W)`` with
class ids ``0..C-1`` and ``ignore_index`` (255) for pixels that count nowhere. The model returns
logits ``(N, C, H, W)`` (other sizes are bilinearly resized to the mask's).

:class:`ConfusionMetric` accumulates the ``C x C`` confusion matrix (rows: truth, columns:
prediction) and reports:

- ``miou``: mean over classes present in the truth or the prediction of
  ``TP / (TP + FP + FN)``;
- ``pixel_acc``: correct pixels / labelled pixels;
- ``miou_background_only``: the ``miou`` that predicting class 0 everywhere would get on the
  same pixels (the floor a trained model must beat);
- ``loss``: mean cross-entropy per labelled pixel.

Example:
    >>> import torch
    >>> task = build_segmentation(SegmentationTaskConfig())
    >>> logits = torch.tensor([[[[2.0, 0.0]], [[0.0, 2.0]]]])  # (1, 2, 1, 2): predicts [0, 1]
    >>> masks = torch.tensor([[[0, 0]]])
    >>> m = task.new_metric()
    >>> m.update(logits, (None, masks))
    >>> {k: round(v, 3) for k, v in m.compute().items() if k != "loss"}
    {'miou': 0.25, 'pixel_acc': 0.5, 'miou_background_only': 1.0}
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from slimkit.engine.distributed import DistInfo
from slimkit.tasks.base import Batch, Metric, Task
from slimkit.tasks.config import SegmentationTaskConfig

__all__ = [
    "ConfusionMetric",
    "SegmentationTask",
    "build_segmentation",
    "segmentation_scores",
]


def _match_size(logits: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    if logits.shape[-2:] != masks.shape[-2:]:
        return F.interpolate(logits, size=masks.shape[-2:], mode="bilinear", align_corners=False)
    return logits


def segmentation_scores(confusion: torch.Tensor) -> dict[str, float]:
    """``miou``, ``pixel_acc`` and ``miou_background_only`` of a ``(C, C)`` confusion matrix.

    Rows are the true class, columns the predicted one. Classes with neither true nor predicted
    pixels do not count in the means; an empty matrix gives zeros.

    Example:
        >>> import torch
        >>> conf = torch.tensor([[3, 1, 0], [0, 2, 2], [0, 0, 0]])  # class 2 only predicted
        >>> {k: round(v, 4) for k, v in segmentation_scores(conf).items()}
        {'miou': 0.3833, 'pixel_acc': 0.625, 'miou_background_only': 0.25}
    """
    conf = confusion.detach().to("cpu", torch.float64)
    total = float(conf.sum())
    if total == 0:
        return {"miou": 0.0, "pixel_acc": 0.0, "miou_background_only": 0.0}
    tp = conf.diagonal()
    truth = conf.sum(1)  # (C,) pixels of each true class
    pred = conf.sum(0)  # (C,) pixels predicted as each class
    union = truth + pred - tp
    present = union > 0
    miou = float((tp[present] / union[present]).mean())
    # predicting 0 everywhere: IoU_0 = truth_0 / total, every other true class IoU 0
    counted = int((truth > 0).sum()) + (0 if truth[0] > 0 else 1)
    background = float(truth[0]) / total / counted
    return {"miou": miou, "pixel_acc": float(tp.sum()) / total, "miou_background_only": background}


class ConfusionMetric(Metric):
    """Confusion matrix (and cross-entropy sum) over labelled pixels; summed over ranks.

    The number of classes comes from the logits' channel axis on the first update. Under DDP,
    ``compute`` gathers every rank's matrix with ``all_gather_object`` (ranks that saw no batch
    send ``None``).
    """

    def __init__(
        self, ignore_index: int = 255, device: torch.device | str = "cpu", loss: bool = True
    ) -> None:
        self.ignore_index = ignore_index
        self.with_loss = loss
        self.confusion: torch.Tensor | None = None  # (C, C) int64, rows: truth
        self.loss_sum: torch.Tensor | None = None

    def update(self, outputs: Any, batch: Batch) -> None:
        masks = batch[1]  # (N, H, W) int64
        logits = _match_size(outputs.detach(), masks)  # (N, C, H, W)
        c = int(logits.shape[1])
        valid = masks != self.ignore_index
        truth = masks[valid]  # (P,) labelled pixels
        pred = logits.argmax(1)[valid]  # (P,)
        counts = torch.bincount(truth * c + pred, minlength=c * c)
        if counts.numel() > c * c or (truth.numel() and int(truth.min()) < 0):
            bad = int(truth.max()) if counts.numel() > c * c else int(truth.min())
            raise ValueError(
                f"segmentation: label {bad} in the masks, but the model predicts {c} classes "
                f"(0..{c - 1}; {self.ignore_index} = ignore)"
            )
        if self.confusion is None:
            self.confusion = torch.zeros(c * c, dtype=torch.int64, device=counts.device)
            self.loss_sum = torch.zeros((), dtype=torch.float64, device=counts.device)
        self.confusion += counts
        if self.with_loss:
            ce = F.cross_entropy(
                logits.float(), masks, ignore_index=self.ignore_index, reduction="sum"
            )
            self.loss_sum += ce.double()

    def compute(self, dist: DistInfo | None = None) -> dict[str, float]:
        parts: list[Any] = [None]
        if self.confusion is not None:
            parts = [(self.confusion.cpu(), float(self.loss_sum or 0.0))]
        if dist is not None and dist.enabled:
            import torch.distributed as tdist

            gathered: list[Any] = [None] * dist.world_size
            tdist.all_gather_object(gathered, parts[0])
            parts = gathered
        present = [p for p in parts if p is not None]
        if not present:
            result = segmentation_scores(torch.zeros(1, 1))
            return {**result, "loss": 0.0} if self.with_loss else result
        flat = torch.stack([p[0] for p in present]).sum(0)  # (C * C,)
        c = int(round(flat.numel() ** 0.5))
        confusion = flat.view(c, c)
        result = segmentation_scores(confusion)
        if self.with_loss:
            pixels = max(1.0, float(confusion.sum()))
            result["loss"] = sum(p[1] for p in present) / pixels
        return result


@dataclass
class SegmentationTask(Task):
    """Per-pixel cross-entropy of logits ``(N, C, H, W)`` against masks ``(N, H, W)``."""

    ignore_index: int = 255
    name = "segmentation"
    headline = "miou"
    higher_is_better = True

    def loss(self, outputs: Any, batch: Batch) -> torch.Tensor:
        masks = batch[1]
        logits = _match_size(outputs, masks)
        ce = F.cross_entropy(logits, masks, ignore_index=self.ignore_index, reduction="sum")
        labelled = (masks != self.ignore_index).sum().clamp_min(1)  # no NaN when all ignored
        return ce / labelled

    def new_metric(self, device: torch.device | str = "cpu") -> ConfusionMetric:
        return ConfusionMetric(self.ignore_index, device)

    def train_metric(self, device: torch.device | str = "cpu") -> ConfusionMetric:
        return ConfusionMetric(self.ignore_index, device, loss=False)


def build_segmentation(cfg: SegmentationTaskConfig) -> SegmentationTask:
    """The segmentation task from its recipe section.

    Example:
        >>> build_segmentation(SegmentationTaskConfig(ignore_index=0)).ignore_index
        0
    """
    return SegmentationTask(ignore_index=cfg.ignore_index)
