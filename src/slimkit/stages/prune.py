"""The ``prune`` stage: remove BN-scaled channels physically (network slimming family).

Recipe form::

    - kind: prune
      rule: zeros            # zeros | threshold | macs
      percent: 0.5           # threshold: global fraction of channels ranked by |γ|
      macs_target: 0.5       # macs: keep at most this fraction of the model's MACs
      min_channels: 1        # per-layer guard (never empty a layer)
      min_fraction: 0.0      # per-layer guard as a fraction of the layer's channels

``zeros`` removes exactly the channels whose scale is zero in every coupled BN (what proximal
slimming produces; no threshold). ``threshold`` is network slimming's global percentile of |γ|.
``macs`` removes the least important channels until the MACs target is met. Coupling through
residual additions, concatenations and depthwise convolutions comes from torch-pruning's
dependency graph (:mod:`slimkit.surgery`). The removed channels' γ and β are zeroed first (as
network slimming does), so the physical removal itself is exact; the stage then evaluates the
pruned model (top-1 before any fine-tuning).

Report fields: ``rule``, ``channels_before``, ``channels_removed``, ``exact_zero_scales`` (BN
scales exactly 0 before pruning), ``params_before/after``, ``macs_before/after``, ``top1``;
plot ``channels_per_layer.png``.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from pydantic import Field, model_validator

from slimkit.measure import count_macs, count_params
from slimkit.sparsity import bn_layers
from slimkit.sparsity.plots import plot_channels_per_layer
from slimkit.stages.base import StageConfig, register_stage
from slimkit.surgery import channel_groups, channels_per_layer, mask_channels, select_channels


class PruneStageConfig(StageConfig):
    """Settings of a ``prune`` stage."""

    kind: Literal["prune"] = "prune"
    rule: Literal["zeros", "threshold", "macs"] = "zeros"
    percent: float | None = Field(None, ge=0, lt=1)
    macs_target: float | None = Field(None, gt=0, le=1)
    min_channels: int = Field(1, ge=1)
    min_fraction: float = Field(0.0, ge=0, lt=1)

    @model_validator(mode="after")
    def _rule_needs(self) -> PruneStageConfig:
        if self.rule == "threshold" and self.percent is None:
            raise ValueError("rule 'threshold' needs 'percent' (fraction of channels, e.g. 0.5)")
        if self.rule == "macs" and self.macs_target is None:
            raise ValueError("rule 'macs' needs 'macs_target' (fraction of MACs kept, e.g. 0.5)")
        return self


@register_stage("prune", PruneStageConfig)
def run_prune(ctx: Any, cfg: PruneStageConfig) -> dict[str, Any]:
    """Select, mask and physically remove channels of ``ctx.model``; evaluate the result."""
    handle = ctx.model
    module = handle.module.cpu()
    input_size = handle.input_size
    example = torch.zeros(1, *input_size)
    before = channels_per_layer(module)
    zero_scales = sum(int((m.weight.detach() == 0).sum()) for _, m in bn_layers(module))
    params_before, macs_before = count_params(module), count_macs(module, input_size)
    groups = channel_groups(module, example)
    removal = select_channels(
        groups,
        cfg.rule,
        percent=cfg.percent,
        macs_target=cfg.macs_target,
        min_channels=cfg.min_channels,
        min_fraction=cfg.min_fraction,
        model=module,
        example_input=example,
    )
    removed = sum(len(v) for v in removal.values())
    if removed:
        mask_channels(module, removal)
        handle.module = module
        handle.apply_edit("prune_channels", removal=removal, input_size=list(input_size))
    after = channels_per_layer(handle.module)
    if ctx.dist.is_main:
        for path in plot_channels_per_layer(
            before, after, ctx.run_dir, f"channels_stage{ctx.stage_index}.png"
        ):
            ctx.plots.append(path.name)
    ctx.model.module = handle.module.to(ctx.device)
    ctx.top1 = ctx.evaluate("eval pruned")
    record = {
        "rule": cfg.rule,
        "channels_before": sum(g.size for g in groups),
        "channels_removed": removed,
        "exact_zero_scales": zero_scales,
        "params_before": params_before,
        "params_after": count_params(handle.module),
        "macs_before": macs_before,
        "macs_after": count_macs(handle.module.cpu(), input_size),
        "top1": ctx.top1,
    }
    ctx.model.module = handle.module.to(ctx.device)
    ctx.echo(
        f"pruned {removed}/{record['channels_before']} channels ({cfg.rule}); MACs "
        f"{macs_before:,} -> {record['macs_after']:,}; top-1 without fine-tuning {ctx.top1:.4f}"
    )
    return record
