"""Exact conversion of an option-A CIFAR ResNet into an option-B one (prunable by torch-pruning)."""

from __future__ import annotations

import copy

import torch
from torch import nn

from slimkit.models.pad_shortcut import PadShortcut
from slimkit.models.resnet_cifar import CifarResNet

__all__ = ["shortcut_a_to_b"]


@torch.no_grad()
def shortcut_a_to_b(model: CifarResNet, bn: bool = False) -> CifarResNet:
    """Return a copy of an option-A :class:`CifarResNet` whose shortcuts are option B.

    Each :class:`PadShortcut` becomes ``downsample = Sequential(conv1x1(stride))``: the conv
    copies input channel ``i`` to output channel ``pad_before + i`` (zeros elsewhere). The output
    is unchanged up to float rounding in train and eval mode, and torch-pruning can then prune
    the residual channels (it cannot see through channel zero-padding). With ``bn=True`` a BN
    follows the conv, as in He et al.'s option B; it is an identity only in eval mode (mean 0,
    variance ``1 - eps``, scale 1, shift 0) and starts normalizing by batch statistics as soon as
    the model trains, which perturbs a trained network, hence the default ``False``.

    Args:
        model: A CIFAR ResNet built with ``shortcut="A"``.
        bn: Add the (eval-mode identity) BatchNorm after the 1x1 conv.

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
        layers: list[nn.Module] = [conv]
        if bn:
            norm = nn.BatchNorm2d(pad.out_channels)
            norm.running_var.fill_(1.0 - norm.eps)  # (x - 0) / sqrt(1 - eps + eps) * 1 + 0 == x
            layers.append(norm)
        block.downsample = nn.Sequential(*layers).to(block.conv1.weight).train(block.training)
        block.shortcut = None
    converted.shortcut = "B"
    return converted
