"""Evaluation: a task's metrics over a loader, combined over ranks.

The task (default: classification) decides the forward pass and the metrics; the result holds
them all plus which one is the headline.

Example:
    >>> import torch
    >>> from torch import nn
    >>> model = nn.Linear(2, 2)
    >>> batches = [(torch.randn(4, 2), torch.tensor([0, 1, 0, 1]))]
    >>> result = evaluate(model, batches)
    >>> 0.0 <= result.top1 <= 1.0, result.count, result.headline_name
    (True, 4, 'top1')
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from slimkit.engine.distributed import DistInfo, all_reduce_sum
from slimkit.engine.progress import ProgressBars


@dataclass(frozen=True)
class EvalResult:
    """A task's metrics on one split (all ranks), the headline's name and the sample count."""

    metrics: dict[str, float]
    headline_name: str
    count: int
    higher_is_better: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def headline(self) -> float:
        """The headline metric's value."""
        return float(self.metrics[self.headline_name])

    def describe(self) -> str:
        """``"top1 0.9123"``: the headline as a one-line figure."""
        return f"{self.headline_name} {self.headline:.4f}"

    def record(self) -> dict[str, Any]:
        """What a stage's report entry holds of an evaluation: the headline under its own name
        (``top1`` for classification) and every metric under ``metrics``."""
        return {self.headline_name: self.headline, "metrics": dict(self.metrics)}

    @property
    def top1(self) -> float:
        """Top-1 accuracy (classification only; NaN for other tasks)."""
        return float(self.metrics.get("top1", float("nan")))

    @property
    def loss(self) -> float:
        """Mean task loss where the task reports one (NaN otherwise)."""
        return float(self.metrics.get("loss", float("nan")))


def autocast_context(device: torch.device, amp: bool):
    """bfloat16 autocast on CUDA when ``amp``; a no-op context otherwise."""
    if amp and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


def default_task() -> Any:
    """The classification task with default settings."""
    from slimkit.tasks.classification import ClassificationTask

    return ClassificationTask()


@torch.inference_mode()
def evaluate(
    model: nn.Module,
    loader: Iterable[Any],
    *,
    task: Any = None,
    device: torch.device | str = "cpu",
    dist: DistInfo | None = None,
    amp: bool = False,
    bars: ProgressBars | None = None,
    description: str = "eval",
) -> EvalResult:
    """Evaluate ``model`` (switched to eval mode, restored afterwards) on ``loader``.

    Each rank evaluates its own shard; the task's metric combines the ranks.

    Args:
        model: the network.
        loader: batches ``(inputs, targets)``.
        task: a :class:`slimkit.tasks.base.Task` (default: classification).
        device: where the batches go.
        dist: rank information.
        amp: bfloat16 autocast on CUDA.
        bars: progress bars.
        description: the progress bar's label.
    """
    task = task if task is not None else default_task()
    device = torch.device(device)
    dist = dist or DistInfo()
    was_training = model.training
    model.eval()
    metric = task.new_metric(device)
    count = torch.zeros((), dtype=torch.float64, device=device)
    total = len(loader.dataset) if hasattr(loader, "dataset") else 0  # type: ignore[attr-defined]
    bars = bars or ProgressBars(enabled=False)
    try:
        with bars.task(description, total=total) as bar:
            for batch in loader:
                batch = task.to_device(batch, device)
                with autocast_context(device, amp):
                    out = task.forward(model, batch)
                metric.update(_as_float(out), batch)
                n = task.batch_len(batch)
                count += n
                bar.advance(n)
    finally:
        model.train(was_training)
    metrics = metric.compute(dist)
    all_reduce_sum(count, dist)
    return EvalResult(
        metrics={k: float(v) for k, v in metrics.items()},
        headline_name=task.headline,
        count=int(count.item()),
        higher_is_better=task.higher_is_better,
    )


def _as_float(out: Any) -> Any:
    return out.float() if isinstance(out, torch.Tensor) else out
