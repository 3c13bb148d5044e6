"""Recipe settings of the ``distill`` training term and its teacher (torch-free).

A :class:`TeacherConfig` names exactly one source: ``artifact: PATH``, ``stage: N`` (the model
saved after an earlier stage of this run) or ``model: {name, kwargs, weights}`` (a
:class:`~slimkit.models.config.ModelConfig`, the same section as the recipe's ``model``).

Example:
    >>> TeacherConfig(model={"name": "resnet20"}).model.name
    'resnet20'
    >>> try:
    ...     TeacherConfig()
    ... except ValueError as e:
    ...     print("exactly one of" in str(e))
    True
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from slimkit.config import Config
from slimkit.engine.config import TermConfig
from slimkit.models.config import ModelConfig

__all__ = ["DistillConfig", "TeacherConfig", "TeacherModelConfig"]

TeacherModelConfig = ModelConfig  # a teacher built from the model zoo, with an optional checkpoint


class TeacherConfig(Config):
    """Exactly one of ``artifact``, ``stage`` or ``model``."""

    artifact: str | None = None
    stage: int | None = Field(None, ge=0)
    model: ModelConfig | None = None

    @model_validator(mode="after")
    def _one_source(self) -> TeacherConfig:
        given = [k for k in ("artifact", "stage", "model") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                f"teacher: give exactly one of artifact, stage, model (got {given or 'none'})"
            )
        return self


class DistillConfig(TermConfig):
    """Recipe settings of the ``distill`` term."""

    name: Literal["distill"] = "distill"
    teacher: TeacherConfig
    # the smallest valid recipe section (contract tests build every term from its example)
    example: ClassVar[dict[str, Any]] = {
        "name": "distill",
        "teacher": {"model": {"name": "resnet8_tiny"}},
    }
    labels: bool = True
    ce_weight: float = Field(1.0, ge=0)
    kd: Literal["kl", "mse", "none"] = "kl"
    kd_weight: float = Field(1.0, ge=0)
    temperature: float = Field(4.0, gt=0)
    feature_loss: Literal["fa", "ffa", "none"] = "fa"
    fa_weight: float = Field(1.0, ge=0)
    k: int = Field(15, ge=1)
    fixed_sketch: bool = False
    order: Literal[1, 2] = 2
    reduction: Literal["mean", "sum"] = "mean"
    layers: list[str] | None = None
    teacher_layers: list[str] | None = None
    adapter: bool = True
    seed: int = 0
