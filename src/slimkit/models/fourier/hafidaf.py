"""HAFIDAF: a Swin-shaped hierarchy whose attention is replaced by Fourier/image filters.

Digest ``afidaf_affnet.md`` §7 [secondary]: the Swin hierarchy (patch embedding, patch merging,
norms, shortcuts) is kept; the window-attention blocks become AFIDAF blocks (image-domain filter
then Fourier mask) in stages 1–2 and channel-wise Fourier-mask blocks (the AFF mixer) in stages
3–4, with group-shuffled MLPs. Everything inside a block is **reconstructed**: the block is
``x + mix(LN(x))`` then ``x + MLP(LN(x))`` as in Swin, the MLP is two grouped 1×1 convs
(``mlp_groups``, with a channel shuffle between them) and GELU, LayerNorm is per pixel over channels
(timm's ``LayerNorm2d``), and patch merging is space-to-depth + LayerNorm + a 1×1 to ``2C``
(Swin's merging, parameter for parameter). ``image_stages`` says how many leading stages use the
image filter (2 in the paper's description).

:func:`hafidaf_mini` (widths 48/96/192/384, depths 2/2/2/2, 32×32 inputs, patch 2) sits next to
:func:`slimkit.models.vit.swin_mini`, timm's ``SwinTransformer`` of the same shape (window 4, heads 3/6/12/24).

Example:
    >>> import torch
    >>> net = hafidaf_mini(num_classes=10)
    >>> net(torch.randn(2, 3, 32, 32)).shape
    torch.Size([2, 10])
"""

from __future__ import annotations

from typing import Any

import torch
from timm.layers import LayerNorm2d
from torch import nn
from torch.nn import functional as F

from slimkit.models.fourier.aff_mixer import AFFMixer
from slimkit.models.fourier.image_filter import ImageDomainFilter, channel_shuffle

__all__ = ["HAFIDAF", "hafidaf_mini"]


class ShuffledMLP(nn.Module):
    """``1×1 (C→rC, groups g) → GELU → shuffle → 1×1 (rC→C, groups g)``."""

    def __init__(self, channels: int, ratio: float = 4.0, groups: int = 2) -> None:
        super().__init__()
        hidden = int(channels * ratio)
        if channels % groups or hidden % groups:
            raise ValueError(f"mlp_groups: width {channels} is not divisible by {groups}")
        self.groups = groups
        self.fc1 = nn.Conv2d(channels, hidden, 1, groups=groups)
        self.act = nn.GELU()
        self.fc2 = nn.Conv2d(hidden, channels, 1, groups=groups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(channel_shuffle(self.act(self.fc1(x)), self.groups))


class HAFIDAFBlock(nn.Module):
    """``x + mix(LN(x))``, ``x + MLP(LN(x))``; ``mix`` = image filter (optional) → Fourier mask."""

    def __init__(
        self, channels: int, image_filter: bool, mlp_ratio: float, mlp_groups: int,
        mask_groups: int, filter_kwargs: dict[str, Any] | None, name: str,
    ) -> None:  # fmt: skip
        super().__init__()
        self.norm1 = LayerNorm2d(channels)
        self.image_filter = (
            ImageDomainFilter(channels, **(filter_kwargs or {})) if image_filter else None
        )
        self.mixer = AFFMixer(channels, groups=mask_groups, name=f"{name}.mixer")
        self.norm2 = LayerNorm2d(channels)
        self.mlp = ShuffledMLP(channels, mlp_ratio, mlp_groups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u = self.norm1(x)
        if self.image_filter is not None:
            u = self.image_filter(u)
        x = x + self.mixer(u)
        return x + self.mlp(self.norm2(x))


class PatchMerging(nn.Module):
    """Swin patch merging in NCHW: 2×2 space-to-depth, LayerNorm(4C), 1×1 to 2C without bias.

    An odd height or width is zero-padded at the bottom/right first, as timm's Swin does."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.unshuffle = nn.PixelUnshuffle(2)
        self.norm = LayerNorm2d(4 * channels)
        self.reduction = nn.Conv2d(4 * channels, 2 * channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        if h % 2 or w % 2:
            x = F.pad(x, (0, w % 2, 0, h % 2))
        return self.reduction(self.norm(self.unshuffle(x)))


class HAFIDAF(nn.Module):
    """Hierarchical AFIDAF classifier (see the module docstring).

    Args:
        num_classes: classifier outputs.
        in_channels: image channels.
        embed_dim: stage-1 width; stage ``i`` has ``embed_dim · 2^i``.
        depths: blocks per stage.
        patch_size: patch-embedding stride.
        image_stages: leading stages with the image-domain filter.
        mlp_ratio: MLP hidden ratio (4 as in Swin).
        mlp_groups: groups of the MLP's 1×1 convs.
        mask_groups: diagonal blocks of the Fourier mask.
        filter_kwargs: :class:`ImageDomainFilter` arguments.
    """

    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 3,
        embed_dim: int = 48,
        depths: tuple[int, ...] = (2, 2, 2, 2),
        patch_size: int = 2,
        image_stages: int = 2,
        mlp_ratio: float = 4.0,
        mlp_groups: int = 2,
        mask_groups: int = 8,
        filter_kwargs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.patch_embed = nn.Sequential(
            nn.Conv2d(in_channels, embed_dim, patch_size, stride=patch_size), LayerNorm2d(embed_dim)
        )
        stages: list[nn.Module] = []
        width = embed_dim
        for i, depth in enumerate(depths):
            blocks: list[nn.Module] = [PatchMerging(width // 2)] if i else []
            blocks += [
                HAFIDAFBlock(
                    width,
                    i < image_stages,
                    mlp_ratio,
                    mlp_groups,
                    mask_groups,
                    filter_kwargs,
                    f"stages.{i}.{j + bool(i)}",
                )  # fmt: skip
                for j in range(depth)
            ]
            stages.append(nn.Sequential(*blocks))
            width *= 2
        self.stages = nn.Sequential(*stages)
        self.num_features = width // 2
        self.norm = LayerNorm2d(self.num_features)
        self.head = nn.Linear(self.num_features, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(self.stages(self.patch_embed(x)))
        return self.head(x.mean(dim=(2, 3)))


def hafidaf_mini(num_classes: int = 10, in_channels: int = 3, **kwargs: Any) -> HAFIDAF:
    """HAFIDAF at the mini shape: widths 48/96/192/384, depths 2/2/2/2, 32×32 inputs."""
    return HAFIDAF(num_classes, in_channels, **kwargs)
