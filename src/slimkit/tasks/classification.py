"""Classification: cross-entropy with optional label smoothing; top-1 (headline), top-5, loss.

Example:
    >>> import torch
    >>> task = build_classification(ClassificationTaskConfig(label_smoothing=0.1))
    >>> out = torch.tensor([[2.0, 0.0], [0.0, 2.0]])
    >>> m = task.new_metric()
    >>> m.update(out, (None, torch.tensor([0, 0])))
    >>> m.compute()["top1"]
    0.5
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from slimkit.tasks.base import Batch, SumMetric, Task
from slimkit.tasks.config import ClassificationTaskConfig


class ClassificationMetric(SumMetric):
    """Sums of correct top-1, correct top-k and cross-entropy over samples."""

    def __init__(
        self, device: torch.device | str = "cpu", topk: int = 5, loss: bool = True
    ) -> None:
        super().__init__(4, device)  # top1 correct, top-k correct, loss sum, count
        self.topk = topk
        self.with_loss = loss

    def update(self, outputs: Any, batch: Batch) -> None:
        y = batch[1]
        out = outputs.detach().float()  # (N, classes)
        sums = self._sums_on(out)
        sums[0] += (out.argmax(1) == y).sum()
        k = min(self.topk, out.shape[1])
        sums[1] += (out.topk(k, dim=1).indices == y[:, None]).any(1).sum()
        if self.with_loss:
            sums[2] += F.cross_entropy(out, y, reduction="sum")
        sums[3] += y.numel()

    def finish(self, totals: list[float]) -> dict[str, float]:
        top1, topk, loss, count = totals
        n = max(1.0, count)
        result = {"top1": top1 / n, f"top{self.topk}": topk / n}
        if self.with_loss:
            result["loss"] = loss / n
        return result


@dataclass
class ClassificationTask(Task):
    """Cross-entropy on class ids ``(N,)`` against logits ``(N, classes)``."""

    label_smoothing: float = 0.0
    name = "classification"
    headline = "top1"
    higher_is_better = True

    def loss(self, outputs: Any, batch: Batch) -> torch.Tensor:
        return F.cross_entropy(outputs, batch[1], label_smoothing=self.label_smoothing)

    def new_metric(self, device: torch.device | str = "cpu") -> ClassificationMetric:
        return ClassificationMetric(device)

    def train_metric(self, device: torch.device | str = "cpu") -> ClassificationMetric:
        return ClassificationMetric(device, topk=1, loss=False)


def build_classification(cfg: ClassificationTaskConfig) -> ClassificationTask:
    """The classification task from its recipe section."""
    return ClassificationTask(label_smoothing=cfg.label_smoothing)
