"""Helpers for the surgery tests: non-trivial BN state and random coupled masks."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from slimkit.surgery import ChannelGroup, channel_groups, mask_channels, prune_channels


def randomize_bn(model: nn.Module, seed: int = 0) -> nn.Module:
    """Give every BN random running statistics, scales and shifts (so masking matters)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, _BatchNorm):
                n = module.num_features
                module.weight.copy_(torch.rand(n, generator=gen) + 0.5)
                module.bias.copy_(torch.randn(n, generator=gen) * 0.2)
                module.running_mean.copy_(torch.randn(n, generator=gen) * 0.2)
                module.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
    return model


def random_removal(
    groups: list[ChannelGroup], fraction: float = 0.3, seed: int = 0
) -> dict[str, list[int]]:
    """About ``fraction`` of the channels of every group, chosen at random."""
    gen = torch.Generator().manual_seed(seed)
    removal = {}
    for group in groups:
        k = int(fraction * group.size)
        if k:
            removal[group.root] = sorted(torch.randperm(group.size, generator=gen)[:k].tolist())
    return removal


def params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def mask_and_prune(model: nn.Module, x: torch.Tensor, fraction: float = 0.3) -> dict:
    """Mask ~30 % of every group, prune, and report the output change and parameter counts."""
    model.eval()
    groups = channel_groups(model, x)
    removal = random_removal(groups, fraction)
    mask_channels(model, removal, groups=groups)
    with torch.no_grad():
        before = model(x)
    count_before = params(model)
    classes_before = [type(m) for m in model.modules()]
    pruned = prune_channels(model, removal, x)
    with torch.no_grad():
        after = pruned(x)
    return {
        "groups": groups,
        "removal": removal,
        "diff": float((before - after).abs().max()),
        "scale": float(before.abs().max()),
        "params": (count_before, params(pruned)),
        "same_classes": classes_before == [type(m) for m in pruned.modules()],
        "model": pruned,
    }
