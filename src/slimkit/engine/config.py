"""Recipe settings of the training engine (torch-free): optimizer, schedule, training terms.

Example:
    >>> OptimizerConfig(lr=0.05).momentum
    0.9
    >>> ScheduleConfig(name="multistep", milestones=[2]).gamma
    0.1
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from slimkit.config import Config

__all__ = ["OptimizerConfig", "ScheduleConfig", "TermConfig"]


class OptimizerConfig(Config):
    """Optimizer settings (SGD with momentum/Nesterov, or AdamW)."""

    name: Literal["sgd", "adamw"] = "sgd"
    lr: float = Field(0.1, gt=0)
    momentum: float = Field(0.9, ge=0, lt=1)
    nesterov: bool = False
    weight_decay: float = Field(5e-4, ge=0)
    betas: tuple[float, float] = (0.9, 0.999)
    no_decay_norm_and_bias: bool = False
    grad_clip: float | None = Field(
        None,
        gt=0,
        description="clip the global gradient norm to this value before each step (the FAQD "
        "official code uses 20); null: no clipping",
    )


class ScheduleConfig(Config):
    """Learning-rate schedule; epochs-based milestones, per-step evaluation."""

    name: Literal["constant", "step", "multistep", "cosine", "onecycle"] = "cosine"
    warmup_epochs: float = Field(0.0, ge=0)
    warmup_start_factor: float = Field(0.1, gt=0, le=1)
    step_size: int = Field(30, ge=1)
    milestones: list[float] = Field(default_factory=list)
    gamma: float = Field(0.1, gt=0)
    min_lr: float = Field(0.0, ge=0)
    pct_start: float = Field(0.3, gt=0, lt=1)
    div_factor: float = Field(25.0, gt=0)
    final_div_factor: float = Field(1e4, gt=0)


class TermConfig(Config):
    """Common fields of a training term in a recipe: the term's registered ``name``."""

    name: str

    def optimizer_problem(self, optimizer: str) -> str | None:
        """Why this term cannot train with ``optimizer`` (``None``: it can). A proximal term
        computes its step size as the SGD learning rate; under AdamW the parameter moves by a
        per-coordinate adaptive step, so that prox would shrink by the wrong amount."""
        return None
