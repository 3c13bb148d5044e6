"""Structural edits that artifacts record and replay: channel removal, option-A conversion."""

from __future__ import annotations

import torch
from torch import nn

from slimkit.models import shortcut_a_to_b
from slimkit.surgery.prune import prune_channels

__all__ = ["prune_channels_edit", "shortcut_a_to_b_edit"]


def prune_channels_edit(
    module: nn.Module, removal: dict[str, list[int]], input_size: list[int]
) -> nn.Module:
    """Artifact edit: :func:`prune_channels` with plain-data parameters.

    Args:
        module: The network (modified in place).
        removal: Root name -> channel indices, as from ``select_channels``.
        input_size: ``[C, H, W]`` of one input, used to trace the network.

    Returns:
        The narrowed network.

    Example:
        >>> from slimkit.artifacts import SlimModel
        >>> handle = SlimModel.build("vgg_tiny", num_classes=10, input_size=(3, 32, 32))
        >>> handle.apply_edit(
        ...     "prune_channels", removal={"features.0": [0, 1]}, input_size=[3, 32, 32])
        >>> handle.module.features[0].out_channels
        6
    """
    example_input = torch.zeros(1, *(int(s) for s in input_size))  # tracing needs shapes only
    return prune_channels(module, removal, example_input)


def shortcut_a_to_b_edit(module: nn.Module, bn: bool = False) -> nn.Module:
    """Artifact edit: convert an option-A CIFAR ResNet to option B (exact; see
    :func:`slimkit.models.shortcut_a_to_b`).

    Example:
        >>> from slimkit.artifacts import SlimModel
        >>> handle = SlimModel.build("resnet8a_tiny", num_classes=10, input_size=(3, 32, 32))
        >>> handle.apply_edit("shortcut_a_to_b")
        >>> handle.module.shortcut
        'B'
    """
    return shortcut_a_to_b(module, bn=bn)
