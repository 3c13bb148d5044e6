"""Small timm vision transformers for 32×32 inputs (CIFAR, digits): plain timm modules.

The builders only choose sizes; the modules are timm's ``VisionTransformer`` and
``SwinTransformer`` (never pretrained), so everything that works on a ``timm:`` model works here,
and the SiDT dimension search and transformer surgery (:mod:`slimkit.surgery.transformer`) apply.

Example:
    >>> import torch
    >>> net = vit_tiny_digits(num_classes=10)
    >>> net(torch.randn(2, 3, 32, 32)).shape
    torch.Size([2, 10])
"""

from __future__ import annotations

from typing import Any

from torch import nn

__all__ = ["swin_cifar", "swin_mini", "vit_cifar", "vit_tiny_digits"]


def _vit(num_classes: int, in_channels: int, defaults: dict[str, Any], kwargs: dict[str, Any]):
    from timm.models.vision_transformer import VisionTransformer

    return VisionTransformer(
        num_classes=num_classes, in_chans=in_channels, **{**defaults, **kwargs}
    )


def vit_cifar(num_classes: int = 100, in_channels: int = 3, **kwargs: Any) -> nn.Module:
    """ViT for 32×32: patch 4 (64 tokens + class token), embed 192, depth 7, 3 heads, MLP 4×.

    ``kwargs`` override any ``VisionTransformer`` argument (``depth``, ``embed_dim``, ...).
    """
    defaults = {"img_size": 32, "patch_size": 4, "embed_dim": 192, "depth": 7, "num_heads": 3,
                "mlp_ratio": 4.0, "qkv_bias": True}  # fmt: skip
    return _vit(num_classes, in_channels, defaults, kwargs)


def vit_tiny_digits(num_classes: int = 10, in_channels: int = 3, **kwargs: Any) -> nn.Module:
    """Tiny ViT for the 32×32 digits data: patch 8 (16 tokens), embed 48, depth 3, 3 heads."""
    defaults = {"img_size": 32, "patch_size": 8, "embed_dim": 48, "depth": 3, "num_heads": 3,
                "mlp_ratio": 4.0, "qkv_bias": True}  # fmt: skip
    return _vit(num_classes, in_channels, defaults, kwargs)


def _swin(num_classes: int, in_channels: int, defaults: dict[str, Any], kwargs: dict[str, Any]):
    from timm.models.swin_transformer import SwinTransformer

    options = {"img_size": 32, "patch_size": 2, "window_size": 4, **defaults, **kwargs}
    return SwinTransformer(num_classes=num_classes, in_chans=in_channels, **options)


def swin_cifar(num_classes: int = 100, in_channels: int = 3, **kwargs: Any) -> nn.Module:
    """Swin for 32×32: patch 2, window 4, depths (2, 2, 2), embed 64, heads (2, 4, 8)."""
    defaults = {"embed_dim": 64, "depths": (2, 2, 2), "num_heads": (2, 4, 8)}
    return _swin(num_classes, in_channels, defaults, kwargs)


def swin_mini(num_classes: int = 10, in_channels: int = 3, **kwargs: Any) -> nn.Module:
    """Swin mini for 32×32 (the shape of ``hafidaf_mini``): patch 2, window 4, embed 48,
    depths (2, 2, 2, 2), heads (3, 6, 12, 24)."""
    defaults = {"embed_dim": 48, "depths": (2, 2, 2, 2), "num_heads": (3, 6, 12, 24)}
    return _swin(num_classes, in_channels, defaults, kwargs)
