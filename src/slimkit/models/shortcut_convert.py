"""Exact conversion of an option-A CIFAR ResNet into an option-B one (prunable by torch-pruning)."""

from __future__ import annotations

import copy

import torch
from torch import nn

from slimkit.models.pad_shortcut import PadShortcut
from slimkit.models.resnet_cifar import CifarResNet

__all__ = ["shortcut_a_to_b"]


@torch.no_grad()
def shortcut_a_to_b(model: CifarResNet) -> CifarResNet:
    """Return a copy of an option-A :class:`CifarResNet` whose shortcuts are option B.

    Each :class:`PadShortcut` becomes ``downsample = Sequential(conv1x1(stride), BN)``: the conv
    copies input channel ``i`` to output channel ``pad_before + i`` (zeros elsewhere) and the BN is
    an identity in eval mode (mean 0, variance ``1 - eps``, scale 1, shift 0). The eval-mode output
    is unchanged up to float rounding, and torch-pruning can then prune the residual channels
    (it cannot see through channel zero-padding).

    Args:
        model: A CIFAR ResNet built with ``shortcut="A"``.

    Returns:
        A new model with ``shortcut == "B"``; the input model is not modified.

    Raises:
        ValueError: If ``model`` is not an option-A :class:`CifarResNet`.

    Example:
        >>> import torch
        >>> from slimkit.models import build_model
        >>> a = build_model("resnet8a_tiny").eval()
        >>> b = shortcut_a_to_b(a)
        >>> x = torch.randn(2, 3, 32, 32)
        >>> bool(torch.allclose(a(x), b(x), atol=1e-5))
        True
    """
    if not isinstance(model, CifarResNet) or model.shortcut != "A":
        raise ValueError(
            f"model is {type(model).__name__} with shortcut "
            f"{getattr(model, 'shortcut', None)!r}; expected a CifarResNet with shortcut 'A'"
        )
    converted = copy.deepcopy(model)
    for block in converted.modules():
        pad = getattr(block, "shortcut", None)
        if not isinstance(pad, PadShortcut):
            continue
        conv = nn.Conv2d(pad.in_channels, pad.out_channels, 1, pad.stride, bias=False)
        conv.weight.zero_()
        for i in range(pad.in_channels):
            conv.weight[pad.pad_before + i, i, 0, 0] = 1.0
        bn = nn.BatchNorm2d(pad.out_channels)
        bn.running_var.fill_(1.0 - bn.eps)  # (x - 0) / sqrt(1 - eps + eps) * 1 + 0 == x
        block.downsample = nn.Sequential(conv, bn).to(block.conv1.weight).train(block.training)
        block.shortcut = None
    converted.shortcut = "B"
    return converted
