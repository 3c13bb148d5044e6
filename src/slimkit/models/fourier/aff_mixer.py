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
        """Block-diagonal complex linear map over the channel axis, as grouped 1x1 convolutions.

        ``re`` and ``im`` are ``(B, K·d_in, H, Wf)``; block ``k`` maps ``(r, i)`` to
        ``(r·W0 - i·W1 + b0, i·W0 + r·W1 + b1)``. One grouped convolution per input part with
        the stacked weights ``[W0ᵀ; W1ᵀ]`` per block gives all four products (the same numbers
        as the official per-bin einsums; ONNX Runtime runs the two grouped Convs several times
        faster than the einsums' MatMuls, ``benchmarks/results/fourier_mixer_ort.md``).
        """
        groups, d_out = w.shape[1], w.shape[3]
        stacked = w.to(re.dtype).permute(1, 0, 3, 2).reshape(groups * 2 * d_out, -1, 1, 1)
        shape = (re.shape[0], groups, 2, d_out, *re.shape[2:])
        from_re = F.conv2d(re, stacked, groups=groups).reshape(shape)
        from_im = F.conv2d(im, stacked, groups=groups).reshape(shape)
        bias = b.to(re.dtype)
        out_re = from_re[:, :, 0] - from_im[:, :, 1] + bias[0][None, :, :, None, None]
        out_im = from_im[:, :, 0] + from_re[:, :, 1] + bias[1][None, :, :, None, None]
        flat = (re.shape[0], groups * d_out, *re.shape[2:])
        return out_re.reshape(flat), out_im.reshape(flat)

    def delta(self, x: torch.Tensor) -> torch.Tensor:
        """The filtered term ``irfft2(X ⊙ M(X))`` alone (at least float32, input shape)."""
        b, c, h, w = x.shape
        if c != self.channels:
            raise ValueError(f"AFFMixer: expected {self.channels} channels, got {c}")
        re, im = rfft2(x.to(torch.promote_types(x.dtype, torch.float32)), self.fft_backend)
        hr, hi = self._complex_linear(re, im, self.w1, self.b1)
        mr, mi = self._complex_linear(self.act(hr), self.act(hi), self.w2, self.b2)
        lam = self.sparsity_threshold
        mr, mi = F.softshrink(mr, lam), F.softshrink(mi, lam)
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
