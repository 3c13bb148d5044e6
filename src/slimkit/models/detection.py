"""FCOS object detector on a zoo, timm or torchvision backbone with a feature pyramid.

Why FCOS (torchvision's :class:`~torchvision.models.detection.FCOS`) rather than RetinaNet or
Faster R-CNN:

- anchor-free: one location per feature-map cell, no anchor shapes or ratios to tune for a new
  dataset, and no background class (``num_classes`` = the number of categories);
- one stage and fully convolutional: backbone -> FPN -> shared head, every module an ordinary
  conv / norm layer, so the slimming, pruning and quantization stages see a plain CNN (Faster
  R-CNN adds RoIAlign and a second stage with its own sampling);
- it exports to ONNX with the TorchScript exporter, post-processing (decoding, NMS) included
  (checked in ``tests/tasks/test_detection.py``), at a fixed batch size: torchvision's
  per-image post-processing is unrolled for the traced batch.

Inputs are the loader's letterboxed, normalized squares; by default the detector neither
resizes nor normalizes again (``min_size=None``): torchvision's resize would interpolate at
scale 1 and its normalization would undo the loader's. Give ``min_size``/``max_size`` to get
torchvision's resizing back (e.g. for images of varied size).

Backbones (``backbone=``):

- a CIFAR ResNet of the zoo (``resnet20``, ``resnet8_tiny``, ... with ``backbone_kwargs`` such
  as ``widths``): its stages with a strided stem (``stem_stride`` 1, 2 or 4: a stride-2 first
  conv, then a 3x3 max-pool for 4), since CIFAR stems keep full resolution;
- ``timm:NAME``: ``timm.create_model(NAME, features_only=True, pretrained=False)``; levels that
  timm returns channels-last (Swin) are permuted to NCHW;
- ``tv:resnet18`` (or another torchvision ResNet/ResNeXt): its four stages, ``weights=None``;
- a zoo model with a ``features(x)`` method and ``feature_channels`` / ``feature_strides``
  attributes (the Fourier backbones ``afidaf_tiny``, ``affnet_xs_cifar``...): those levels, the
  classifier dropped.

The FPN (``fpn_channels`` wide) takes the backbone levels of stride >= 8 (the last three at
most) and adds P6/P7 by strided convs (``extra_levels``); anchor sizes equal the level strides.

Example:
    >>> import torch
    >>> model = build_fcos(num_classes=3, backbone="resnet8_tiny", fpn_channels=32,
    ...                    head_convs=1).eval()
    >>> out = model(torch.randn(1, 3, 64, 64))
    >>> sorted(out[0]), out[0]["boxes"].shape[1]
    (['boxes', 'labels', 'scores'], 4)
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from functools import partial
from typing import Any

import torch
from torch import nn
from torchvision.models.detection._utils import BoxLinearCoder
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.fcos import (
    FCOS,
    FCOSClassificationHead,
    FCOSHead,
    FCOSRegressionHead,
)
from torchvision.models.detection.transform import GeneralizedRCNNTransform
from torchvision.ops import FeaturePyramidNetwork
from torchvision.ops.feature_pyramid_network import LastLevelP6P7

from slimkit.models.registry import build_model, register_model

__all__ = [
    "FPNBackbone",
    "FeatureBackbone",
    "GroupNormFCOSHead",
    "LetterboxTransform",
    "ZooFeatures",
    "build_feature_backbone",
    "build_fcos",
]


class FeatureBackbone(nn.Module):
    """A backbone that returns the feature map of every stage, with their channels and strides.

    Attributes:
        channels: Channels of each returned level.
        strides: Input pixels per feature-map cell of each level.
    """

    channels: list[int]
    strides: list[int]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:  # pragma: no cover - interface
        raise NotImplementedError


class CifarResNetFeatures(FeatureBackbone):
    """The stages of a zoo CIFAR ResNet (``conv1``, ``bn1``, ``relu``, ``layer1..N``).

    The stem conv gets stride 2 for ``stem_stride`` 2 and 4, followed by a 3x3/2 max-pool for 4;
    the classifier (``avgpool``, ``fc``) is dropped. Module names stay those of the ResNet.

    Example:
        >>> import torch
        >>> from slimkit.models import build_model
        >>> f = CifarResNetFeatures(build_model("resnet8_tiny"), stem_stride=2)
        >>> [t.shape[1:] for t in f(torch.randn(1, 3, 32, 32))], f.strides
        ([torch.Size([4, 16, 16]), torch.Size([8, 8, 8]), torch.Size([16, 4, 4])], [2, 4, 8])
    """

    def __init__(self, net: nn.Module, stem_stride: int = 4) -> None:
        super().__init__()
        if stem_stride not in (1, 2, 4):
            raise ValueError(f"stem_stride={stem_stride!r} is invalid; allowed: 1, 2, 4")
        self.conv1, self.bn1, self.relu = net.conv1, net.bn1, net.relu
        if stem_stride > 1:
            self.conv1.stride = (2, 2)
        self.maxpool = nn.MaxPool2d(3, 2, 1) if stem_stride == 4 else nn.Identity()
        self.num_stages = len(net.widths)
        for i in range(self.num_stages):
            self.add_module(f"layer{i + 1}", getattr(net, f"layer{i + 1}"))
        self.channels = [int(w) for w in net.widths]
        self.strides = [stem_stride * 2**i for i in range(self.num_stages)]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))  # (N, w0, H/s, W/s)
        feats = []
        for i in range(self.num_stages):
            x = getattr(self, f"layer{i + 1}")(x)  # stage i: (N, w_i, H/(s 2^i), W/(s 2^i))
            feats.append(x)
        return feats


class TimmFeatures(FeatureBackbone):
    """A timm model built with ``features_only=True`` (never pretrained)."""

    def __init__(
        self, name: str, in_channels: int, out_indices: Sequence[int] | None, **kwargs: Any
    ) -> None:
        super().__init__()
        import timm

        if not timm.is_model(name):
            raise ValueError(f"backbone 'timm:{name}' is not a timm model")
        opts = dict(kwargs)
        if out_indices is not None:
            opts["out_indices"] = tuple(out_indices)
        self.body = timm.create_model(
            name, features_only=True, pretrained=False, in_chans=in_channels, **opts
        )
        self.channels = [int(c) for c in self.body.feature_info.channels()]
        self.strides = [int(r) for r in self.body.feature_info.reduction()]
        fmt = getattr(self.body, "output_fmt", "NCHW")
        self.channels_last_output = str(getattr(fmt, "value", fmt)) == "NHWC"  # Swin's levels

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = list(self.body(x))
        if self.channels_last_output:
            feats = [f.permute(0, 3, 1, 2) for f in feats]  # (N, H, W, C) -> (N, C, H, W)
        return feats


class TorchvisionResNetFeatures(FeatureBackbone):
    """The four stages of a torchvision ResNet / ResNeXt / Wide ResNet (``weights=None``)."""

    def __init__(self, name: str, in_channels: int, **kwargs: Any) -> None:
        super().__init__()
        import torchvision

        if in_channels != 3:
            raise ValueError(f"backbone 'tv:{name}' takes 3 input channels, got {in_channels}")
        if not name.startswith(("resnet", "resnext", "wide_resnet")):
            raise ValueError(
                f"backbone 'tv:{name}' is not supported; use a torchvision ResNet "
                "(tv:resnet18, tv:resnet50, ...), a timm: model or a zoo CIFAR ResNet"
            )
        net = torchvision.models.get_model(name, weights=None, **kwargs)
        self.conv1, self.bn1, self.relu, self.maxpool = net.conv1, net.bn1, net.relu, net.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = (
            net.layer1,
            net.layer2,
            net.layer3,
            net.layer4,
        )
        self.channels = []
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4):
            last = layer[-1]
            conv = getattr(last, "conv3", None) or last.conv2
            self.channels.append(int(conv.out_channels))
        self.strides = [4, 8, 16, 32]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))  # (N, 64, H/4, W/4)
        c2 = self.layer1(x)
        c3 = self.layer2(c2)
        c4 = self.layer3(c3)
        return [c2, c3, c4, self.layer4(c4)]


class ZooFeatures(FeatureBackbone):
    """The levels of a zoo model that declares them (``features``, ``feature_channels``,
    ``feature_strides``), e.g. the AFFNet/AFIDAF stages 3-5; the classifier is dropped.

    Example:
        >>> import torch
        >>> f = build_feature_backbone("afidaf_tiny")
        >>> [t.shape[1] for t in f(torch.randn(1, 3, 32, 32))], f.strides
        ([16, 16, 24], [2, 4, 8])
    """

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        for head in getattr(net, "classifier_modules", ()):
            setattr(net, head, nn.Identity())
        self.body = net
        self.channels = [int(c) for c in net.feature_channels]
        self.strides = [int(s) for s in net.feature_strides]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return list(self.body.features(x))


def build_feature_backbone(
    backbone: str,
    in_channels: int = 3,
    *,
    stem_stride: int | None = None,
    backbone_kwargs: dict[str, Any] | None = None,
) -> FeatureBackbone:
    """A :class:`FeatureBackbone` by name (see the module docstring for the choices).

    Args:
        backbone: Zoo name of a CIFAR ResNet, ``timm:NAME`` or ``tv:NAME``.
        in_channels: Image channels.
        stem_stride: Stem stride of a zoo CIFAR ResNet (default 4); not allowed for others.
        backbone_kwargs: Extra builder arguments (``widths``, ``num_blocks``; timm's
            ``out_indices``; ...).

    Example:
        >>> build_feature_backbone("resnet20").channels, build_feature_backbone("resnet20").strides
        ([16, 32, 64], [4, 8, 16])
    """
    kwargs = dict(backbone_kwargs or {})
    prefix, sep, rest = backbone.partition(":")
    if sep and stem_stride is not None:
        raise ValueError(f"stem_stride applies to zoo CIFAR ResNets only, not to {backbone!r}")
    if sep and prefix == "timm":
        out_indices = kwargs.pop("out_indices", None)
        return TimmFeatures(rest, in_channels, out_indices, **kwargs)
    if sep and prefix == "tv":
        return TorchvisionResNetFeatures(rest, in_channels, **kwargs)
    if sep:
        raise ValueError(f"backbone {backbone!r}: unknown prefix {prefix!r}; allowed: timm:, tv:")
    net = build_model(backbone, num_classes=1, in_channels=in_channels, **kwargs)
    if all(hasattr(net, a) for a in ("features", "feature_channels", "feature_strides")):
        if stem_stride is not None:
            raise ValueError(f"stem_stride applies to zoo CIFAR ResNets only, not to {backbone!r}")
        return ZooFeatures(net)
    if not all(hasattr(net, a) for a in ("conv1", "bn1", "relu", "layer1", "widths")):
        raise ValueError(
            f"backbone {backbone!r} is not a CIFAR ResNet of the zoo (resnet20, resnet8_tiny, "
            "...); use one of those, timm:NAME or tv:resnet18"
        )
    return CifarResNetFeatures(net, 4 if stem_stride is None else stem_stride)


def default_levels(strides: Sequence[int], min_stride: int = 8, most: int = 3) -> list[int]:
    """Indices of the backbone levels an FPN uses: stride >= ``min_stride``, the last ``most``.

    Falls back to the last level when no level is that coarse.

    Example:
        >>> default_levels([2, 4, 8, 16, 32]), default_levels([1, 2, 4])
        ([2, 3, 4], [2])
    """
    levels = [i for i, s in enumerate(strides) if s >= min_stride][-most:]
    return levels or [len(strides) - 1]


class FPNBackbone(nn.Module):
    """Backbone levels -> :class:`~torchvision.ops.FeaturePyramidNetwork` (+ P6/P7).

    Attributes:
        out_channels: FPN width (what torchvision detectors read).
        strides: Stride of each output level.

    Example:
        >>> import torch
        >>> fpn = FPNBackbone(build_feature_backbone("resnet8_tiny"), [1, 2], 16)
        >>> [t.shape[-1] for t in fpn(torch.randn(1, 3, 64, 64)).values()], fpn.strides
        ([8, 4, 2, 1], [8, 16, 32, 64])
    """

    def __init__(
        self,
        body: FeatureBackbone,
        levels: Sequence[int],
        fpn_channels: int,
        extra_levels: bool = True,
    ) -> None:
        super().__init__()
        n = len(body.channels)
        levels = [int(i) % n for i in levels]
        if not levels or sorted(set(levels)) != levels:
            raise ValueError(f"levels={list(levels)} must be increasing backbone level indices")
        self.body = body
        self.levels = levels
        extra = LastLevelP6P7(fpn_channels, fpn_channels) if extra_levels else None
        self.fpn = FeaturePyramidNetwork(
            [body.channels[i] for i in levels], fpn_channels, extra_blocks=extra
        )
        self.out_channels = fpn_channels
        top = body.strides[levels[-1]]
        self.strides = [body.strides[i] for i in levels] + ([top * 2, top * 4] if extra else [])

    def forward(self, x: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        feats = self.body(x)
        picked = OrderedDict((str(k), feats[i]) for k, i in enumerate(self.levels))
        return self.fpn(picked)  # level name -> (N, fpn_channels, H/stride, W/stride)


class LetterboxTransform(GeneralizedRCNNTransform):
    """torchvision's detector transform for already letterboxed, normalized inputs.

    With ``resize=False`` images keep their size; normalization is always left to the loader.
    Equal-size images that are multiples of ``size_divisible`` are stacked as they are (no
    padded copy), which keeps ``channels_last`` inputs in that format.
    """

    def __init__(self, min_size: int, max_size: int, resize: bool, size_divisible: int = 32):
        super().__init__(min_size, max_size, [0.0, 0.0, 0.0], [1.0, 1.0, 1.0], size_divisible)
        self.do_resize = resize

    def normalize(self, image: torch.Tensor) -> torch.Tensor:
        return image

    def resize(
        self, image: torch.Tensor, target: dict[str, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor] | None]:
        if self.do_resize:
            return super().resize(image, target)
        return image, target

    def batch_images(self, images: list[torch.Tensor], size_divisible: int = 32) -> torch.Tensor:
        first = images[0].shape
        if all(img.shape == first for img in images) and all(
            s % size_divisible == 0 for s in first[-2:]
        ):
            return torch.stack(images)  # (N, C, H, W)
        return super().batch_images(images, size_divisible)


class GroupNormFCOSHead(FCOSHead):
    """torchvision's FCOS head with ``head_groups`` GroupNorm groups (torchvision fixes 32).

    Example:
        >>> GroupNormFCOSHead(16, 3, num_convs=1, groups=8).classification_head.conv[1].num_groups
        8
    """

    def __init__(self, channels: int, num_classes: int, num_convs: int, groups: int) -> None:
        nn.Module.__init__(self)  # FCOSHead.__init__ would build GroupNorm(32) branches
        if channels % groups:
            raise ValueError(
                f"fpn_channels={channels} must be a multiple of head_groups={groups} "
                "(GroupNorm in the FCOS head)"
            )
        norm = partial(nn.GroupNorm, groups)
        self.box_coder = BoxLinearCoder(normalize_by_size=True)
        self.classification_head = FCOSClassificationHead(
            channels, 1, num_classes, num_convs=num_convs, norm_layer=norm
        )
        self.regression_head = FCOSRegressionHead(channels, 1, num_convs=num_convs, norm_layer=norm)


@register_model("fcos", "FCOS detector (anchor-free) with an FPN on a zoo/timm/tv backbone")
def build_fcos(
    num_classes: int = 80,
    in_channels: int = 3,
    backbone: str = "resnet20",
    backbone_kwargs: dict[str, Any] | None = None,
    stem_stride: int | None = None,
    levels: Sequence[int] | None = None,
    fpn_channels: int = 64,
    extra_levels: bool = True,
    head_convs: int = 4,
    head_groups: int = 16,
    min_size: int | None = None,
    max_size: int | None = None,
    score_thresh: float = 0.05,
    nms_thresh: float = 0.6,
    detections_per_img: int = 100,
    topk_candidates: int = 1000,
    center_sampling_radius: float = 1.5,
) -> FCOS:
    """FCOS on a backbone with an FPN (random weights, nothing downloaded).

    Args:
        num_classes: Object categories (no background class).
        in_channels: Image channels.
        backbone: Zoo CIFAR ResNet name, ``timm:NAME`` or ``tv:NAME`` (module docstring).
        backbone_kwargs: Extra backbone builder arguments (e.g. ``{"widths": [8, 16, 32]}``).
        stem_stride: Stem stride of a zoo CIFAR ResNet: 1, 2 or 4 (default 4).
        levels: Backbone levels the FPN takes (default: stride >= 8, the last three).
        fpn_channels: FPN and head width.
        extra_levels: Add P6 and P7 (strides 2x and 4x the coarsest level).
        head_convs: 3x3 conv + GroupNorm + ReLU blocks in each head branch (torchvision: 4).
        head_groups: GroupNorm groups in the head; divides ``fpn_channels``.
        min_size: With ``max_size``: torchvision resizing of the inputs; None: none (inputs are
            letterboxed by the loader).
        max_size: See ``min_size``.
        score_thresh: Detections below this score are dropped (0.05 for mAP).
        nms_thresh: IoU of per-class non-maximum suppression.
        detections_per_img: At most this many detections per image.
        topk_candidates: Candidates per level before NMS.
        center_sampling_radius: FCOS centre-sampling radius, in strides.

    Returns:
        The detector: in train mode ``model(images, targets)`` returns the loss dict
        (``classification``, ``bbox_regression``, ``bbox_ctrness``); in eval mode
        ``model(images)`` returns one ``{boxes, labels, scores}`` dict per image.

    Example:
        >>> m = build_fcos(num_classes=2, backbone="resnet8_tiny", fpn_channels=16, head_convs=1)
        >>> m.backbone.strides, m.head.classification_head.cls_logits.out_channels
        ([8, 16, 32, 64], 2)
    """
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes={num_classes!r} is invalid; expected a positive integer")
    if (min_size is None) != (max_size is None):
        raise ValueError("min_size and max_size go together: give both or neither")
    body = build_feature_backbone(
        backbone, in_channels, stem_stride=stem_stride, backbone_kwargs=backbone_kwargs
    )
    picked = list(levels) if levels is not None else default_levels(body.strides)
    neck = FPNBackbone(body, picked, fpn_channels, extra_levels)
    anchors = AnchorGenerator(tuple((s,) for s in neck.strides), ((1.0,),) * len(neck.strides))
    head = GroupNormFCOSHead(fpn_channels, num_classes, head_convs, head_groups)
    size = min_size if min_size is not None else 800
    model = FCOS(
        neck,
        num_classes,
        min_size=size,
        max_size=max_size if max_size is not None else size,
        anchor_generator=anchors,
        head=head,
        center_sampling_radius=center_sampling_radius,
        score_thresh=score_thresh,
        nms_thresh=nms_thresh,
        detections_per_img=detections_per_img,
        topk_candidates=topk_candidates,
    )
    model.transform = LetterboxTransform(size, model.transform.max_size, min_size is not None)
    return model
