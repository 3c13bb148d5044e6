"""Regression: a scalar ``(N,)`` or vector ``(N, D)`` float target per image.

The model's head has ``D`` outputs ``(N, D)``; for a scalar target (``D = 1``) its ``(N, 1)``
output is squeezed to ``(N,)``. The loss is MSE, Huber (``huber_delta``) or L1, averaged over
every target component. Metrics (over every component of every sample, all ranks):

- ``mae`` (headline, lower is better): mean absolute error;
- ``rmse``: square root of the mean squared error;
- ``spearman``: Spearman rank correlation between predictions and targets over the whole
  evaluation set (ties get their average rank; for ``D > 1`` the mean over components). It is
  ``nan`` when predictions or targets are constant (undefined correlation);
- ``loss``: the training loss on the evaluation set.

Example:
    >>> import torch
    >>> task = build_regression(RegressionTaskConfig(loss="huber"))
    >>> out = torch.tensor([[0.0], [1.0], [3.0]])  # (N, 1): a model with one output
    >>> m = task.new_metric()
    >>> m.update(out, (None, torch.tensor([0.0, 2.0, 4.0])))
    >>> {k: round(v, 4) for k, v in m.compute().items()}
    {'mae': 0.6667, 'rmse': 0.8165, 'spearman': 1.0, 'loss': 0.3333}
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as tdist
import torch.nn.functional as F

from slimkit.engine.distributed import DistInfo, all_reduce_sum
from slimkit.tasks.base import Batch, Metric, Task
from slimkit.tasks.config import RegressionTaskConfig

LOSSES = ("mse", "huber", "l1")


def align(outputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``outputs`` shaped like ``target``: ``(N, 1)`` becomes ``(N,)`` for a scalar target.

    Raises a one-line ``ValueError`` when the model's head does not match the target.

    Example:
        >>> align(torch.zeros(4, 1), torch.zeros(4)).shape
        torch.Size([4])
    """
    if target.dim() == 1 and outputs.dim() == 2 and outputs.shape[1] == 1:
        outputs = outputs.squeeze(1)  # (N, 1) -> (N,)
    if outputs.shape != target.shape:
        raise ValueError(
            f"model outputs {tuple(outputs.shape)} do not match regression targets "
            f"{tuple(target.shape)}; the head needs {1 if target.dim() == 1 else target.shape[1]} "
            "output(s)"
        )
    return outputs


def rank_average(values: torch.Tensor) -> torch.Tensor:
    """Ranks 1..N of a 1-D tensor, ties replaced by their average rank (float64).

    Example:
        >>> rank_average(torch.tensor([10.0, 30.0, 20.0, 30.0])).tolist()
        [1.0, 3.5, 2.0, 3.5]
    """
    n = values.numel()
    order = torch.argsort(values, stable=True)
    _, inverse, counts = torch.unique(values[order], return_inverse=True, return_counts=True)
    ends = torch.cumsum(counts, 0).double()  # last rank (1-based) of each distinct value
    average = ends - (counts.double() - 1) / 2  # mean of ranks end-count+1 .. end
    ranks = torch.empty(n, dtype=torch.float64, device=values.device)
    ranks[order] = average[inverse]
    return ranks


def spearman(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Spearman rank correlation of two 1-D tensors (average ranks for ties).

    It is the Pearson correlation of the ranks; ``nan`` when either side is constant.

    Example:
        >>> x = torch.tensor([1.0, 2.0, 3.0, 4.0])
        >>> spearman(x.exp(), x), spearman(-x, x)
        (1.0, -1.0)
    """
    if pred.numel() < 2:
        return math.nan
    a = rank_average(pred.double().flatten())
    b = rank_average(target.double().flatten())
    a = a - a.mean()
    b = b - b.mean()
    denom = math.sqrt(float(a.square().sum()) * float(b.square().sum()))
    if denom == 0.0:
        return math.nan
    return max(-1.0, min(1.0, float((a * b).sum()) / denom))


def regression_loss(
    kind: str,
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    delta: float = 1.0,
    reduction: str = "mean",
) -> torch.Tensor:
    """MSE, Huber or L1 between aligned predictions and targets.

    Example:
        >>> float(regression_loss("huber", torch.tensor([3.0]), torch.tensor([0.0]), delta=1.0))
        2.5
    """
    if kind == "mse":
        return F.mse_loss(pred, target, reduction=reduction)
    if kind == "huber":
        return F.huber_loss(pred, target, reduction=reduction, delta=delta)
    if kind == "l1":
        return F.l1_loss(pred, target, reduction=reduction)
    raise ValueError(f"task.loss: unknown regression loss {kind!r}; allowed: {', '.join(LOSSES)}")


class RegressionMetric(Metric):
    """Running sums of absolute and squared errors and the loss, plus every prediction kept for
    the rank correlation (float32 on the CPU: 8 bytes per component per sample)."""

    def __init__(
        self,
        device: torch.device | str = "cpu",
        loss: str = "mse",
        huber_delta: float = 1.0,
        rank: bool = True,
    ) -> None:
        self.sums = torch.zeros(4, dtype=torch.float64, device=device)  # |e|, e^2, loss, count
        self.loss_kind = loss
        self.huber_delta = huber_delta
        self.rank = rank
        self.preds: list[torch.Tensor] = []
        self.targets: list[torch.Tensor] = []

    def update(self, outputs: Any, batch: Batch) -> None:
        target = batch[1].detach().float()
        pred = align(outputs.detach().float(), target)  # same shape as target
        if self.sums.device != pred.device:
            self.sums = self.sums.to(pred.device)
        err = (pred - target).double()
        self.sums[0] += err.abs().sum()
        self.sums[1] += err.square().sum()
        self.sums[2] += regression_loss(
            self.loss_kind, pred, target, delta=self.huber_delta, reduction="sum"
        ).double()
        self.sums[3] += target.numel()
        if self.rank:
            n = target.shape[0]
            self.preds.append(pred.reshape(n, -1).cpu())  # (n, D)
            self.targets.append(target.reshape(n, -1).cpu())  # (n, D)

    def _gathered(self, dist: DistInfo) -> tuple[torch.Tensor, torch.Tensor]:
        """Every rank's predictions and targets, ``(N_total, D)`` each."""
        pred = torch.cat(self.preds) if self.preds else torch.zeros(0, 1)
        target = torch.cat(self.targets) if self.targets else torch.zeros(0, 1)
        if dist.enabled:
            parts: list[Any] = [None] * dist.world_size
            tdist.all_gather_object(parts, (pred, target))
            kept = [p for p in parts if p[0].numel()]
            if kept:
                pred = torch.cat([p[0] for p in kept])
                target = torch.cat([p[1] for p in kept])
        return pred, target

    def compute(self, dist: DistInfo | None = None) -> dict[str, float]:
        dist = dist or DistInfo()
        totals = self.sums.clone()
        all_reduce_sum(totals, dist)
        abs_sum, sq_sum, loss_sum, count = totals.tolist()
        n = max(1.0, count)
        result = {"mae": abs_sum / n, "rmse": math.sqrt(sq_sum / n)}
        if self.rank:
            pred, target = self._gathered(dist)
            per_dim = [spearman(pred[:, d], target[:, d]) for d in range(pred.shape[1])]
            result["spearman"] = sum(per_dim) / len(per_dim) if per_dim else math.nan
        result["loss"] = loss_sum / n
        return result


@dataclass
class RegressionTask(Task):
    """Regression on float targets ``(N,)`` or ``(N, D)`` against outputs ``(N, D)``.

    Attributes:
        loss_kind: ``mse``, ``huber`` or ``l1``.
        huber_delta: Where the Huber loss turns from quadratic to linear.
    """

    loss_kind: str = "mse"
    huber_delta: float = 1.0
    name = "regression"
    headline = "mae"
    higher_is_better = False

    def __post_init__(self) -> None:
        if self.loss_kind not in LOSSES:
            raise ValueError(
                f"task.loss: unknown regression loss {self.loss_kind!r}; allowed: "
                f"{', '.join(LOSSES)}"
            )

    def loss(self, outputs: Any, batch: Batch) -> torch.Tensor:
        target = batch[1]
        pred = align(outputs, target)
        return regression_loss(self.loss_kind, pred.float(), target.float(), delta=self.huber_delta)

    def new_metric(self, device: torch.device | str = "cpu") -> RegressionMetric:
        return RegressionMetric(device, self.loss_kind, self.huber_delta)

    def train_metric(self, device: torch.device | str = "cpu") -> RegressionMetric:
        return RegressionMetric(device, self.loss_kind, self.huber_delta, rank=False)

    def num_outputs(self, splits: Any) -> int:
        """The target dimension ``D`` (``splits.target_dim``, default 1)."""
        return int(getattr(splits, "target_dim", 1) or 1)


def build_regression(cfg: RegressionTaskConfig) -> RegressionTask:
    """The regression task from its recipe section.

    Example:
        >>> build_regression(RegressionTaskConfig(loss="l1")).headline
        'mae'
    """
    return RegressionTask(loss_kind=cfg.loss, huber_delta=cfg.huber_delta)
