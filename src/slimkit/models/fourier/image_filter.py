"""The image-domain adaptive filter of AFIDAF (digest ``afidaf_affnet.md`` §4.2, §4.6).

**Reconstructed** (no official code): a VAN-style decomposed large-kernel convolution — depthwise
``kernel_size`` conv, depthwise dilated ``dilated_kernel_size`` conv, channel-group shuffle, grouped
1×1 conv — whose output gates its input element-wise (``u ⊙ attn``). Every unknown of the paper is
an argument: kernel sizes, dilation, the 1×1's groups, shuffle on/off, gate on/off. Defaults: VAN's
5×5 + 7×7 dilation 3 (VAN's nominal 21×21 receptive field; exactly 23×23) and ``groups=1``, which lands AFIDAF-T and AFIDAF on
the paper's parameter budgets (about 3.0 M and 6.3 M against 3.0 M and 6.5 M, digest §4.4).

``delta(u)`` is the filter term; ``forward(u)`` adds the residual: ``u + delta(u)``.

Example:
    >>> import torch
    >>> filt = ImageDomainFilter(8, groups=2)
    >>> filt(torch.randn(1, 8, 9, 9)).shape
    torch.Size([1, 8, 9, 9])
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ImageDomainFilter", "channel_shuffle"]


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """ShuffleNet channel shuffle: view channels as ``(groups, C / groups)``, swap, flatten."""
    if groups == 1:
        return x
    b, c, h, w = x.shape
    return x.reshape(b, groups, c // groups, h, w).transpose(1, 2).reshape(b, c, h, w)


class ImageDomainFilter(nn.Module):
    """Depthwise + dilated depthwise + shuffled grouped pointwise conv, gating its input.

    Args:
        channels: input and output width.
        kernel_size: depthwise kernel (5 in VAN).
        dilated_kernel_size: kernel of the dilated depthwise conv (7 in VAN).
        dilation: its dilation (3 in VAN).
        groups: groups of the 1×1 conv; ``channels`` must be divisible by it.
        shuffle: channel shuffle before the grouped 1×1 (only matters for ``groups > 1``).
        gate: multiply the input by the filter output (``u ⊙ attn``, the "adaptive" part); off
            returns ``attn`` as the filter term.
        residual: ``forward`` returns ``u + delta(u)`` (on) or ``delta(u)``.
    """

    def __init__(
        self,
        channels: int,
        kernel_size: int = 5,
        dilated_kernel_size: int = 7,
        dilation: int = 3,
        groups: int = 1,
        shuffle: bool = True,
        gate: bool = True,
        residual: bool = True,
    ) -> None:
        super().__init__()
        for name, k in (("kernel_size", kernel_size), ("dilated_kernel_size", dilated_kernel_size)):
            if k < 1 or k % 2 == 0:
                raise ValueError(f"{name}: expected an odd kernel size >= 1, got {k}")
        if groups < 1 or channels % groups:
            raise ValueError(
                f"groups: width {channels} of the image-domain filter is not divisible by {groups}"
            )
        self.groups, self.shuffle, self.gate, self.residual = groups, shuffle, gate, residual
        self.spatial = nn.Conv2d(
            channels, channels, kernel_size, padding=kernel_size // 2, groups=channels
        )
        self.dilated = nn.Conv2d(
            channels, channels, dilated_kernel_size, padding=(dilated_kernel_size // 2) * dilation,
            dilation=dilation, groups=channels,
        )  # fmt: skip
        self.pointwise = nn.Conv2d(channels, channels, 1, groups=groups)

    def delta(self, u: torch.Tensor) -> torch.Tensor:
        """The filter term: ``u ⊙ attn`` (gate on) or ``attn``."""
        attn = self.dilated(self.spatial(u))
        if self.shuffle:
            attn = channel_shuffle(attn, self.groups)
        attn = self.pointwise(attn)
        return u * attn if self.gate else attn

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return u + self.delta(u) if self.residual else self.delta(u)
