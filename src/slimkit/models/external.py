"""Adapters for ``tv:NAME`` (torchvision) and ``timm:NAME`` models; never pretrained."""

from __future__ import annotations

from typing import Any

from torch import nn

from slimkit.models.registry import UnknownModelError, call_builder, unknown_name_message

__all__ = ["build_timm", "build_torchvision"]


def build_torchvision(
    name: str, num_classes: int = 10, in_channels: int = 3, **kwargs: Any
) -> nn.Module:
    """Build a torchvision model with random weights (``weights=None``).

    Args:
        name: torchvision model name without the ``tv:`` prefix, e.g. ``"resnet18"``.
        num_classes: Classifier output size.
        in_channels: Must be 3 (torchvision models have no input-channel argument).
        **kwargs: Extra keyword arguments for ``torchvision.models.get_model``.

    Returns:
        The model.

    Raises:
        UnknownModelError: If torchvision has no model of that name.
        ValueError: If ``in_channels`` is not 3 or an argument is not accepted.

    Example:
        >>> build_torchvision("resnet18", num_classes=10).fc.out_features
        10
    """
    import torchvision

    known = torchvision.models.list_models()
    if name not in known:
        raise UnknownModelError(unknown_name_message(name, known, prefix="tv:"))
    if in_channels != 3:
        raise ValueError(
            f"in_channels={in_channels} is not supported for 'tv:{name}'; torchvision models "
            "take 3 channels (use a timm: or zoo model for other inputs)"
        )
    return call_builder(
        f"tv:{name}",
        torchvision.models.get_model,
        name=name,
        weights=None,
        num_classes=num_classes,
        **kwargs,
    )


def build_timm(name: str, num_classes: int = 10, in_channels: int = 3, **kwargs: Any) -> nn.Module:
    """Build a timm model with random weights (``pretrained=False``).

    Args:
        name: timm model name without the ``timm:`` prefix, e.g. ``"resnet18"``.
        num_classes: Classifier output size.
        in_channels: Input channels (timm's ``in_chans``).
        **kwargs: Extra keyword arguments for ``timm.create_model``.

    Returns:
        The model.

    Raises:
        UnknownModelError: If timm has no model of that name.
        ValueError: If an argument is not accepted.

    Example:
        >>> build_timm("resnet18", num_classes=10).fc.out_features
        10
    """
    import timm

    if not timm.is_model(name):
        raise UnknownModelError(unknown_name_message(name, timm.list_models(), prefix="timm:"))
    return call_builder(
        f"timm:{name}",
        timm.create_model,
        model_name=name,
        pretrained=False,
        num_classes=num_classes,
        in_chans=in_channels,
        **kwargs,
    )
