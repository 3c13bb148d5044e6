"""Optimizers and learning-rate schedules.

The schedule is a pure function of the global step (:class:`LRSchedule`), so resuming from a
checkpoint needs only the step count. Supported: ``constant``, ``step``, ``multistep``, ``cosine``
and ``onecycle``, each with an optional linear warm-up; milestones are in epochs.

Example:
    >>> sched = LRSchedule(ScheduleConfig(name="multistep", milestones=[2]), base_lr=0.1,
    ...                    steps_per_epoch=10, epochs=4)
    >>> round(sched(0), 4), round(sched(25), 4)
    (0.1, 0.01)
"""

from __future__ import annotations

import math

import torch
from torch import nn

from slimkit.engine.config import OptimizerConfig, ScheduleConfig

__all__ = ["LRSchedule", "OptimizerConfig", "ScheduleConfig", "build_optimizer", "set_lr"]


def build_optimizer(model: nn.Module, cfg: OptimizerConfig) -> torch.optim.Optimizer:
    """Build the optimizer over the model's trainable parameters."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups: list[dict] | list[torch.Tensor] = params
    if cfg.no_decay_norm_and_bias and cfg.weight_decay > 0:
        decay = [p for p in params if p.ndim > 1]
        no_decay = [p for p in params if p.ndim <= 1]
        groups = [{"params": decay}, {"params": no_decay, "weight_decay": 0.0}]
    if cfg.name == "sgd":
        return torch.optim.SGD(
            groups,
            lr=cfg.lr,
            momentum=cfg.momentum,
            nesterov=cfg.nesterov and cfg.momentum > 0,
            weight_decay=cfg.weight_decay,
        )
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)


class LRSchedule:
    """Learning rate as a function of the global step (0-based)."""

    def __init__(
        self, cfg: ScheduleConfig, base_lr: float, steps_per_epoch: int, epochs: int
    ) -> None:
        self.cfg = cfg
        self.base_lr = base_lr
        self.steps_per_epoch = max(1, steps_per_epoch)
        self.total_steps = self.steps_per_epoch * epochs
        self.warmup_steps = int(round(cfg.warmup_epochs * self.steps_per_epoch))

    def __call__(self, step: int) -> float:
        cfg = self.cfg
        if cfg.name == "onecycle":
            return self._onecycle(step)
        if step < self.warmup_steps:
            start = cfg.warmup_start_factor
            return self.base_lr * (start + (1 - start) * step / self.warmup_steps)
        epoch = step / self.steps_per_epoch
        if cfg.name == "constant":
            return self.base_lr
        if cfg.name == "step":
            return self.base_lr * cfg.gamma ** math.floor(epoch / cfg.step_size)
        if cfg.name == "multistep":
            passed = sum(1 for m in cfg.milestones if epoch >= m)
            return self.base_lr * cfg.gamma**passed
        span = max(1, self.total_steps - self.warmup_steps)
        progress = min(1.0, (step - self.warmup_steps) / span)
        return cfg.min_lr + (self.base_lr - cfg.min_lr) * 0.5 * (1 + math.cos(math.pi * progress))

    def _onecycle(self, step: int) -> float:
        cfg = self.cfg
        peak_step = max(1, int(cfg.pct_start * self.total_steps))
        start = self.base_lr / cfg.div_factor
        end = start / cfg.final_div_factor
        if step < peak_step:
            t = step / peak_step
            return start + (self.base_lr - start) * 0.5 * (1 - math.cos(math.pi * t))
        t = min(1.0, (step - peak_step) / max(1, self.total_steps - peak_step))
        return end + (self.base_lr - end) * 0.5 * (1 + math.cos(math.pi * t))


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Set the learning rate of every parameter group."""
    for group in optimizer.param_groups:
        group["lr"] = lr
