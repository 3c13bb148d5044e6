"""Learning-rate schedules against their closed forms; optimizer construction."""

from __future__ import annotations

import math

import pytest
import torch

from slimkit.engine.optim import LRSchedule, OptimizerConfig, ScheduleConfig, build_optimizer


def sched(steps_per_epoch: int = 10, epochs: int = 10, **kw) -> LRSchedule:
    return LRSchedule(ScheduleConfig(**kw), 0.1, steps_per_epoch, epochs)


def test_step_and_multistep() -> None:
    s = sched(name="step", step_size=3, gamma=0.5)
    assert (
        s(29) == pytest.approx(0.1)
        and s(30) == pytest.approx(0.05)
        and s(60) == pytest.approx(0.025)
    )
    m = sched(name="multistep", milestones=[5, 8])
    assert (
        m(49) == pytest.approx(0.1)
        and m(50) == pytest.approx(0.01)
        and m(80) == pytest.approx(0.001)
    )


def test_cosine_with_warmup() -> None:
    s = sched(name="cosine", warmup_epochs=1, warmup_start_factor=0.1)
    assert s(0) == pytest.approx(0.01)
    assert s(5) == pytest.approx(0.01 + 0.09 * 0.5)
    assert s(10) == pytest.approx(0.1)
    mid = 10 + 45
    assert s(mid) == pytest.approx(0.1 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert s(100) == pytest.approx(0.0, abs=1e-12)


def test_onecycle_peak_and_ends() -> None:
    s = sched(name="onecycle", pct_start=0.3, div_factor=25, final_div_factor=1e4)
    assert s(0) == pytest.approx(0.1 / 25)
    assert s(30) == pytest.approx(0.1)
    assert s(100) == pytest.approx(0.1 / 25 / 1e4)
    assert max(s(i) for i in range(100)) == pytest.approx(0.1)


def test_optimizers() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.BatchNorm1d(3))
    sgd = build_optimizer(model, OptimizerConfig(nesterov=True))
    assert isinstance(sgd, torch.optim.SGD) and sgd.param_groups[0]["nesterov"]
    adamw = build_optimizer(model, OptimizerConfig(name="adamw", lr=1e-3, weight_decay=0.05))
    assert isinstance(adamw, torch.optim.AdamW)
    split = build_optimizer(model, OptimizerConfig(no_decay_norm_and_bias=True))
    assert [g["weight_decay"] for g in split.param_groups] == [5e-4, 0.0]
    assert len(split.param_groups[0]["params"]) == 1
