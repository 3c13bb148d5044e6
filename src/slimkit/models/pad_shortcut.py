"""Parameter-free "option A" shortcut of He et al. (2016) for CIFAR ResNets."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["PadShortcut"]


class PadShortcut(nn.Module):
    """Subsample spatially, then zero-pad channels on both sides (original channels in the middle).

    For ``in_channels=16, out_channels=32, stride=2`` the output is ``x[:, :, ::2, ::2]`` with 8
    zero channels before and 8 after. With an odd difference the extra zero channel goes last.

    Args:
        in_channels: Channels of the input.
        out_channels: Channels of the output (``>= in_channels``).
        stride: Spatial subsampling step.

    Example:
        >>> import torch
        >>> PadShortcut(16, 32, stride=2)(torch.ones(1, 16, 8, 8)).shape
        torch.Size([1, 32, 4, 4])
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 2) -> None:
        super().__init__()
        if out_channels < in_channels:
            raise ValueError(
                f"PadShortcut out_channels={out_channels} is smaller than in_channels="
                f"{in_channels}; option A can only add channels"
            )
        if stride < 1:
            raise ValueError(f"PadShortcut stride={stride} is invalid; use an integer >= 1")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.stride = stride
        self.pad_before = (out_channels - in_channels) // 2
        self.pad_after = out_channels - in_channels - self.pad_before

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            x = x[:, :, :: self.stride, :: self.stride]  # (N, C, ceil(H/s), ceil(W/s))
        # F.pad pads from the last dim backwards: (W_left, W_right, H_top, H_bottom, C_before, C_after)
        return F.pad(x, (0, 0, 0, 0, self.pad_before, self.pad_after))

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, stride={self.stride}"
