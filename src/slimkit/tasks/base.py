"""The task seam: what the training loop, evaluation, report and export ask of a learning problem.

A :class:`Task` owns everything that depends on the problem rather than on the method:

- the training loss from a batch (``train_step``): cross-entropy, a regression loss, or the
  loss dict a torchvision detector returns;
- the evaluation metrics (``new_metric`` returns an accumulator) and which one is the
  ``headline`` (what a report shows first, what the report's ``final.headline`` holds);
- how batches move to a device and how many samples they hold (``to_device``, ``batch_len``);
- how the model is exported and measured (``example_input``, ``exportable``).

Batches are ``(inputs, targets)`` pairs. ``inputs`` is a float tensor ``(N, C, H, W)``;
``targets`` is what the task needs: class ids ``(N,)``, regression targets ``(N,)`` or
``(N, D)``, a list of box dicts for detection, or ``(N, H, W)`` label maps for segmentation.

Training terms (sparsity, distillation...) keep working with every task: they get the batch and
the outputs the task's forward produced.

Example:
    >>> import torch
    >>> from slimkit.tasks.classification import ClassificationTask
    >>> task = ClassificationTask()
    >>> model = torch.nn.Linear(4, 3)
    >>> batch = (torch.randn(8, 4), torch.randint(0, 3, (8,)))
    >>> loss, outputs = task.train_step(model, batch)
    >>> metric = task.new_metric()
    >>> metric.update(outputs, batch)
    >>> sorted(metric.compute())
    ['loss', 'top1', 'top5']
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from slimkit.engine.distributed import DistInfo, all_reduce_sum

Batch = tuple[Any, Any]


class Metric:
    """Accumulates a task's evaluation figures over batches; ``compute`` sums over ranks."""

    def update(self, outputs: Any, batch: Batch) -> None:
        """Add one batch (``outputs`` are the model's outputs in eval mode)."""
        raise NotImplementedError

    def compute(self, dist: DistInfo | None = None) -> dict[str, float]:
        """The metrics over everything seen (all ranks): name -> value."""
        raise NotImplementedError


class SumMetric(Metric):
    """A metric made of running sums: subclasses fill ``self.sums`` and map them in ``finish``.

    The sums are one float64 tensor, all-reduced across ranks in one call.
    """

    def __init__(self, size: int, device: torch.device | str = "cpu") -> None:
        self.sums = torch.zeros(size, dtype=torch.float64, device=device)

    def _sums_on(self, ref: torch.Tensor) -> torch.Tensor:
        if self.sums.device != ref.device:
            self.sums = self.sums.to(ref.device)
        return self.sums

    def compute(self, dist: DistInfo | None = None) -> dict[str, float]:
        totals = self.sums.clone()
        all_reduce_sum(totals, dist or DistInfo())
        return self.finish(totals.tolist())

    def finish(self, totals: list[float]) -> dict[str, float]:
        """Map the summed values (all ranks) to metrics."""
        raise NotImplementedError


class Task:
    """Base class of the learning problems; see the module docstring.

    Attributes:
        name: the registered name.
        headline: the metric a report shows first.
        higher_is_better: whether a larger headline is better (accuracy, mAP) or not (MAE).
        dynamic_batch: whether the exported model takes any batch size.
    """

    name: str = ""
    headline: str = ""
    higher_is_better: bool = True
    #: ``False``: the exported ONNX graph has a fixed batch of 1 (e.g. torchvision detectors)
    dynamic_batch: bool = True

    @property
    def evaluate_on_train(self) -> bool:
        """Also report the metrics on the (unaugmented) training images at the end of a run,
        as ``<metric>_train`` (an overfit check)."""
        return False

    def forward(self, net: nn.Module, batch: Batch) -> Any:
        """The model's outputs for a batch (in whatever mode the model is in)."""
        return net(batch[0])

    def loss(self, outputs: Any, batch: Batch) -> torch.Tensor:
        """The task loss of ``outputs`` for ``batch``."""
        raise NotImplementedError

    def train_step(self, net: nn.Module, batch: Batch) -> tuple[torch.Tensor, Any]:
        """(task loss, outputs) of one training batch; terms get the same ``outputs``."""
        outputs = self.forward(net, batch)
        return self.loss(outputs, batch), outputs

    def new_metric(self, device: torch.device | str = "cpu") -> Metric:
        """A fresh evaluation accumulator."""
        raise NotImplementedError

    def train_metric(self, device: torch.device | str = "cpu") -> Metric | None:
        """A cheap accumulator over training outputs (``None``: none is logged)."""
        return None

    def to_device(self, batch: Batch, device: torch.device) -> Batch:
        """Move a batch to ``device`` (tensors, and tensors inside lists of dicts)."""
        return move_to(batch[0], device), move_to(batch[1], device)

    def batch_len(self, batch: Batch) -> int:
        """Number of samples in a batch."""
        return len(batch[1]) if isinstance(batch[1], list) else int(batch[0].shape[0])

    def num_outputs(self, splits: Any) -> int:
        """The size of the model's head for a dataset (``num_classes`` of the builder)."""
        return int(splits.num_classes)

    def calibrate(self, evaluate_val: Callable[[], dict[str, float]]) -> None:
        """Called before each test evaluation of the run's model, when the run has a validation
        split: a task that picks a setting on validation data (e.g. a decision threshold) calls
        ``evaluate_val`` and keeps what it picked. The default picks nothing."""

    def example_input(self, input_size: tuple[int, int, int], batch: int = 1) -> torch.Tensor:
        """An input of the exported model's shape (ONNX export, latency)."""
        return torch.randn(batch, *input_size)

    def exportable(self) -> str | None:
        """``None`` when the model exports to ONNX as is; otherwise why it does not."""
        return None


def move_to(value: Any, device: torch.device) -> Any:
    """``value`` with every tensor inside (lists, tuples, dicts) moved to ``device``.

    Example:
        >>> move_to({"a": [torch.zeros(1)]}, torch.device("cpu"))["a"][0].device.type
        'cpu'
    """
    if isinstance(value, torch.Tensor):
        return value.to(device, non_blocking=True)
    if isinstance(value, dict):
        return {k: move_to(v, device) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(move_to(v, device) for v in value)
    return value
