"""Recipe settings of the sparsity training terms ``bn_sparsity``, ``sgl``, ``dim_search`` (torch-free).

Penalties are checked against the catalog's metadata (:func:`slimkit.penalties.registry.
check_penalty`): name, argument names, elementwise or group, subgradient. Argument values are
checked when the term builds its penalty.

Example:
    >>> BNSparsityConfig(method="subgradient", penalty="tl1", penalty_kwargs={"a": 1.0}).lam
    0.0001
    >>> from slimkit.config import validate_config
    >>> try:
    ...     validate_config(BNSparsityConfig, {"method": "subgradient", "penalty": "l0"}, "term")
    ... except ValueError as e:
    ...     print(e)
    term: penalty 'l0' has no subgradient; use method: proximal
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from slimkit.config import Config
from slimkit.engine.config import TermConfig
from slimkit.penalties.registry import check_penalty

__all__ = [
    "SGL_PENALTIES",
    "BNSparsityConfig",
    "DimSearchConfig",
    "GroupSplittingConfig",
    "LamControllerConfig",
]

SGL_PENALTIES = ("l0", "l1", "group_l21", "l1_l21", "l0_l21")


class LamControllerConfig(Config):
    """How ``lam: auto`` steers λ (reconstructed, ours: no paper gives a λ controller).

    Every ``every`` steps the MACs the ``zeros`` rule would leave at the end of the ramp (the
    first ``ramp`` of the stage) are predicted from ξ and the shrinkage λ still applies until
    then; λ moves (by at most ``max_step`` per update) to the value in [``lam_min``,
    ``lam_max``] whose prediction equals the share (bisection on log λ): raised while the zeros
    fall short of the share, lowered when they overshoot (:mod:`slimkit.sparsity.controller`).
    """

    lam_init: float = Field(0.01, gt=0, description="λ at the first step")
    every: int = Field(10, ge=1, description="steps between λ updates")
    max_step: float = Field(2.0, gt=1, description="λ changes by at most this factor per update")
    iters: int = Field(20, ge=1, description="bisection steps on log λ per update")
    ramp: float = Field(0.75, gt=0, le=1, description="stage fraction where the share is due")
    lam_min: float = Field(1e-6, gt=0)
    lam_max: float = Field(10.0, gt=0)


GROUP_PENALTIES = ("group_l21", "l1_l21", "l0_l21")


class BNSparsityConfig(TermConfig):
    """Recipe settings of the ``bn_sparsity`` training term."""

    name: Literal["bn_sparsity"] = "bn_sparsity"
    method: Literal["subgradient", "proximal"] = "proximal"
    penalty: str = "l1"
    penalty_kwargs: dict[str, Any] = Field(default_factory=dict)
    lam: float | Literal["auto"] = Field(
        1e-4,
        description="λ, the penalty weight (`--s` in the papers' code); for mcp and scad the "
        "strength inside R (applied once, with weight 1); 'auto': steered towards the recipe "
        "target's share of the next prune stage (see controller)",
    )
    controller: LamControllerConfig = Field(default_factory=LamControllerConfig)
    beta: float = Field(100.0, gt=0, description="β, proximal coupling weight")
    xi_init: Literal["uniform", "gamma"] = "uniform"
    xi_low: float = 0.47
    xi_high: float = 0.53
    gamma_init: float | None = None
    final_assign: Literal["xi", "zeros"] = "xi"
    eps: float = Field(1e-8, gt=0, description="ℓp subgradient guard at γ = 0")
    seed: int = 0
    grouping: Literal["channel", "coupled", "block"] = Field(
        "channel",
        description="channel: each scale alone (the papers); coupled: the scales of one coupled "
        "channel in every BN form a group; block: `block` channels of a coupled group together",
    )
    block: int = Field(8, ge=1, description="channels per group with grouping: block")

    @model_validator(mode="after")
    def _grouping_needs_group_penalty(self) -> BNSparsityConfig:
        if self.grouping != "channel":
            if self.penalty not in GROUP_PENALTIES:
                raise ValueError(
                    f"grouping: {self.grouping!r} needs a group penalty "
                    f"({', '.join(GROUP_PENALTIES)}); got penalty {self.penalty!r}"
                )
            if self.lam == "auto":
                raise ValueError(
                    f"lam: 'auto' predicts elementwise shrinkage; use grouping: channel, not "
                    f"{self.grouping!r}"
                )
        return self

    def optimizer_problem(self, optimizer: str) -> str | None:
        if self.method == "proximal" and optimizer != "sgd":
            return (
                "method 'proximal' takes its step 1/α = the SGD learning rate (digest §5.2); with "
                f"optimizer '{optimizer}' the shrinkage would be wrong: use optimizer.name: sgd, "
                "or method: subgradient"
            )
        return None

    @model_validator(mode="after")
    def _auto_lambda(self) -> BNSparsityConfig:
        if self.lam == "auto":
            if self.method != "proximal":
                raise ValueError("lam: 'auto' needs method: proximal (exact zeros to steer by)")
            if self.penalty in ("mcp", "scad"):
                raise ValueError(f"lam: 'auto' cannot steer {self.penalty}, whose λ is inside R")
        elif self.lam < 0:
            raise ValueError(f"lam: expected a number >= 0 or 'auto', got {self.lam}")
        return self

    @model_validator(mode="after")
    def _one_lambda(self) -> BNSparsityConfig:
        if self.penalty in ("mcp", "scad") and "lam" in self.penalty_kwargs:
            raise ValueError(
                f"penalty_kwargs.lam: {self.penalty} takes its strength λ from the term's 'lam' "
                "(inside R, weight 1, so λ acts once); remove penalty_kwargs.lam"
            )
        return self

    @model_validator(mode="after")
    def _penalty_fits_method(self) -> BNSparsityConfig:
        check_penalty(
            self.penalty,
            self.penalty_kwargs,
            elementwise=self.grouping == "channel",
            subgradient=self.method == "subgradient",
        )
        return self


class GroupSplittingConfig(TermConfig):
    """Recipe settings of the ``sgl`` training term (relaxed variable splitting).

    Works with any optimizer: the optimizer steps W on the differentiable objective, and the V
    update is the exact minimizer over V given W (``prox_{λ/β}(W)``), which involves no step size.
    """

    name: Literal["sgl"] = "sgl"
    penalty: Literal["l0", "l1", "group_l21", "l1_l21", "l0_l21"] = "l0"
    penalty_kwargs: dict[str, Any] = Field(default_factory=dict)
    lam: float = Field(0.1, ge=0, description="λ of the penalty on V (prox parameter λ/β)")
    group_lam: float | None = Field(
        None, ge=0, description="weight of the autograd ℓ2,1 term on W (null: lam)"
    )
    beta: float = Field(2.5, gt=0, description="β₀, initial coupling weight")
    beta_growth: float = Field(1.25, ge=1, description="β factor every beta_every epochs")
    beta_every: int = Field(40, ge=1, description="epochs between β increases")
    scale: float = Field(1.0, gt=0, description="factor on group + coupling terms (code: 1/N)")
    group_weights: bool = Field(True, description="weight each group's norm by √(group size)")
    linear_groups: Literal["in", "out"] = "in"
    layers: list[str] | None = Field(
        None, description="conv/linear names (null: all but the first conv and the classifier)"
    )
    v_init: Literal["prox", "weights"] = "prox"
    final_assign: Literal["auto", "v", "w", "zeros"] = "auto"
    assign_tolerance: float = Field(
        0.05, ge=0, description="auto: W := V only when ||W - V|| / ||W|| is at most this"
    )

    @model_validator(mode="after")
    def _check_penalty(self) -> GroupSplittingConfig:
        check_penalty(self.penalty, self.penalty_kwargs)  # one-line ValueError on bad kwargs
        return self


class DimSearchConfig(TermConfig):
    """Recipe settings of the ``dim_search`` term (SiDT: transformer dimension search).

    Everything here is [reconstructed] (digest ``sidt_rarts_eye.md`` §2.3, mechanism A: gates
    trained jointly with the weights under a sparsity penalty); the budget is applied by the
    following ``prune`` stage (``rule: dims``).
    """

    name: Literal["dim_search"] = "dim_search"
    kinds: list[Literal["embed", "heads", "mlp"]] | None = Field(
        None, description="dimension kinds to gate (null: every kind the model has)"
    )
    penalty: str = Field("l1", description="penalty on the gates, applied by its proximal map")
    penalty_kwargs: dict[str, Any] = Field(default_factory=dict)
    lam: float = Field(1e-3, ge=0, description="λ, the penalty weight on the gates")
    gate_lr: float = Field(
        0.05, gt=0, description="gate step size at the stage's base lr (follows the schedule)"
    )
    cost_weighted: bool = Field(
        False,
        description="scale each gate's penalty by the parameters its dim costs (relative to the "
        "mean over all gates), so a head weighs more than one MLP unit",
    )
    renorm_embed: bool = Field(
        True,
        description="divide the embed gates by their largest |g| after each step (the ViT is "
        "invariant to their common scale through its LayerNorms)",
    )

    @model_validator(mode="after")
    def _known_penalty(self) -> DimSearchConfig:
        check_penalty(self.penalty, self.penalty_kwargs, elementwise=True)
        return self
