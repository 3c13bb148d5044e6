"""Orthonormal 2-D real FFTs as (real, imaginary) pairs, with an exact DFT-matrix backend.

The Fourier mixers of :mod:`slimkit.models.fourier` never hold complex tensors between the two
transforms: :func:`rfft2` returns the spectrum's real and imaginary parts, :func:`irfft2` takes
them back. Two backends compute the same numbers:

- ``"fft"``: ``torch.fft.rfft2`` / ``irfft2`` (``norm="ortho"``, ``s=(H, W)``); the training and
  torch-inference path. The dynamo ONNX exporter maps it to ONNX's ``DFT`` op.
- ``"matmul"``: real matrix products with the DFT matrices of the fixed ``H`` and ``W`` (cosine and
  sine tables, built in float64 and cast). Exact up to float rounding, exportable by every ONNX
  exporter and opset; costs ``O(H·W·(H + W))`` per channel instead of ``O(H·W·log(H·W))``.

A module that calls these functions declares ``fft_backend`` (a string attribute);
:func:`fft_backend` switches every such module of a model, e.g. for export.

Example:
    >>> import torch
    >>> x = torch.randn(2, 3, 6, 5)
    >>> re, im = rfft2(x, "matmul")
    >>> ref = torch.fft.rfft2(x, norm="ortho")
    >>> bool(torch.allclose(re, ref.real, atol=1e-5)), bool(torch.allclose(im, ref.imag, atol=1e-5))
    (True, True)
    >>> bool(torch.allclose(irfft2(re, im, (6, 5), "matmul"), x, atol=1e-5))
    True
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

__all__ = ["BACKENDS", "fft_backend", "irfft2", "rfft2", "spectral_modules"]

BACKENDS = ("fft", "matmul")


def _check_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise ValueError(f"fft_backend: expected one of {', '.join(BACKENDS)}, got {backend!r}")
    return backend


def _tables(n: int, m: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``cos`` and ``sin`` of ``2π·j·k/n`` for ``j < n`` (rows) and ``k < m`` (columns)."""
    j = torch.arange(n, dtype=torch.float64).unsqueeze(1)
    k = torch.arange(m, dtype=torch.float64).unsqueeze(0)
    angle = (2.0 * math.pi / n) * torch.remainder(j * k, n)  # exact integer phase before scaling
    return angle.cos().to(like), angle.sin().to(like)


def rfft2(x: torch.Tensor, backend: str = "fft") -> tuple[torch.Tensor, torch.Tensor]:
    """``rfft2(x, norm="ortho")`` over the last two dims, as ``(real, imag)``.

    Args:
        x: real tensor ``(..., H, W)``.
        backend: ``"fft"`` or ``"matmul"`` (see the module docstring).

    Returns:
        Two real tensors ``(..., H, W // 2 + 1)``.
    """
    if _check_backend(backend) == "fft":
        spectrum = torch.fft.rfft2(x, norm="ortho")
        return spectrum.real, spectrum.imag
    h, w = x.shape[-2:]
    cos_w, sin_w = _tables(w, w // 2 + 1, x)  # (W, Wf)
    cos_h, sin_h = _tables(h, h, x)  # (H, H), symmetric
    scale = 1.0 / math.sqrt(h * w)
    row_re, row_im = x @ cos_w, -(x @ sin_w)  # transform along W: e^{-iθ} = cos θ - i sin θ
    re = (cos_h @ row_re + sin_h @ row_im) * scale  # then along H
    im = (cos_h @ row_im - sin_h @ row_re) * scale
    return re, im


def irfft2(
    re: torch.Tensor, im: torch.Tensor, size: tuple[int, int], backend: str = "fft"
) -> torch.Tensor:
    """``irfft2(re + i·im, s=size, norm="ortho")`` over the last two dims.

    Args:
        re: real part ``(..., H, W // 2 + 1)``.
        im: imaginary part, same shape.
        size: the output's ``(H, W)`` (needed for odd ``W``).
        backend: ``"fft"`` or ``"matmul"``.

    Returns:
        A real tensor ``(..., H, W)``.
    """
    h, w = size
    if _check_backend(backend) == "fft":
        return torch.fft.irfft2(torch.complex(re, im), s=(h, w), norm="ortho")
    cos_h, sin_h = _tables(h, h, re)
    col_re = cos_h @ re - sin_h @ im  # inverse along H: e^{+iθ} = cos θ + i sin θ
    col_im = cos_h @ im + sin_h @ re
    cos_w, sin_w = _tables_c2r(w, re)
    return (col_re @ cos_w - col_im @ sin_w) / math.sqrt(h * w)


def _tables_c2r(w: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Half-spectrum synthesis tables ``(W // 2 + 1, W)``: bins other than DC and Nyquist count twice."""
    cos, sin = _tables(w, w // 2 + 1, like)
    weight = torch.full((w // 2 + 1, 1), 2.0, dtype=like.dtype, device=like.device)
    weight[0] = 1.0
    if w % 2 == 0:
        weight[-1] = 1.0
    return cos.T * weight, sin.T * weight


def spectral_modules(model: nn.Module) -> list[nn.Module]:
    """The submodules of ``model`` (itself included) that declare an ``fft_backend``."""
    return [m for m in model.modules() if isinstance(getattr(m, "fft_backend", None), str)]


@contextmanager
def fft_backend(model: nn.Module, backend: str) -> Iterator[int]:
    """Switch every spectral module of ``model`` to ``backend`` for the ``with`` block.

    Yields:
        The number of modules switched (0 when the model has no FFT).

    Example:
        >>> from slimkit.models.fourier import AFFMixer
        >>> mixer = AFFMixer(16)
        >>> with fft_backend(mixer, "matmul") as n:
        ...     n, mixer.fft_backend
        (1, 'matmul')
        >>> mixer.fft_backend
        'fft'
    """
    _check_backend(backend)
    modules = spectral_modules(model)
    before = [m.fft_backend for m in modules]
    try:
        for m in modules:
            m.fft_backend = backend
        yield len(modules)
    finally:
        for m, b in zip(modules, before, strict=True):
            m.fft_backend = b
