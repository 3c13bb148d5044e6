"""VGG with BatchNorm in the CIFAR form used by Network Slimming (Liu et al. 2017)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from slimkit.models.init import init_weights
from slimkit.models.registry import forwards_to

__all__ = ["VGG", "VGG_CFGS"]

_M = "M"

#: Channel configurations; ``"M"`` is a 2x2 max-pool. Network Slimming drops the last pool.
VGG_CFGS: dict[str, list[int | str]] = {
    "vgg11": [64, _M, 128, _M, 256, 256, _M, 512, 512, _M, 512, 512],
    "vgg13": [64, 64, _M, 128, 128, _M, 256, 256, _M, 512, 512, _M, 512, 512],
    "vgg16": [64, 64, _M, 128, 128, _M, 256, 256, 256, _M, 512, 512, 512, _M, 512, 512, 512],
    "vgg19": [
        64,
        64,
        _M,
        128,
        128,
        _M,
        256,
        256,
        256,
        256,
        _M,
        512,
        512,
        512,
        512,
        _M,
        512,
        512,
        512,
        512,
    ],  # fmt: skip
}


class VGG(nn.Module):
    """VGG-BN for CIFAR: per cfg entry conv3x3 (no bias) + BN + ReLU, max-pool at ``"M"``.

    The features are followed by global average pooling and a single ``Linear(cfg[-1],
    num_classes)`` named ``classifier``. The feature layers live in ``features`` (``nn.Sequential``).

    Args:
        cfg: Channel list, with ``"M"`` for a 2x2 max-pool; the last entry must be a width.
        num_classes: Classifier outputs.
        in_channels: Input image channels.

    Example:
        >>> import torch
        >>> VGG([8, "M", 16])(torch.randn(2, 3, 32, 32)).shape
        torch.Size([2, 10])
    """

    def __init__(
        self, cfg: Sequence[int | str], num_classes: int = 10, in_channels: int = 3
    ) -> None:
        super().__init__()
        cfg = [v if v == _M else int(v) for v in cfg]
        widths = [v for v in cfg if v != _M]
        if not widths or cfg[-1] == _M:
            raise ValueError(f"cfg={cfg} is invalid; it needs widths and must end with a width")
        self.cfg = cfg
        layers: list[nn.Module] = []
        width = in_channels
        for v in cfg:
            if v == _M:
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(width, v, 3, 1, 1, bias=False), nn.BatchNorm2d(v), nn.ReLU()]
                width = v
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten(1)
        self.classifier = nn.Linear(width, num_classes)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avgpool(self.features(x))  # (N, C, H, W) -> (N, C, 1, 1)
        return self.classifier(self.flatten(x))


def _cfg_builder(name: str) -> Callable[..., VGG]:
    @forwards_to(VGG)
    def build(**kwargs: Any) -> VGG:
        kwargs.setdefault("cfg", VGG_CFGS[name])
        return VGG(**kwargs)

    build.__name__ = build.__qualname__ = name
    build.__doc__ = f"{name.upper()} with BN, CIFAR form (Network Slimming)."
    return build


# the zoo builders (declared by name in slimkit.builtins)
vgg11 = _cfg_builder("vgg11")
vgg13 = _cfg_builder("vgg13")
vgg16 = _cfg_builder("vgg16")
vgg19 = _cfg_builder("vgg19")
_TINY_CFG: list[int | str] = [8, _M, 16, _M, 32]


@forwards_to(VGG)
def vgg_tiny(**kwargs: Any) -> VGG:
    """Tiny VGG-BN with cfg ``[8, "M", 16, "M", 32]``, for fast tests.

    Example:
        >>> vgg_tiny().cfg
        [8, 'M', 16, 'M', 32]
    """
    kwargs.setdefault("cfg", _TINY_CFG)
    return VGG(**kwargs)
