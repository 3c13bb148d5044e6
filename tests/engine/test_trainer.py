"""Training loop: terms are called in order, divergence stops with the checkpoint kept."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from slimkit.engine import Trainer, TrainingDiverged, TrainingTerm
from slimkit.engine.checkpoint import load_checkpoint
from slimkit.engine.optim import OptimizerConfig, ScheduleConfig


def batches(n: int = 64, bs: int = 16) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 6, generator=g)
    y = (x[:, 0] > 0).long()
    return [(x[i : i + bs], y[i : i + bs]) for i in range(0, n, bs)]


class Recorder(TrainingTerm):
    def __init__(self) -> None:
        self.calls: list[str] = []
        self.lrs: list[float] = []

    def on_train_start(self, model: nn.Module) -> None:
        self.calls.append("start")

    def loss(self, model, batch, outputs):
        self.calls.append("loss")
        return outputs.sum() * 0.0

    def before_step(self, model: nn.Module) -> None:
        assert all(p.grad is not None for p in model.parameters())
        self.calls.append("before")

    def after_step(self, model: nn.Module, lr: float) -> None:
        self.calls.append("after")
        self.lrs.append(lr)

    def on_train_end(self, model: nn.Module) -> None:
        self.calls.append("end")

    def epoch_metrics(self, model: nn.Module) -> dict[str, float]:
        return {"calls": float(len(self.calls))}


def test_hooks_called_in_order_and_learning() -> None:
    term = Recorder()
    data = batches()
    trainer = Trainer(
        nn.Linear(6, 2),
        data,
        data,
        epochs=3,
        optimizer=OptimizerConfig(lr=0.5),
        schedule=ScheduleConfig(name="constant"),
        terms=[term],
    )
    result = trainer.fit()
    assert term.calls[0] == "start" and term.calls[-1] == "end"
    assert term.calls[1:-1] == ["loss", "before", "after"] * 12
    assert term.lrs == [0.5] * 12
    assert result.steps == 12 and result.top1 > 0.9
    assert result.history[-1]["calls"] > 0


class NanAt(TrainingTerm):
    def __init__(self, step: int) -> None:
        self.step, self.seen = step, 0

    def loss(self, model, batch, outputs):
        self.seen += 1
        return torch.tensor(float("nan")) if self.seen >= self.step else None


def test_nan_loss_stops_and_keeps_last_checkpoint(tmp_path: Path) -> None:
    data = batches()
    ckpt = tmp_path / "ck.pt"
    trainer = Trainer(
        nn.Linear(6, 2),
        data,
        data,
        epochs=3,
        optimizer=OptimizerConfig(lr=0.1),
        schedule=ScheduleConfig(),
        terms=[NanAt(6)],
        checkpoint_path=ckpt,
        log_every=1,
    )
    with pytest.raises(TrainingDiverged, match=r"loss is nan at stage 0 epoch 2 step 6.*last good"):
        trainer.fit()
    state = load_checkpoint(ckpt)
    assert state["epoch"] == 1
    assert all(torch.isfinite(v).all() for v in state["model"].values())


class GradNorm(TrainingTerm):
    """Records the global gradient norm the optimizer is about to use (after clipping)."""

    def __init__(self) -> None:
        self.norms: list[float] = []

    def after_step(self, model: nn.Module, lr: float) -> None:
        grads = [p.grad.detach().flatten() for p in model.parameters() if p.grad is not None]
        self.norms.append(float(torch.cat(grads).norm()))


def test_grad_clip_bounds_the_global_gradient_norm() -> None:
    data = [(x * 100.0, y) for x, y in batches()]  # large inputs: large gradients
    norms = {}
    for clip in (None, 0.5):
        torch.manual_seed(0)
        term = GradNorm()
        Trainer(
            nn.Linear(6, 2),
            data,
            None,
            epochs=1,
            optimizer=OptimizerConfig(lr=0.01, grad_clip=clip),
            schedule=ScheduleConfig(name="constant"),
            terms=[term],
        ).fit()
        norms[clip] = term.norms
    assert max(norms[None]) > 5.0  # unclipped: measured 21.8-125.3
    assert max(norms[0.5]) <= 0.5 + 1e-5
    with pytest.raises(ValueError):
        OptimizerConfig(grad_clip=0.0)
