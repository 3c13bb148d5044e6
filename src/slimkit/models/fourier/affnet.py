"""AFFNet and AFIDAF networks (digest ``afidaf_affnet.md`` §3.3, §3.4, §4.4, §10.4).

The macro layout is the official AFFNet one [code]: stem (3×3 s2, 16) → layer1 (1 MV2) → layer2
(3 MV2, first s2) → layers 3–5 (MV2 s2 + a :class:`FourierStage`) → 1×1 expansion to
``min(4·C5, 960)`` → global pool → dropout 0.1 → linear. Widths per variant follow the official
config table (``xx_small`` = ET, ``x_small`` = T, ``small`` = AFFNet); the parameter counts at 1000
classes and 256² are exactly the official 1,436,264 / 2,654,232 / 5,568,696 (tested).

AFIDAF and IDAF are **reconstructions** (no official code): AFIDAF = AFFNet skeleton + the
image-domain filter in every Fourier block (order image → Fourier), IDAF = AFIDAF without the
Fourier mask (digest §4.4: AFIDAF − IDAF equals the mask MLP's size). Filter arguments default to
VAN's kernels with a dense 1×1; see :mod:`slimkit.models.fourier.image_filter`.

CIFAR variants (``*_cifar``) are for 32×32 inputs: stem stride 1 and layer2 stride 1, so the
Fourier stages see 16×16, 8×8 and 4×4 maps instead of 1×1 at the ImageNet strides (digest §10.4).

Example:
    >>> import torch
    >>> from slimkit.models import build_model
    >>> net = build_model("afidaf_tiny", num_classes=10)
    >>> net(torch.randn(2, 3, 32, 32)).shape
    torch.Size([2, 10])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from slimkit.models.fourier.aff_mixer import check_groups
from slimkit.models.fourier.blocks import FourierStage, InvertedResidual, conv_bn

__all__ = ["VARIANTS", "AFFNet", "AFFNetConfig"]


@dataclass(frozen=True)
class AFFNetConfig:
    """Widths of one AFFNet variant (official ``get_configuration`` table, digest §3.4).

    ``stages`` holds ``(channels, ffn_dim, depth)`` for layers 3, 4 and 5.
    """

    mv2_expand: float
    layer1: int
    layer2: int
    stages: tuple[tuple[int, int, int], ...]
    stem: int = 16
    max_exp: int = 960


VARIANTS = {
    "et": AFFNetConfig(2, 32, 48, ((64, 128, 2), (104, 208, 4), (144, 288, 3))),
    "t": AFFNetConfig(4, 32, 48, ((96, 192, 2), (160, 320, 4), (192, 384, 3))),
    "s": AFFNetConfig(4, 32, 64, ((128, 256, 2), (256, 512, 4), (320, 640, 3))),
    # ours (not from the papers): a CPU-budget size for the CIFAR recipes, and a toy for tests
    "xs": AFFNetConfig(2, 16, 24, ((48, 96, 1), (64, 128, 2), (96, 192, 1))),
    "xs_wide": AFFNetConfig(
        2, 16, 24, ((56, 112, 1), (72, 144, 2), (96, 192, 1))
    ),  # AFF at XS params
    "tiny": AFFNetConfig(2, 8, 16, ((16, 32, 1), (16, 32, 1), (24, 48, 1)), stem=8),
}


class AFFNet(nn.Module):
    """AFFNet / AFIDAF / IDAF classifier.

    Args:
        config: the widths (:data:`VARIANTS`).
        num_classes: classifier outputs.
        in_channels: image channels.
        cifar: 32×32 strides (stem and layer2 stride 1).
        mask: Fourier mask in the blocks (off: IDAF).
        image_filter: image-domain filter in the blocks (on: AFIDAF / IDAF).
        order: ``"IF"``, ``"FI"`` or ``"parallel"`` (see :class:`FourierBlock`).
        mask_groups: diagonal blocks of the Fourier mask; widths of layers 3–5 must be multiples.
        filter_kwargs: :class:`ImageDomainFilter` arguments (kernel sizes, dilation, groups...).
        dropout: classifier dropout (0.1).
    """

    def __init__(
        self,
        config: AFFNetConfig,
        num_classes: int = 1000,
        in_channels: int = 3,
        cifar: bool = False,
        mask: bool = True,
        image_filter: bool = False,
        order: str = "IF",
        mask_groups: int = 8,
        filter_kwargs: dict[str, Any] | None = None,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        for i, (channels, _, _) in enumerate(config.stages):
            if mask:
                check_groups(channels, mask_groups, f"layer{i + 3}")
        self.stem = conv_bn(in_channels, config.stem, 3, stride=1 if cifar else 2)
        self.layer1 = InvertedResidual(config.stem, config.layer1, 1, config.mv2_expand)
        self.layer2 = nn.Sequential(
            InvertedResidual(config.layer1, config.layer2, 1 if cifar else 2, config.mv2_expand),
            InvertedResidual(config.layer2, config.layer2, 1, config.mv2_expand),
            InvertedResidual(config.layer2, config.layer2, 1, config.mv2_expand),
        )
        block = {"mask": mask, "image_filter": image_filter, "order": order,
                 "mask_groups": mask_groups, "filter_kwargs": filter_kwargs}  # fmt: skip
        cin, stages = config.layer2, []
        for i, (channels, ffn_dim, depth) in enumerate(config.stages):
            stages.append(
                nn.Sequential(
                    InvertedResidual(cin, channels, 2, config.mv2_expand),
                    FourierStage(channels, ffn_dim, depth, name=f"layer{i + 3}.1", **block),
                )
            )
            cin = channels
        self.layer3, self.layer4, self.layer5 = stages
        self.feature_channels = [c for c, _, _ in config.stages]  # detection/segmentation levels
        self.feature_strides = [2, 4, 8] if cifar else [8, 16, 32]
        exp = min(4 * cin, config.max_exp)
        self.conv_1x1_exp = conv_bn(cin, exp)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(exp, num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        """Official init: conv kaiming-normal (fan_out), linear truncated normal std 0.02."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)

    classifier_modules = ("conv_1x1_exp", "pool", "dropout", "classifier")

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Feature maps of layers 3, 4 and 5 (strides 8/16/32, or 4/8/16 in the CIFAR form)."""
        x = self.layer2(self.layer1(self.stem(x)))
        c3 = self.layer3(x)
        c4 = self.layer4(c3)
        return [c3, c4, self.layer5(c4)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv_1x1_exp(self.features(x)[-1])
        return self.classifier(self.dropout(torch.flatten(self.pool(x), 1)))


def _builder(variant: str, cifar: bool, **defaults: Any) -> Any:
    def build(num_classes: int = 1000, in_channels: int = 3, **kwargs: Any) -> AFFNet:
        options = {"cifar": cifar, **defaults, **kwargs}
        return AFFNet(VARIANTS[variant], num_classes, in_channels, **options)

    return build


_AFIDAF = {"image_filter": True}
_IDAF = {"image_filter": True, "mask": False}
affnet_et = _builder("et", False)
affnet_t = _builder("t", False)
affnet = _builder("s", False)
afidaf_t = _builder("t", False, **_AFIDAF)
afidaf = _builder("s", False, **_AFIDAF)
idaf = _builder("s", False, **_IDAF)
affnet_et_cifar = _builder("et", True)
affnet_t_cifar = _builder("t", True)
afidaf_t_cifar = _builder("t", True, **_AFIDAF)
idaf_t_cifar = _builder("t", True, **_IDAF)
afidaf_xs_cifar = _builder("xs", True, **_AFIDAF)
affnet_xs_cifar = _builder("xs_wide", True)
idaf_xs_cifar = _builder("xs", True, **_IDAF)
afidaf_tiny = _builder("tiny", True, **_AFIDAF)
affnet_tiny = _builder("tiny", True)
