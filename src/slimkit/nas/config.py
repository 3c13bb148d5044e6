"""Recipe settings of the ``search`` stage and the ``darts_retrain`` term (torch-free).

Defaults are the official DARTS search settings ([code], digest §1.2/§1.4); RARTS's λ, β,
variant and y learning rate are our reconstruction ([reconstructed], digest §1.3); ``skip_cap``
and ``stop_at_skips`` are guards against skip-connect collapse that neither paper has.

Example:
    >>> cfg = SearchStageConfig(method="darts_2nd", epochs=1)
    >>> cfg.arch_lr, cfg.r
    (0.0003, 0.01)
    >>> from slimkit.config import validate_config
    >>> try:
    ...     validate_config(SearchStageConfig, {"method": "darts", "epochs": 1}, "stages[0]")
    ... except ValueError as e:
    ...     print(str(e)[:48])
    stages[0].method: Input should be 'darts_1st', '
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from slimkit.config import Config
from slimkit.engine.config import TermConfig
from slimkit.stages.config import StageConfig

__all__ = ["DartsRetrainConfig", "DeriveConfig", "SearchStageConfig"]


class DeriveConfig(Config):
    """The network the ``search`` stage builds from the derived genotype (``darts_net``)."""

    cells: int = Field(8, ge=1, description="cells of the derived network (DARTS eval: 20)")
    channels: int = Field(16, ge=2, multiple_of=2, description="initial channels (DARTS: 36)")
    stem_multiplier: int = Field(3, ge=1)
    auxiliary: bool = Field(False, description="auxiliary head (train with darts_retrain)")
    drop_path: float = Field(0.0, ge=0, lt=1, description="max drop-path probability")


class SearchStageConfig(StageConfig):
    """Settings of a ``search`` stage (see :mod:`slimkit.stages.search`)."""

    kind: Literal["search"] = "search"
    needs_val_split: ClassVar[bool] = True
    method: Literal["darts_1st", "darts_2nd", "rarts"] = "rarts"
    epochs: int = Field(ge=1)
    steps_per_epoch: int | None = Field(None, ge=1, description="cap (null: one train pass)")
    # weights: SGD, cosine per epoch (DARTS)
    lr: float = Field(0.025, gt=0)
    lr_min: float = Field(0.001, ge=0)
    momentum: float = Field(0.9, ge=0, lt=1)
    weight_decay: float = Field(3e-4, ge=0)
    grad_clip: float | None = Field(5.0, gt=0)
    # α: Adam (DARTS)
    arch_lr: float = Field(3e-4, gt=0)
    arch_betas: tuple[float, float] = (0.5, 0.999)
    arch_weight_decay: float = Field(1e-3, ge=0)
    arch_grad_clip: float | None = Field(10.0, gt=0)
    # DARTS second order
    xi: float | None = Field(None, gt=0, description="virtual step (null: the weight lr)")
    r: float = Field(0.01, gt=0, description="finite-difference scale r (step r/||v||)")
    # RARTS [reconstructed]
    lam: float = Field(1.0, gt=0, description="λ: weight of L_train in the α objective")
    beta: float = Field(1.0, gt=0, description="β: coupling of the w and y copies")
    variant: Literal["reuse", "exact"] = "reuse"
    y_lr_scale: float = Field(1.0, gt=0, description="lr of the y copy / lr of w")
    # guards (not from the papers)
    skip_cap: int | None = Field(None, ge=0, description="max skip_connect in the normal cell")
    stop_at_skips: int | None = Field(
        None, ge=1, description="stop when the derived normal cell has this many skips"
    )
    evaluate_val: bool = Field(True, description="supernet top-1 on the val split at the end")
    derive: DeriveConfig | None = Field(
        default_factory=DeriveConfig,
        description="replace the model by darts_net(genotype); null keeps the supernet",
    )

    @model_validator(mode="after")
    def _stable_coupling(self) -> SearchStageConfig:
        if self.method == "rarts" and self.lr * self.beta >= 1:
            raise ValueError(
                f"beta: lr·beta must stay below 1 for a stable RARTS coupling, got "
                f"{self.lr}·{self.beta} = {self.lr * self.beta:g}"
            )
        return self


class DartsRetrainConfig(TermConfig):
    """Recipe settings of the ``darts_retrain`` term: the auxiliary-head loss and the linear
    drop-path ramp of the official DARTS evaluation script ([code])."""

    name: Literal["darts_retrain"] = "darts_retrain"
    aux_weight: float = Field(0.4, ge=0, description="weight of the auxiliary head's loss")
    drop_path: float | None = Field(
        None, ge=0, lt=1, description="final drop-path probability (null: the model's)"
    )
