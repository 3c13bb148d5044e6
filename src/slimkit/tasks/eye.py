"""Weakly supervised eye openness (issue 16; the losses are reconstructed, every one a parameter).

Batches come from the ``eye_mix`` dataset (:mod:`slimkit.data.eye_mix`): targets
``[value, domain, identity]`` with domain 0 synthetic (exact openness), 1 real (0 closed / 1 open)
and 2 a monotonicity-sweep image (test only). The model has one output ``z`` and predicts the
openness ``ô = sigmoid(z)``. The training loss of a batch is

``synthetic_weight · synthetic_loss(ô, o)`` on the synthetic rows
``+ hinge_weight · weak_hinge(ô, label) + rank_weight · pairwise_ranking(ô, label)`` on the real
rows (``real_loss: bce``: binary cross-entropy on ``z`` instead, an open/closed classifier whose
probability is the openness: the "real only" baseline)
``+ align_weight · coral|mmd(features_synthetic, features_real)``, the features being the input of
``feature_layer`` (default: the last Linear layer, i.e. the pooled backbone features).

Evaluation (one pass over the test split, all ranks): ``auc_<real>`` (headline) and
``acc_<real>`` (at ``threshold``: fixed, or with ``threshold: val`` the one with the best
accuracy on the validation split, reported as ``threshold_<real>``) on the real rows,
``mae_synthetic`` and ``spearman_synthetic`` on the synthetic rows, ``monotonicity`` (the mean
Spearman of prediction vs level over the sweep's identities) and ``loss``.

Example:
    >>> import torch
    >>> from slimkit.tasks.config import EyeOpennessTaskConfig
    >>> task = build_eye_openness(EyeOpennessTaskConfig(align="none"))
    >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 1))
    >>> y = torch.tensor([[0.3, 0, -1], [1, 1, -1], [0, 1, -1], [0.8, 0, -1]])
    >>> loss, out = task.train_step(net, (torch.randn(4, 1, 2, 2), y))
    >>> loss.dim(), out.shape
    (0, torch.Size([4, 1]))
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.distributed as tdist
import torch.nn.functional as F
from torch import nn

from slimkit.data.eye_mix import REAL, SWEEP, SYNTHETIC
from slimkit.engine.distributed import DistInfo
from slimkit.eye import losses as L
from slimkit.eye import metrics as M
from slimkit.tasks.base import Batch, Metric, Task
from slimkit.tasks.config import EyeOpennessTaskConfig


def _check_targets(y: Any) -> torch.Tensor:
    if not torch.is_tensor(y) or y.dim() != 2 or y.shape[1] != 3:
        shape = tuple(y.shape) if torch.is_tensor(y) else type(y).__name__
        raise ValueError(
            f"task eye_openness: expected eye_mix targets (N, 3) [value, domain, identity], got "
            f"{shape}; use data.name: eye_mix"
        )
    return y


def _logit(outputs: torch.Tensor) -> torch.Tensor:
    """The openness logit ``z``, ``(N,)``, of the model's ``(N, 1)`` or ``(N,)`` output."""
    return outputs.reshape(outputs.shape[0], -1)[:, 0].float()


def openness(outputs: torch.Tensor) -> torch.Tensor:
    """The predicted openness ``sigmoid(z)`` of the model's ``(N, 1)`` or ``(N,)`` output."""
    return torch.sigmoid(_logit(outputs))


class EyeMetric(Metric):
    """Keeps every prediction with its target row; :meth:`compute` scores them (all ranks)."""

    def __init__(self, task: EyeOpennessTask) -> None:
        self.task = task
        self.preds: list[torch.Tensor] = []
        self.rows: list[torch.Tensor] = []
        self.loss_sum = 0.0
        self.count = 0

    def update(self, outputs: Any, batch: Batch) -> None:
        y = _check_targets(batch[1]).detach().float()
        out = outputs.detach().float()
        self.loss_sum += float(self.task.loss(out, batch)) * len(y)
        self.count += len(y)
        self.preds.append(openness(out).cpu())
        self.rows.append(y.cpu())

    def _gathered(self, dist: DistInfo) -> tuple[torch.Tensor, torch.Tensor, float, int]:
        pred = torch.cat(self.preds) if self.preds else torch.zeros(0)
        rows = torch.cat(self.rows) if self.rows else torch.zeros(0, 3)
        loss_sum, count = self.loss_sum, self.count
        if dist.enabled:
            parts: list[Any] = [None] * dist.world_size
            tdist.all_gather_object(parts, (pred, rows, loss_sum, count))
            pred = torch.cat([p[0] for p in parts])
            rows = torch.cat([p[1] for p in parts])
            loss_sum, count = sum(p[2] for p in parts), sum(p[3] for p in parts)
        return pred, rows, loss_sum, count

    def compute(self, dist: DistInfo | None = None) -> dict[str, float]:
        pred, rows, loss_sum, count = self._gathered(dist or DistInfo())
        value, domain = rows[:, 0], rows[:, 1].long()
        real = self.task.real
        result: dict[str, float] = {}
        is_real = domain == REAL
        labels = value[is_real] > 0.5
        if is_real.any() and labels.any() and not labels.all():
            result[f"auc_{real}"] = M.roc_auc(pred[is_real], labels)
            threshold = self.task.threshold_for(pred[is_real], labels)
            result[f"acc_{real}"] = M.accuracy_at(pred[is_real], labels, threshold)
            result[f"threshold_{real}"] = threshold
        else:
            result[f"auc_{real}"] = result[f"acc_{real}"] = math.nan
        syn = domain == SYNTHETIC
        if syn.any():
            result["mae_synthetic"] = float((pred[syn] - value[syn]).abs().mean())
            result["spearman_synthetic"] = M.spearman(pred[syn], value[syn])
        sweep = domain == SWEEP
        if sweep.any():
            result["monotonicity"] = M.mean_spearman_by_group(
                pred[sweep], value[sweep], rows[sweep, 2].long()
            )
        result["loss"] = loss_sum / max(1, count)
        return result


def _feature_module(net: nn.Module, name: str | None) -> nn.Module:
    """The module whose input is the aligned feature: ``name``, or the last Linear layer."""
    base = net.module if isinstance(net, nn.parallel.DistributedDataParallel) else net
    if name is not None:
        try:
            return base.get_submodule(name)
        except AttributeError:
            raise ValueError(f"task.feature_layer: the model has no module {name!r}") from None
    linears = [m for m in base.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError(
            "task.align: the model has no Linear layer whose input is the feature; set "
            "task.feature_layer or task.align: none"
        )
    return linears[-1]


@dataclass
class EyeOpennessTask(Task):
    """See the module docstring; the fields are :class:`EyeOpennessTaskConfig`'s."""

    cfg: EyeOpennessTaskConfig = field(default_factory=EyeOpennessTaskConfig)
    name = "eye_openness"
    higher_is_better = True

    def __post_init__(self) -> None:
        if self.cfg.t_closed > self.cfg.t_open:
            raise ValueError(
                f"task.t_closed: must not exceed task.t_open, got {self.cfg.t_closed} > "
                f"{self.cfg.t_open}"
            )
        self.headline = f"auc_{self.cfg.real}"

    @property
    def real(self) -> str:
        return self.cfg.real

    #: the threshold picked on the validation split (``threshold: val``), once calibrated
    chosen_threshold: float | None = None
    #: set while :meth:`calibrate` evaluates the validation split
    choosing: bool = False

    def threshold_for(self, pred: torch.Tensor, is_open: torch.Tensor) -> float:
        """The openness threshold of ``acc_<real>``: the fixed one, the best on these predictions
        while calibrating on the validation split, the one picked there afterwards, or 0.5 when
        none was picked (a validation split without real eyes)."""
        if self.cfg.threshold != "val":
            return float(self.cfg.threshold)
        if self.choosing:
            return M.best_threshold(pred, is_open)
        return 0.5 if self.chosen_threshold is None else self.chosen_threshold

    def calibrate(self, evaluate_val: Callable[[], dict[str, float]]) -> None:
        """``threshold: val``: pick the threshold with the best accuracy on the validation
        split's real eyes (:func:`slimkit.eye.metrics.best_threshold`)."""
        if self.cfg.threshold != "val":
            return
        self.choosing = True
        try:
            picked = evaluate_val().get(f"threshold_{self.real}")
        finally:
            self.choosing = False
        if picked is not None and math.isfinite(picked):
            self.chosen_threshold = float(picked)

    def _align(self, feats: torch.Tensor, domain: torch.Tensor) -> torch.Tensor:
        f = feats.flatten(1).float()
        src, tgt = f[domain == SYNTHETIC], f[domain == REAL]
        if len(src) < 2 or len(tgt) < 2:
            return f.sum() * 0.0
        return L.coral(src, tgt) if self.cfg.align == "coral" else L.mmd(src, tgt)

    def loss(self, outputs: Any, batch: Batch, feats: torch.Tensor | None = None) -> torch.Tensor:
        c = self.cfg
        y = _check_targets(batch[1])
        value, domain = y[:, 0].float(), y[:, 1].long()
        z = _logit(outputs)
        pred = torch.sigmoid(z)
        total = z.sum() * 0.0
        syn, real = domain == SYNTHETIC, domain == REAL
        if syn.any() and c.synthetic_weight:
            total = total + c.synthetic_weight * L.synthetic_loss(
                pred[syn], value[syn], c.synthetic_loss, c.huber_beta
            )
        if real.any():
            label = value[real] > 0.5
            if c.real_loss == "bce":
                total = total + F.binary_cross_entropy_with_logits(z[real], label.float())
            else:
                total = total + c.hinge_weight * L.weak_hinge(
                    pred[real], label, c.t_closed, c.t_open
                )
                if c.rank_weight:
                    total = total + c.rank_weight * L.pairwise_ranking(
                        pred[real], label, c.rank_margin
                    )
        if feats is not None and c.align != "none" and c.align_weight:
            total = total + c.align_weight * self._align(feats, domain)
        return total

    def train_step(self, net: nn.Module, batch: Batch) -> tuple[torch.Tensor, Any]:
        if self.cfg.align == "none" or not self.cfg.align_weight:
            outputs = self.forward(net, batch)
            return self.loss(outputs, batch), outputs
        captured: list[torch.Tensor] = []
        hook = _feature_module(net, self.cfg.feature_layer).register_forward_pre_hook(
            lambda _m, inputs: captured.append(inputs[0])
        )
        try:
            outputs = self.forward(net, batch)
        finally:
            hook.remove()
        return self.loss(outputs, batch, captured[-1] if captured else None), outputs

    def new_metric(self, device: torch.device | str = "cpu") -> EyeMetric:
        return EyeMetric(self)

    def num_outputs(self, splits: Any) -> int:
        """One output: the openness logit."""
        return 1


def build_eye_openness(cfg: EyeOpennessTaskConfig) -> EyeOpennessTask:
    """The eye-openness task from its recipe section."""
    return EyeOpennessTask(cfg=cfg)
