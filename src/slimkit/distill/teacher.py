"""Where a distillation teacher comes from, and loading it frozen (FAQD digest §2.3).

A :class:`TeacherConfig` names exactly one source:

- ``artifact: PATH``: a ``.slim.pt`` artifact (any slimkit model, pruned or not);
- ``stage: N``: the model saved after stage ``N`` of this run (``stages/stageN.slim.pt`` in the
  run directory; ``N`` must be an earlier stage);
- ``model: {name, kwargs, weights}``: a zoo / ``tv:`` / ``timm:`` model, optionally loading a
  checkpoint with :func:`slimkit.models.load_weights`.

The teacher is put in eval mode, its parameters get ``requires_grad=False``, it is moved to the
run's device and is never part of the student (so never in the optimizer, the checkpoint or the
DDP wrapper). It sees the same normalized inputs as the student: set ``data.mean``/``data.std``
to the normalization the teacher was trained with.

Example:
    >>> cfg = TeacherConfig(model={"name": "resnet8_tiny"})
    >>> teacher = build_teacher(cfg, num_classes=10, in_channels=3)
    >>> teacher.training, any(p.requires_grad for p in teacher.parameters())
    (False, False)
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from slimkit.distill.config import TeacherConfig, TeacherModelConfig

__all__ = ["TeacherConfig", "TeacherModelConfig", "build_teacher", "freeze", "place"]


def freeze(model: nn.Module) -> nn.Module:
    """Eval mode and ``requires_grad=False`` on every parameter; returns ``model``."""
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def build_teacher(
    cfg: TeacherConfig,
    *,
    num_classes: int,
    in_channels: int,
    run_dir: str | Path | None = None,
    stage_index: int | None = None,
) -> nn.Module:
    """Build or load the teacher named by ``cfg`` (frozen, on the CPU).

    Args:
        cfg: the teacher source.
        num_classes: classes of the zoo model (``model`` source).
        in_channels: input channels of the zoo model.
        run_dir: the run directory (``stage`` source).
        stage_index: the index of the stage that asks (``stage`` must be smaller).
    """
    from slimkit.artifacts import load_artifact
    from slimkit.models import build_model, load_weights

    if cfg.artifact is not None:
        return freeze(load_artifact(cfg.artifact).module)
    if cfg.stage is not None:
        if stage_index is not None and cfg.stage >= stage_index:
            raise ValueError(
                f"teacher.stage: {cfg.stage} is not an earlier stage (this is stage {stage_index})"
            )
        if run_dir is None:
            raise ValueError("teacher.stage: needs a recipe run (no run directory given)")
        path = Path(run_dir) / "stages" / f"stage{cfg.stage}.slim.pt"
        if not path.is_file():
            raise ValueError(f"teacher.stage: {cfg.stage} has no saved model ({path} is missing)")
        return freeze(load_artifact(path).module)
    assert cfg.model is not None
    model = build_model(
        cfg.model.name, num_classes=num_classes, in_channels=in_channels, **cfg.model.kwargs
    )
    if cfg.model.weights is not None:
        load_weights(model, cfg.model.weights)
    return freeze(model)


def place(model: nn.Module, device: torch.device, channels_last: bool) -> nn.Module:
    """Move a frozen model to ``device`` (channels_last when the run uses it)."""
    model = model.to(device)
    return model.to(memory_format=torch.channels_last) if channels_last else model
