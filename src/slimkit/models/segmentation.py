"""A small semantic-segmentation network: an LR-ASPP head on a zoo, timm or torchvision backbone.

LR-ASPP (Howard et al. 2019, "Searching for MobileNetV3"; torchvision's
:class:`~torchvision.models.segmentation.lraspp.LRASPPHead`) mixes a coarse, high-level
feature map gated by a global-pool attention branch with a finer low-level map, each through a
1x1 classifier. It is a few 1x1 convs, a global average pool and a sigmoid: cheap, exportable
to ONNX, and nothing in it resists channel pruning. The logits are upsampled bilinearly to the
input size, so the output is ``(N, num_classes, H, W)``.

Backbones are those of :func:`slimkit.models.detection.build_feature_backbone`; the head takes
the ``low_level`` and ``high_level`` feature maps (default: the last two levels).

Example:
    >>> import torch
    >>> net = build_seg_lraspp(num_classes=4, backbone="resnet8_tiny", stem_stride=2,
    ...                        inter_channels=16)
    >>> net(torch.randn(2, 3, 32, 32)).shape
    torch.Size([2, 4, 32, 32])
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.segmentation.lraspp import LRASPPHead

from slimkit.models.detection import FeatureBackbone, build_feature_backbone
from slimkit.models.registry import register_model

__all__ = ["SegLRASPP", "build_seg_lraspp"]


class SegLRASPP(nn.Module):
    """Backbone levels ``low_level`` and ``high_level`` -> LR-ASPP head -> upsampled logits.

    Args:
        backbone: Feature extractor returning a list of levels.
        num_classes: Output classes (background included).
        low_level: Index of the finer level the head takes.
        high_level: Index of the coarser level.
        inter_channels: Width of the head's high-level branch.

    Example:
        >>> import torch
        >>> from slimkit.models.detection import build_feature_backbone
        >>> net = SegLRASPP(build_feature_backbone("resnet8_tiny"), 3, inter_channels=8)
        >>> net(torch.randn(1, 3, 64, 48)).shape
        torch.Size([1, 3, 64, 48])
    """

    def __init__(
        self,
        backbone: FeatureBackbone,
        num_classes: int,
        low_level: int = -2,
        high_level: int = -1,
        inter_channels: int = 64,
    ) -> None:
        super().__init__()
        n = len(backbone.channels)
        low, high = low_level % n, high_level % n
        if not low < high:
            raise ValueError(
                f"low_level={low_level} must come before high_level={high_level} "
                f"(the backbone has {n} levels)"
            )
        self.backbone = backbone
        self.low_level, self.high_level = low, high
        self.head = LRASPPHead(
            backbone.channels[low], backbone.channels[high], num_classes, inter_channels
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = self.backbone(x)
        out = self.head({"low": feats[self.low_level], "high": feats[self.high_level]})
        # (N, classes, H / low stride, W / low stride) -> (N, classes, H, W)
        return F.interpolate(out, size=x.shape[-2:], mode="bilinear", align_corners=False)


@register_model("seg_lraspp", "semantic segmentation: LR-ASPP head on a zoo/timm/tv backbone")
def build_seg_lraspp(
    num_classes: int = 21,
    in_channels: int = 3,
    backbone: str = "resnet20",
    backbone_kwargs: dict[str, Any] | None = None,
    stem_stride: int | None = None,
    low_level: int = -2,
    high_level: int = -1,
    inter_channels: int = 64,
) -> SegLRASPP:
    """The LR-ASPP segmentation network (random weights, nothing downloaded).

    Args:
        num_classes: Output classes, background included (21 for VOC label maps).
        in_channels: Image channels.
        backbone: Zoo CIFAR ResNet name, ``timm:NAME`` or ``tv:NAME``.
        backbone_kwargs: Extra backbone builder arguments (e.g. ``{"widths": [8, 16, 32]}``).
        stem_stride: Stem stride of a zoo CIFAR ResNet: 1, 2 or 4 (default 4).
        low_level: Backbone level of the fine branch.
        high_level: Backbone level of the coarse branch.
        inter_channels: Width of the head's coarse branch.

    Returns:
        The network: ``(N, in_channels, H, W)`` -> logits ``(N, num_classes, H, W)``.

    Example:
        >>> build_seg_lraspp(num_classes=4, backbone="resnet8_tiny").head.low_classifier.out_channels
        4
    """
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"num_classes={num_classes!r} is invalid; expected an integer >= 2")
    body = build_feature_backbone(
        backbone, in_channels, stem_stride=stem_stride, backbone_kwargs=backbone_kwargs
    )
    return SegLRASPP(body, num_classes, low_level, high_level, inter_channels)
