"""Evaluation: top-1 accuracy and mean cross-entropy over a loader, summed over ranks.

Example:
    >>> import torch
    >>> from torch import nn
    >>> model = nn.Linear(2, 2)
    >>> batches = [(torch.randn(4, 2), torch.tensor([0, 1, 0, 1]))]
    >>> result = evaluate(model, batches)
    >>> 0.0 <= result.top1 <= 1.0, result.count
    (True, 4)
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import nullcontext
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from slimkit.engine.distributed import DistInfo, all_reduce_sum
from slimkit.engine.progress import ProgressBars


@dataclass(frozen=True)
class EvalResult:
    """Top-1 accuracy in [0, 1], mean loss and the number of samples seen (all ranks)."""

    top1: float
    loss: float
    count: int


def autocast_context(device: torch.device, amp: bool):
    """bfloat16 autocast on CUDA when ``amp``; a no-op context otherwise."""
    if amp and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


@torch.inference_mode()
def evaluate(
    model: nn.Module,
    loader: Iterable[tuple[torch.Tensor, torch.Tensor]],
    *,
    device: torch.device | str = "cpu",
    dist: DistInfo | None = None,
    amp: bool = False,
    bars: ProgressBars | None = None,
    description: str = "eval",
) -> EvalResult:
    """Evaluate ``model`` (switched to eval mode, restored afterwards) on ``loader``.

    Each rank evaluates its own shard; the counts are summed over ranks.
    """
    device = torch.device(device)
    dist = dist or DistInfo()
    was_training = model.training
    model.eval()
    totals = torch.zeros(3, dtype=torch.float64, device=device)  # correct, loss sum, count
    total = len(loader.dataset) if hasattr(loader, "dataset") else 0  # type: ignore[attr-defined]
    bars = bars or ProgressBars(enabled=False)
    with bars.task(description, total=total) as task:
        for x, y in loader:
            x = x.to(device, non_blocking=True)
            y = y.to(device, non_blocking=True)
            with autocast_context(device, amp):
                out = model(x)
            out = out.float()
            totals[0] += (out.argmax(1) == y).sum()
            totals[1] += F.cross_entropy(out, y, reduction="sum")
            totals[2] += y.numel()
            task.advance(y.numel())
    model.train(was_training)
    all_reduce_sum(totals, dist)
    correct, loss_sum, count = totals.tolist()
    count = int(count)
    return EvalResult(top1=correct / max(1, count), loss=loss_sum / max(1, count), count=count)
