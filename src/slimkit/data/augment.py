"""Batched augmentation on uint8 image tensors: random crop with zero padding and horizontal flip.

The settings are :class:`~slimkit.data.config.Augment` (also the recipe's ``data.augment``);
:func:`crop_flip` applies them to a whole batch.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from slimkit.data.config import Augment

__all__ = ["Augment", "crop_flip", "normalize"]


def crop_flip(
    x: torch.Tensor,
    offsets: torch.Tensor | None,
    flips: torch.Tensor | None,
    padding: int,
) -> torch.Tensor:
    """Crop and flip a whole uint8 batch in one gather, without a Python loop per sample.

    Sample ``i`` becomes ``pad(x[i])[:, oy:oy+H, ox:ox+W]`` (zero padding of ``padding`` on each
    side; ``(oy, ox) = offsets[i]`` in ``0..2*padding``), then mirrored along W when ``flips[i]``.

    Args:
        x: ``(B, C, H, W)`` images (any dtype).
        offsets: ``(B, 2)`` integer crop offsets ``(oy, ox)``, or None for no shift.
        flips: ``(B,)`` bool flip decisions, or None for no flip.
        padding: Zero padding per side; offsets must lie in ``0..2*padding``.

    Returns:
        ``(B, C, H, W)`` tensor of x's dtype, stored channels-last (NHWC strides).

    Example:
        >>> import torch
        >>> x = torch.arange(4, dtype=torch.uint8).view(1, 1, 2, 2)
        >>> crop_flip(x, torch.tensor([[1, 2]]), None, padding=1)[0, 0].tolist()
        [[1, 0], [3, 0]]
        >>> crop_flip(x, None, torch.tensor([True]), padding=0)[0, 0].tolist()
        [[1, 0], [3, 2]]
    """
    b, _, h, w = x.shape
    dev = x.device
    if padding > 0:
        x = F.pad(x, (padding, padding, padding, padding))  # (B, C, H+2p, W+2p)
    rows = torch.arange(h, device=dev).expand(b, h)  # (B, H)
    cols = torch.arange(w, device=dev).expand(b, w)  # (B, W)
    if flips is not None:
        cols = torch.where(flips.view(b, 1), (w - 1) - cols, cols)  # mirrored column order
    if offsets is not None:
        rows = rows + offsets[:, 0:1]
        cols = cols + offsets[:, 1:2]
    nhwc = x.permute(0, 2, 3, 1)  # (B, H+2p, W+2p, C) view
    batch = torch.arange(b, device=dev).view(b, 1, 1)
    out = nhwc[batch, rows.view(b, h, 1), cols.view(b, 1, w)]  # (B, H, W, C) contiguous
    return out.permute(0, 3, 1, 2)  # (B, C, H, W) with channels-last strides


def normalize(
    x: torch.Tensor,
    mean: Sequence[float],
    std: Sequence[float],
    *,
    channels_last: bool = True,
) -> torch.Tensor:
    """Convert uint8 images to float32 ``(x / 255 - mean) / std`` per channel.

    Args:
        x: ``(B, C, H, W)`` uint8 images.
        mean: Per-channel mean of ``x / 255`` (length C, or 1 to broadcast).
        std: Per-channel standard deviation of ``x / 255``.
        channels_last: Return ``torch.channels_last`` memory format (else plain contiguous).

    Example:
        >>> import torch
        >>> x = torch.full((1, 1, 2, 2), 255, dtype=torch.uint8)
        >>> normalize(x, [0.5], [0.25])[0, 0, 0, 0].item()
        2.0
    """
    c = x.shape[1]
    m = torch.as_tensor(mean, dtype=torch.float64).reshape(-1)
    s = torch.as_tensor(std, dtype=torch.float64).reshape(-1)
    if m.numel() not in (1, c) or s.numel() not in (1, c):
        raise ValueError(f"mean/std: expected 1 or {c} values, got {m.numel()} and {s.numel()}")
    if bool((s <= 0).any()):
        raise ValueError(f"std: every value must be > 0, got {s.tolist()}")
    scale = (1.0 / (255.0 * s)).to(torch.float32).view(1, -1, 1, 1).to(x.device)
    shift = (m / s).to(torch.float32).view(1, -1, 1, 1).to(x.device)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    out = x.contiguous(memory_format=fmt).to(torch.float32)
    return out.mul_(scale).sub_(shift)
