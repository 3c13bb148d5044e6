"""Detection: a torchvision detector's loss dict; COCO box mAP (headline ``map``) with pycocotools.

Batches are ``(images, targets)``: ``images`` float ``(N, 3, S, S)``; ``targets`` one dict per
image with ``boxes`` ``(k, 4)`` float xyxy pixels, ``labels`` ``(k,)`` int64 in ``0..K-1`` and
``image_id``. In train mode the detector (e.g. :func:`slimkit.models.detection.build_fcos`) takes
``model(images, targets)`` and returns its loss dict, whose sum is the task loss; in eval mode
``model(images)`` returns one ``{boxes, labels, scores}`` dict per image, which
:class:`CocoMapMetric` scores with ``COCOeval`` (``map`` = AP@[.5:.95], ``map50``, ``map75``).

Example:
    >>> import torch
    >>> task = build_detection(DetectionTaskConfig())
    >>> gt = {"boxes": torch.tensor([[10.0, 10.0, 50.0, 40.0]]), "labels": torch.tensor([2]),
    ...       "image_id": 7}
    >>> pred = {"boxes": gt["boxes"], "labels": gt["labels"], "scores": torch.tensor([0.9])}
    >>> metric = task.new_metric()
    >>> metric.update([pred], (torch.zeros(1, 3, 64, 64), [gt]))
    >>> metric.compute()
    {'map': 1.0, 'map50': 1.0, 'map75': 1.0}
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import numpy as np
import torch
from torch import nn

from slimkit.engine.distributed import DistInfo
from slimkit.tasks.base import Batch, Metric, Task
from slimkit.tasks.config import DetectionTaskConfig

__all__ = ["CocoMapMetric", "DetectionTask", "ImageRecord", "build_detection", "coco_map"]


class ImageRecord(NamedTuple):
    """Ground truth and predictions of one evaluated image (numpy, CPU; boxes xyxy pixels)."""

    height: int
    width: int
    gt_boxes: np.ndarray  # (k, 4) float64
    gt_labels: np.ndarray  # (k,) int64
    boxes: np.ndarray  # (d, 4) float64
    scores: np.ndarray  # (d,) float64
    labels: np.ndarray  # (d,) int64


def _numpy(t: Any, dtype: Any, shape: tuple[int, ...]) -> np.ndarray:
    if t is None:
        return np.zeros(shape, dtype=dtype)
    return t.detach().to("cpu", torch.float64 if dtype is np.float64 else torch.int64).numpy()


def coco_map(records: list[ImageRecord]) -> dict[str, float]:
    """COCO box AP of the records with pycocotools: ``map`` (AP@[.5:.95]), ``map50``, ``map75``.

    Images are numbered in record order; labels become category ids ``label + 1``. No
    predictions, or no ground-truth boxes, give 0.0 (pycocotools would say -1 or fail).

    Example:
        >>> import numpy as np
        >>> box = np.array([[0.0, 0.0, 10.0, 10.0]])
        >>> rec = ImageRecord(20, 20, box, np.array([0]), box + 5, np.array([0.8]), np.array([0]))
        >>> coco_map([rec])["map50"]
        0.0
    """
    zero = {"map": 0.0, "map50": 0.0, "map75": 0.0}
    if not any(len(r.gt_labels) for r in records) or not any(len(r.scores) for r in records):
        return zero
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    images, gts, dets, cats = [], [], [], set()
    for i, rec in enumerate(records, start=1):
        images.append({"id": i, "width": rec.width, "height": rec.height})
        for box, label in zip(rec.gt_boxes.tolist(), rec.gt_labels.tolist(), strict=True):
            w, h = box[2] - box[0], box[3] - box[1]
            gts.append(
                {
                    "id": len(gts) + 1,
                    "image_id": i,
                    "category_id": int(label) + 1,
                    "bbox": [box[0], box[1], w, h],  # xyxy -> xywh
                    "area": w * h,
                    "iscrowd": 0,
                }
            )
            cats.add(int(label) + 1)
        for box, score, label in zip(
            rec.boxes.tolist(), rec.scores.tolist(), rec.labels.tolist(), strict=True
        ):
            dets.append(
                {
                    "image_id": i,
                    "category_id": int(label) + 1,
                    "bbox": [box[0], box[1], box[2] - box[0], box[3] - box[1]],
                    "score": float(score),
                }
            )
            cats.add(int(label) + 1)
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress
        gt = COCO()
        gt.dataset = {
            "images": images,
            "annotations": gts,
            "categories": [{"id": c} for c in sorted(cats)],
        }
        gt.createIndex()
        dt = gt.loadRes(dets)
        ev = COCOeval(gt, dt, iouType="bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    # -1 means "no such boxes"; rounding removes the float noise of averaging 101 points
    stats = [round(max(0.0, float(s)), 10) for s in ev.stats[:3]]
    return {"map": stats[0], "map50": stats[1], "map75": stats[2]}


class CocoMapMetric(Metric):
    """Collects per-image ground truth and detections; ``compute`` runs COCOeval on all ranks' images.

    ``update(outputs, batch)`` takes the detector's eval outputs (one dict with ``boxes``,
    ``scores``, ``labels`` per image) and the batch ``(images, targets)``; the image size is the
    input's ``(H, W)``. Under DDP, ``compute`` gathers every rank's records with
    ``all_gather_object`` and every rank returns the same figures.
    """

    def __init__(self, device: torch.device | str = "cpu") -> None:
        self.records: list[ImageRecord] = []

    def update(self, outputs: Any, batch: Batch) -> None:
        images, targets = batch
        h, w = int(images.shape[-2]), int(images.shape[-1])
        if len(outputs) != len(targets):
            raise ValueError(
                f"detection: {len(outputs)} outputs for {len(targets)} targets; the model must "
                "return one dict per image (eval mode)"
            )
        for out, tgt in zip(outputs, targets, strict=True):
            self.records.append(
                ImageRecord(
                    h,
                    w,
                    _numpy(tgt["boxes"], np.float64, (0, 4)).reshape(-1, 4),
                    _numpy(tgt["labels"], np.int64, (0,)).reshape(-1),
                    _numpy(out["boxes"], np.float64, (0, 4)).reshape(-1, 4),
                    _numpy(out["scores"], np.float64, (0,)).reshape(-1),
                    _numpy(out["labels"], np.int64, (0,)).reshape(-1),
                )
            )

    def compute(self, dist: DistInfo | None = None) -> dict[str, float]:
        records = self.records
        if dist is not None and dist.enabled:
            import torch.distributed as tdist

            gathered: list[list[ImageRecord] | None] = [None] * dist.world_size
            tdist.all_gather_object(gathered, records)
            records = [r for part in gathered for r in (part or [])]
        return coco_map(records)


@dataclass
class DetectionTask(Task):
    """Sum of a torchvision detector's losses; COCO mAP over the evaluation images.

    Attributes:
        train_map: Also compute mAP on the training images at the end (the recipe's option).
        dynamic_batch: ``False``: the ONNX file has a fixed batch size (torchvision unrolls its
            per-image post-processing for the traced batch); export and ORT latency use batch 1.
        last_losses: The detached loss components of the latest training step.
    """

    train_map: bool = True
    name = "detection"
    headline = "map"
    higher_is_better = True
    dynamic_batch: ClassVar[bool] = False

    def __post_init__(self) -> None:
        self.last_losses: dict[str, torch.Tensor] = {}

    @property
    def evaluate_on_train(self) -> bool:
        return self.train_map

    def forward(self, net: nn.Module, batch: Batch) -> Any:
        images, targets = batch
        if net.training:
            return net(images, targets)  # {loss name: scalar}
        return net(images)  # [{"boxes": (d, 4), "scores": (d,), "labels": (d,)}] per image

    def loss(self, outputs: Any, batch: Batch) -> torch.Tensor:
        if not isinstance(outputs, dict) or not outputs:
            raise ValueError(
                f"detection: the model returned {type(outputs).__name__}, not a loss dict; a "
                "torchvision detector returns its losses in train mode (model(images, targets))"
            )
        self.last_losses = {k: v.detach() for k, v in outputs.items()}
        return torch.stack([v for v in outputs.values()]).sum()

    def new_metric(self, device: torch.device | str = "cpu") -> CocoMapMetric:
        return CocoMapMetric(device)

    def train_metric(self, device: torch.device | str = "cpu") -> None:
        return None


def build_detection(cfg: DetectionTaskConfig) -> DetectionTask:
    """The detection task from its recipe section.

    Example:
        >>> build_detection(DetectionTaskConfig(train_map=False)).headline
        'map'
    """
    return DetectionTask(train_map=cfg.train_map)
