"""The ``prune`` stage: remove BN-scaled channels physically (network slimming family).

Recipe form::

    - kind: prune
      rule: zeros            # zeros | threshold | macs | zero_filters | target | dims
      share: null            # target: this stage's cumulative share (default: the planner's)
      percent: 0.5           # threshold: global fraction of channels ranked by |γ|
      macs_target: 0.5       # macs: keep at most this fraction of the model's MACs
      min_channels: 1        # per-layer guard (never empty a layer)
      min_fraction: 0.0      # per-layer guard as a fraction of the layer's channels
      round_to: 1            # keep a multiple of this many channels per group (16 for AVX-512)
      channel_selection: false  # pre-activation nets: prune a BN read by others for its readers

``zeros`` removes exactly the channels whose scale is zero in every coupled BN (what proximal
slimming produces; no threshold). ``round_to`` makes every group keep a multiple of that many
channels (rounded up, so ``zeros`` stays exact): ONNX Runtime's CPU convolutions compute in blocks
of 8 (AVX2) or 16 (AVX-512) channels, and without rounding a MAC reduction need not become a
speed-up. ``threshold`` is network slimming's global percentile of |γ|.
``macs`` removes the least important channels until the MACs target is met; ``target`` does
the same for the share of the recipe's ``target:`` that the planner gives this stage (MACs,
parameters or measured ONNX Runtime latency; :mod:`slimkit.target.plan`), exact zeros first. Coupling through
residual additions, concatenations and depthwise convolutions comes from torch-pruning's
dependency graph (:mod:`slimkit.surgery`). The removed channels' γ and β are zeroed first (as
network slimming does), so the physical removal itself is exact; the stage then evaluates the
pruned model (top-1 before any fine-tuning).

``zero_filters`` is filter surgery for weight-sparsity methods (the ``sgl`` term): it removes the
output channels whose whole filter is exactly 0 in every layer that writes them (or whose input
slice is 0 in every layer that reads them), through the same dependency graph, after zeroing the
writers' bias and coupled BNs' γ and β of those channels, so the removal is exact
(:mod:`slimkit.surgery.filters`). Element-wise zeros stay in the weights and are counted.

``dims`` removes transformer dimensions (SiDT; embedding dims, attention heads, MLP units) of a
timm ViT/DeiT/Swin: see :mod:`slimkit.stages.prune_dims` (fields ``budget``, ``budget_metric``,
``importance``, ``allocation``, ``kinds``).

Report fields: ``rule``, ``channels_before``, ``channels_removed``, ``exact_zero_scales`` (BN
scales exactly 0 before pruning), ``params_before/after``, ``macs_before/after``, ``top1``;
plot ``channels_stage<i>.png``. Rule ``zero_filters`` adds ``filters_removed``,
``zero_weights_before/after`` and ``weight_sparsity_after`` (exact zeros over all conv/linear
weights) and plots ``filters_stage<i>.png`` (output channels and zero weights per layer).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from slimkit.measure import count_macs, count_params
from slimkit.measure.budget import Budget
from slimkit.models import PadShortcut
from slimkit.sparsity import bn_layers
from slimkit.sparsity.plots import plot_channels_per_layer
from slimkit.stages.config import PruneStageConfig
from slimkit.stages.target import budget_record, target_budget
from slimkit.surgery import (
    channel_groups,
    channels_per_layer,
    filter_groups,
    mask_channels,
    mask_filters,
    select_budget,
    select_channels,
    select_zero_filters,
    weight_zeros,
)


def _out_channels(module: torch.nn.Module) -> dict[str, int]:
    return {
        name: int(m.out_channels if hasattr(m, "out_channels") else m.out_features)
        for name, m in module.named_modules()
        if isinstance(m, (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d, torch.nn.Linear))
    }


@dataclass
class _Selection:
    """What a rule family chose: the removal, how many channels it considered, how to mask them,
    figures measured before surgery and how to plot before/after."""

    removal: dict[str, list[int]]
    channels_before: int
    removed: int
    mask: Callable[[], None]
    figures: dict[str, Any]
    plot: Callable[[torch.nn.Module, Path, str], list[Path]]


def _select_bn_channels(
    module: torch.nn.Module, example: torch.Tensor, cfg: PruneStageConfig, budget: Budget | None
):
    """Rules ``zeros``, ``threshold``, ``macs``, ``target`` (with ``budget``): BN-scaled channels
    (network slimming family)."""
    before = channels_per_layer(module)
    groups = channel_groups(module, example, selection=cfg.channel_selection)
    if budget is not None:
        removal = select_budget(
            groups,
            budget,
            module,
            example,
            min_channels=cfg.min_channels,
            min_fraction=cfg.min_fraction,
            round_to=cfg.round_to,
        )
    else:
        removal = select_channels(
            groups,
            cfg.rule,
            percent=cfg.percent,
            macs_target=cfg.macs_target,
            min_channels=cfg.min_channels,
            min_fraction=cfg.min_fraction,
            round_to=cfg.round_to,
            model=module,
            example_input=example,
        )
    zero_scales = sum(int((m.weight.detach() == 0).sum()) for _, m in bn_layers(module))
    by_root = {g.root: g for g in groups}
    return _Selection(
        removal=removal,
        channels_before=sum(g.channels for g in groups),
        removed=sum(by_root[root].count(len(idxs)) for root, idxs in removal.items()),
        mask=lambda: mask_channels(module, removal),
        figures={"exact_zero_scales": zero_scales},
        plot=lambda pruned, out, name: plot_channels_per_layer(
            before, channels_per_layer(pruned), out, name
        ),
    )


def _select_zero_filters(
    module: torch.nn.Module, example: torch.Tensor, cfg: PruneStageConfig, budget: None = None
):
    """Rule ``zero_filters``: all-zero filters of weight-sparsity methods (the ``sgl`` term)."""
    from slimkit.sparsity.group_splitting import plot_filters_per_layer

    before = _out_channels(module)
    groups = filter_groups(module, example)
    removal = select_zero_filters(
        module,
        groups,
        min_channels=cfg.min_channels,
        min_fraction=cfg.min_fraction,
        round_to=cfg.round_to,
    )
    zeros = sum(z for z, _ in weight_zeros(module).values())
    return _Selection(
        removal=removal,
        channels_before=sum(g.size for g in groups),
        removed=sum(len(v) for v in removal.values()),
        mask=lambda: mask_filters(module, removal, groups),
        figures={"zero_weights_before": zeros},
        plot=lambda pruned, out, name: plot_filters_per_layer(
            before, _out_channels(pruned), weight_zeros(pruned), out, name
        ),
    )


def _has_pad_shortcut(module: nn.Module) -> bool:
    return any(isinstance(m, PadShortcut) for m in module.modules())


def run_prune(ctx: Any, cfg: PruneStageConfig) -> dict[str, Any]:
    """Select, mask and physically remove channels of ``ctx.model``; evaluate the result."""
    if cfg.rule == "dims":
        from slimkit.stages.prune_dims import run_prune_dims

        return run_prune_dims(ctx, cfg)
    handle = ctx.model
    if _has_pad_shortcut(handle.module):
        # Option-A shortcuts couple channels by zero-padding, which the dependency graph cannot
        # follow; the exact option-B form (identity 1x1 conv + BN) is recorded as an edit.
        ctx.echo("converting option-A shortcuts to option B (exact) before channel surgery")
        handle.apply_edit("shortcut_a_to_b")
    module = handle.module.cpu()
    input_size = handle.input_size
    example = torch.zeros(1, *input_size)
    params_before, macs_before = count_params(module), count_macs(module, input_size)
    select = _select_zero_filters if cfg.rule == "zero_filters" else _select_bn_channels
    budget = target_budget(ctx, cfg)
    chosen = select(module, example, cfg, budget)
    removed = chosen.removed
    if removed:
        chosen.mask()
        handle.module = module
        handle.apply_edit("prune_channels", removal=chosen.removal, input_size=list(input_size))
    if ctx.dist.is_main:
        name = (
            f"{'filters' if cfg.rule == 'zero_filters' else 'channels'}_stage{ctx.stage_index}.png"
        )
        ctx.final.plots.extend(p.name for p in chosen.plot(handle.module, ctx.run_dir, name))
    record: dict[str, Any] = {
        "rule": cfg.rule,
        **budget_record(budget, handle.module, input_size),
        "channels_before": chosen.channels_before,
        "channels_removed": removed,
        **chosen.figures,
        "params_before": params_before,
        "params_after": count_params(handle.module),
        "macs_before": macs_before,
        "macs_after": count_macs(handle.module, input_size),
    }
    if cfg.rule == "zero_filters":
        zeros = weight_zeros(handle.module)
        zero_after = sum(z for z, _ in zeros.values())
        record["filters_removed"] = removed
        record["zero_weights_after"] = zero_after
        record["weight_sparsity_after"] = zero_after / max(1, sum(n for _, n in zeros.values()))
    ctx.model.module = handle.module.to(ctx.device)
    result = ctx.evaluate("eval pruned")
    record.update(result.record())
    ctx.echo(
        f"pruned {removed}/{record['channels_before']} channels ({cfg.rule}); MACs "
        f"{macs_before:,} -> {record['macs_after']:,}; {result.describe()} without fine-tuning"
    )
    return record
