"""Matrix views of conv and linear weights for low-rank methods (TRP digest §1.2).

A conv kernel ``W`` of shape ``(N, C, kh, kw)`` (N output, C input channels) is viewed as a matrix
in one of two ways, and every rank-r approximation of that matrix folds back into two thin layers:

- ``channel`` (NC, Zhang et al. 2016; the TRP code's ``--type NC``): ``M = W.reshape(N, C·kh·kw)``,
  one row per output filter; factors give a kh×kw conv C→r followed by a 1×1 conv r→N.
- ``spatial`` (VH, Jaderberg et al. 2014; ``--type VH``): ``W`` permuted to ``(C, kh, N, kw)`` and
  reshaped to ``M`` of shape ``(C·kh, N·kw)``; factors give a vertical kh×1 conv C→r followed by a
  horizontal 1×kw conv r→N.

A linear weight ``(out, in)`` is its own matrix under both schemes. The views are exact: ``from_matrix
(to_matrix(w, s), w.shape, s) == w`` bit for bit.

Example:
    >>> import torch
    >>> w = torch.randn(8, 4, 3, 3)
    >>> to_matrix(w, "channel").shape, to_matrix(w, "spatial").shape
    (torch.Size([8, 36]), torch.Size([12, 24]))
    >>> torch.equal(from_matrix(to_matrix(w, "spatial"), w.shape, "spatial"), w)
    True
"""

from __future__ import annotations

from typing import Literal

import torch

Scheme = Literal["channel", "spatial"]
SCHEMES: tuple[str, ...] = ("channel", "spatial")

__all__ = ["SCHEMES", "Scheme", "check_scheme", "from_matrix", "matrix_shape", "to_matrix"]


def check_scheme(scheme: str, field: str = "scheme") -> Scheme:
    """Return ``scheme`` if it is ``channel`` or ``spatial``; else a one-line ``ValueError``.

    Example:
        >>> check_scheme("spatial")
        'spatial'
    """
    if scheme not in SCHEMES:
        raise ValueError(f"{field}: unknown scheme {scheme!r}; allowed: channel (NC), spatial (VH)")
    return scheme  # type: ignore[return-value]


def matrix_shape(shape: tuple[int, ...] | torch.Size, scheme: Scheme) -> tuple[int, int]:
    """Shape of the matrix view of a weight of ``shape`` (2-D linear or 4-D conv).

    Example:
        >>> matrix_shape((16, 16, 3, 3), "channel"), matrix_shape((16, 16, 3, 3), "spatial")
        ((16, 144), (48, 48))
    """
    if len(shape) == 2:
        return int(shape[0]), int(shape[1])
    n, c, kh, kw = (int(s) for s in shape)
    return (n, c * kh * kw) if scheme == "channel" else (c * kh, n * kw)


def to_matrix(weight: torch.Tensor, scheme: Scheme) -> torch.Tensor:
    """The matrix view of a conv ``(N, C, kh, kw)`` or linear ``(out, in)`` weight.

    Args:
        weight: the weight tensor (any memory format).
        scheme: ``channel`` (N × C·kh·kw) or ``spatial`` (C·kh × N·kw).

    Returns:
        A new contiguous 2-D tensor.

    Example:
        >>> import torch
        >>> to_matrix(torch.randn(5, 3), "channel").shape
        torch.Size([5, 3])
    """
    if weight.dim() == 2:
        return weight.contiguous()
    n, c, kh, kw = weight.shape
    if scheme == "channel":
        return weight.reshape(n, c * kh * kw).contiguous()  # (N, C·kh·kw)
    # (N, C, kh, kw) -> (C, kh, N, kw) -> (C·kh, N·kw)
    return weight.permute(1, 2, 0, 3).reshape(c * kh, n * kw).contiguous()


def from_matrix(
    matrix: torch.Tensor, shape: tuple[int, ...] | torch.Size, scheme: Scheme
) -> torch.Tensor:
    """Inverse of :func:`to_matrix`: fold a matrix view back into a weight of ``shape``.

    Args:
        matrix: a matrix of :func:`matrix_shape` ``(shape, scheme)`` (a leading batch dimension
            is allowed: ``(B, rows, cols)`` gives ``(B, *shape)``).
        shape: the weight's shape.
        scheme: the view that produced ``matrix``.

    Returns:
        A contiguous tensor of ``shape`` (or ``(B, *shape)``).

    Example:
        >>> import torch
        >>> w = torch.randn(4, 2, 3, 1)
        >>> torch.equal(from_matrix(to_matrix(w, "channel"), w.shape, "channel"), w)
        True
    """
    lead = tuple(matrix.shape[:-2])
    if len(shape) == 2:
        return matrix.reshape(*lead, *shape).contiguous()
    n, c, kh, kw = (int(s) for s in shape)
    if scheme == "channel":
        return matrix.reshape(*lead, n, c, kh, kw).contiguous()
    # (C·kh, N·kw) -> (C, kh, N, kw) -> (N, C, kh, kw)
    b = len(lead)
    t = matrix.reshape(*lead, c, kh, n, kw)
    order = (*range(b), b + 2, b + 0, b + 1, b + 3)
    return t.permute(*order).contiguous()
