"""The AFF token mixer (AFFNet, Huang et al., ICCV 2023; digest ``afidaf_affnet.md`` §2.1, [code]).

``x -> x + irfft2(X ⊙ M(X))`` with ``X = rfft2(x)`` (``norm="ortho"``) and ``M`` a block-diagonal
complex 2-layer MLP applied at every frequency bin across channels (``groups`` = 8 blocks in the
official code), split-complex activation after the first layer, ``softshrink(0.01)`` on the mask.
The whole mixer runs in float32 with autocast off; the output is cast back to the input dtype.

Parameters: ``w1, w2 ∈ R^{2×K×d×d}`` and ``b1, b2 ∈ R^{2×K×d}`` (real/imag pairs), ``C²/2 + 4C``
in all for ``K = 8`` (digest §10.1, test 6). Initialised as ``0.02·randn``. After channel pruning
(:mod:`slimkit.surgery.fourier`) the hidden width of the mask MLP stays ``d`` while the channels
per block shrink: ``w1`` is ``2×K×d'×d``, ``w2`` ``2×K×d×d'``.

Example:
    >>> import torch
    >>> mixer = AFFMixer(16)
    >>> sum(p.numel() for p in mixer.parameters()) == 16 * 16 // 2 + 4 * 16
    True
    >>> mixer(torch.randn(2, 16, 8, 7)).shape
    torch.Size([2, 16, 8, 7])
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from slimkit.models.fourier.spectral import irfft2, rfft2

__all__ = ["AFFMixer", "check_groups"]


def check_groups(channels: int, groups: int, where: str) -> None:
    """One-line error when ``channels`` cannot be split into ``groups`` equal mask blocks."""
    if groups < 1 or channels % groups:
        raise ValueError(
            f"{where}: width {channels} is not divisible by the Fourier mask's {groups} groups; "
            f"use a multiple of {groups}"
        )


def _activation(name: str) -> nn.Module:
    acts = {"silu": nn.SiLU, "relu": nn.ReLU, "gelu": nn.GELU}
    if name not in acts:
        raise ValueError(f"activation: expected one of {', '.join(acts)}, got {name!r}")
    return acts[name]()


class AFFMixer(nn.Module):
    """Adaptive frequency filter: global, input-dependent circular convolution via the FFT.

    Args:
        channels: ``C``; must be divisible by ``groups``.
        groups: number of diagonal blocks ``K`` of the complex mask MLP (official: 8).
        activation: split-complex nonlinearity after the first layer (``silu`` as in the released
            config; the code's fallback is ``relu``).
        sparsity_threshold: softshrink ``λ`` on the mask's real and imaginary parts (0.01).
        residual: return ``x + filter(x)`` (official) or only the filtered term.
        name: layer name used in error messages.

    Attributes:
        fft_backend: ``"fft"`` (torch.fft) or ``"matmul"`` (exact DFT matrices, for ONNX
            exporters without ``DFT``); see :mod:`slimkit.models.fourier.spectral`.
    """

    def __init__(
        self,
        channels: int,
        groups: int = 8,
        activation: str = "silu",
        sparsity_threshold: float = 0.01,
        residual: bool = True,
        name: str = "AFFMixer",
    ) -> None:
        super().__init__()
        check_groups(channels, groups, name)
        d = channels // groups
        self.channels, self.groups, self.residual = channels, groups, residual
        self.sparsity_threshold = float(sparsity_threshold)
        self.act = _activation(activation)
        self.w1 = nn.Parameter(0.02 * torch.randn(2, groups, d, d))
        self.b1 = nn.Parameter(0.02 * torch.randn(2, groups, d))
        self.w2 = nn.Parameter(0.02 * torch.randn(2, groups, d, d))
        self.b2 = nn.Parameter(0.02 * torch.randn(2, groups, d))
        self.fft_backend = "fft"

    @staticmethod
    def _complex_linear(
        re: torch.Tensor, im: torch.Tensor, w: torch.Tensor, b: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Block-diagonal complex linear map over the channel axis of ``(B, K, d, H, Wf)`` pairs."""

        def mm(t: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
            return torch.einsum("bkihw,kio->bkohw", t, weight)

        bias_re, bias_im = b[0][None, :, :, None, None], b[1][None, :, :, None, None]
        return (
            mm(re, w[0]) - mm(im, w[1]) + bias_re,
            mm(im, w[0]) + mm(re, w[1]) + bias_im,
        )

    def delta(self, x: torch.Tensor) -> torch.Tensor:
        """The filtered term ``irfft2(X ⊙ M(X))`` alone (float32, input shape)."""
        b, c, h, w = x.shape
        if c != self.channels:
            raise ValueError(f"AFFMixer: expected {self.channels} channels, got {c}")
        re, im = rfft2(x.float(), self.fft_backend)
        wf = re.shape[-1]
        zr = re.reshape(b, self.groups, c // self.groups, h, wf)
        zi = im.reshape(b, self.groups, c // self.groups, h, wf)
        hr, hi = self._complex_linear(zr, zi, self.w1, self.b1)
        hr, hi = self.act(hr), self.act(hi)
        mr, mi = self._complex_linear(hr, hi, self.w2, self.b2)
        lam = self.sparsity_threshold
        mr = F.softshrink(mr, lam).reshape(b, c, h, wf)
        mi = F.softshrink(mi, lam).reshape(b, c, h, wf)
        return irfft2(re * mr - im * mi, re * mi + im * mr, (h, w), self.fft_backend)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        device = x.device.type
        if torch.is_autocast_enabled(device):
            with torch.autocast(device_type=device, enabled=False):
                y = self.delta(x)
        else:
            y = self.delta(x)
        y = y.to(x.dtype)
        return x + y if self.residual else y

    def extra_repr(self) -> str:
        return f"{self.channels}, groups={self.groups}, backend={self.fft_backend!r}"
