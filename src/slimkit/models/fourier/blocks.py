"""AFFNet / AFIDAF building blocks (digest ``afidaf_affnet.md`` §3.1, §3.2, §4.6).

- :class:`InvertedResidual`: the MobileNetV2 block of CVNets (1×1 expand + BN + SiLU, 3×3
  depthwise + BN + SiLU, 1×1 project + BN, residual when the shape is kept) [code].
- :class:`FourierBlock`: the AFFNet inner ``Block`` [code] — ``v = MBConv(GN1(x))``,
  ``u = GN2(v)``, ``out = x + AFF(u)`` where ``AFF`` holds its own residual, i.e.
  ``out = x + u + filt(u)`` — extended with AFIDAF's image-domain filter [reconstructed, §4.6]:
  ``order="IF"`` filters in the image domain first, then in the Fourier domain (AFIDAF),
  ``"FI"`` the reverse, ``"parallel"`` adds both filter terms to ``u``. ``mask=False`` removes the
  Fourier mask (IDAF), ``image_filter=False`` the image filter (AFFNet).
- :class:`FourierStage`: the stage wrapper ``AFFBlock`` [code] — ``n`` blocks, GroupNorm,
  ``conv_proj`` (1×1 + BN) and ``fusion`` (concat with the stage input, 1×1 2C→C + BN + SiLU).

GN is ``GroupNorm(1, C)`` (CVNets' ``layer_norm_2d``), not per-pixel LayerNorm.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torchvision.ops import Conv2dNormActivation

from slimkit.models.fourier.aff_mixer import AFFMixer
from slimkit.models.fourier.image_filter import ImageDomainFilter

__all__ = [
    "ORDERS",
    "FourierBlock",
    "FourierStage",
    "InvertedResidual",
    "conv_bn",
    "make_divisible",
]

ORDERS = ("IF", "FI", "parallel")


def make_divisible(value: float, divisor: int = 8) -> int:
    """CVNets/MobileNet rounding: nearest multiple of ``divisor``, never 10 % below ``value``."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def conv_bn(
    cin: int, cout: int, kernel: int = 1, stride: int = 1, groups: int = 1, act: bool = True
) -> Conv2dNormActivation:
    """Conv (no bias) + BN + optional SiLU, padding ``kernel // 2``."""
    return Conv2dNormActivation(
        cin, cout, kernel, stride=stride, groups=groups, activation_layer=nn.SiLU if act else None
    )


class InvertedResidual(nn.Module):
    """MobileNetV2 block with SiLU; ``hidden`` defaults to ``make_divisible(cin · expand, 8)``."""

    def __init__(
        self, cin: int, cout: int, stride: int = 1, expand: float = 4.0, hidden: int | None = None
    ) -> None:
        super().__init__()
        hidden = hidden if hidden is not None else make_divisible(round(cin * expand), 8)
        layers: list[nn.Module] = []
        if hidden != cin:
            layers.append(conv_bn(cin, hidden))
        layers += [
            conv_bn(hidden, hidden, 3, stride, groups=hidden),
            conv_bn(hidden, cout, act=False),
        ]
        self.block = nn.Sequential(*layers)
        self.use_residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(x)
        return x + y if self.use_residual else y


def _norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(1, channels)


class FourierBlock(nn.Module):
    """One AFFNet/AFIDAF block (see the module docstring for the wiring).

    Args:
        channels: width ``C``.
        ffn_dim: hidden width of the MBConv "FFN" (``2C`` in the released models).
        mask: use the AFF Fourier mask.
        image_filter: use the image-domain filter (AFIDAF); ``filter_kwargs`` go to
            :class:`ImageDomainFilter` (kernel sizes, dilation, groups, shuffle, gate).
        order: ``"IF"`` (AFIDAF, image then Fourier), ``"FI"`` or ``"parallel"``.
        mask_groups: diagonal blocks of the Fourier mask (8).
        name: layer name for error messages.
    """

    def __init__(
        self,
        channels: int,
        ffn_dim: int,
        mask: bool = True,
        image_filter: bool = False,
        order: str = "IF",
        mask_groups: int = 8,
        filter_kwargs: dict[str, Any] | None = None,
        name: str = "FourierBlock",
    ) -> None:
        super().__init__()
        if order not in ORDERS:
            raise ValueError(f"{name}.order: expected one of {', '.join(ORDERS)}, got {order!r}")
        self.order = order
        self.norm1 = _norm(channels)
        self.ffn = InvertedResidual(channels, channels, hidden=ffn_dim)
        self.norm2 = _norm(channels)
        self.image_filter = (
            ImageDomainFilter(channels, **(filter_kwargs or {})) if image_filter else None
        )
        self.mixer = AFFMixer(channels, groups=mask_groups, name=f"{name}.mixer") if mask else None

    def _image(self, u: torch.Tensor) -> torch.Tensor:
        return self.image_filter.delta(u) if self.image_filter is not None else torch.zeros_like(u)

    def _fourier(self, u: torch.Tensor) -> torch.Tensor:
        return self.mixer(u) - u if self.mixer is not None else torch.zeros_like(u)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u = self.norm2(self.ffn(self.norm1(x)))
        if self.image_filter is None and self.mixer is not None:
            return x + self.mixer(u)  # AFFNet exactly: x + AFF(u), AFF(u) = u + filt(u)
        if self.order == "parallel":
            return x + u + self._image(u) + self._fourier(u)
        first, second = (
            (self.image_filter, self.mixer)
            if self.order == "IF"
            else (self.mixer, self.image_filter)
        )
        for op in (first, second):
            if op is not None:
                u = op(u)  # both hold their own residual: u + delta(u)
        return x + u


class FourierStage(nn.Module):
    """AFFNet's stage wrapper: blocks, GroupNorm, ``conv_proj`` and ``fusion`` with the input."""

    def __init__(
        self, channels: int, ffn_dim: int, depth: int, name: str = "FourierStage", **block: Any
    ) -> None:
        super().__init__()
        self.blocks = nn.Sequential(
            *(
                FourierBlock(channels, ffn_dim, name=f"{name}.blocks.{i}", **block)
                for i in range(depth)
            )
        )
        self.norm = _norm(channels)
        self.conv_proj = conv_bn(channels, channels, act=False)
        self.fusion = conv_bn(2 * channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv_proj(self.norm(self.blocks(x)))
        return self.fusion(torch.cat([x, y], dim=1))
